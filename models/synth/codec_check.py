"""Does a 1-pixel micro-expression survive video compression? ``python -m models.synth.codec_check``

Renders a pure AU12 event whose mouth corners move exactly 1 px on the runtime's 128-px aligned crop,
writes it with each codec of ``models.synth.video``, decodes it with OpenCV, and measures the onset→apex
optical flow (the runtime's TV-L1) at the mouth corners and in a still region (the forehead). Prints,
per canvas and codec: the recovered motion as a fraction of the truth, the still region's spurious
motion, and the file size per second.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from app.align import AlignmentTemplate, apply_affine, similarity_from_eyes
from app.flow import compute_flow
from models.synth.canvas import CLIP_LAYOUT, VIDEO_LAYOUT, CanvasLayout, face_canvas
from models.synth.events import ExpressionEvent
from models.synth.render import NuisanceOptions, render_sequence
from models.synth.video import CODECS, write_video

FPS = 30
CORNERS = (61, 291)
FOREHEAD = 151
TEMPLATE = AlignmentTemplate()


def _crop_motion(truth_landmarks: np.ndarray, onset: int, apex: int) -> tuple[np.ndarray, np.ndarray]:
    matrix = similarity_from_eyes(truth_landmarks[onset], TEMPLATE)
    before = apply_affine(matrix, truth_landmarks[onset][list(CORNERS)])
    after = apply_affine(matrix, truth_landmarks[apex][list(CORNERS)])
    return matrix, after - before


def _flow_at(frames, matrix, onset, apex, points) -> np.ndarray:
    crops = [cv2.cvtColor(cv2.warpAffine(frames[i], matrix, (TEMPLATE.size,) * 2, flags=cv2.INTER_LINEAR),
                          cv2.COLOR_BGR2GRAY) for i in (onset, apex)]
    flow = compute_flow(crops[0], crops[1], "tvl1")
    out = []
    for x, y in points:
        x, y = int(round(x)), int(round(y))
        out.append(flow[y - 3:y + 4, x - 3:x + 4].reshape(-1, 2).mean(0))
    return np.array(out)


def measure(layout: CanvasLayout, noise_sigma: float) -> list[tuple[str, float, float, float]]:
    face = face_canvas("astronaut", layout)
    probe = ExpressionEvent({"12": 1.0}, 0.3, 0.5, 0.8)
    _, truth = render_sequence(face, [probe], FPS, 1.0)
    onset, apex = truth.intervals[0].onset, truth.intervals[0].apex
    _, motion = _crop_motion(truth.landmarks, onset, apex)
    scale = 1.0 / np.linalg.norm(motion, axis=1).mean()  # intensity giving 1 px on the crop
    frames, truth = render_sequence(
        face, [ExpressionEvent({"12": scale}, 0.3, 0.5, 0.8)], FPS, 1.0, nuisances=NuisanceOptions(noise_sigma=noise_sigma)
    )
    matrix, motion = _crop_motion(truth.landmarks, onset, apex)
    corners = apply_affine(matrix, truth.landmarks[onset][list(CORNERS)])
    still = apply_affine(matrix, truth.landmarks[onset][[FOREHEAD]])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in ("raw",) + tuple(CODECS):
            decoded, size = frames, 0.0
            if suffix != "raw":
                path = Path(tmp) / f"clip{suffix}"
                write_video(frames, path, FPS)
                cap = cv2.VideoCapture(str(path))
                decoded = [cap.read()[1] for _ in frames]
                size = path.stat().st_size / (len(frames) / FPS) / 1e6
            flow = _flow_at(decoded, matrix, onset, apex, np.vstack([corners, still]))
            along = (flow[:2] * motion).sum(1) / (motion**2).sum(1)  # projection on the true motion
            results.append((suffix, float(along.mean()), float(np.linalg.norm(flow[2])), size))
    return results


def main() -> None:
    for name, layout in (("clip 256x288", CLIP_LAYOUT), ("video 640x480", VIDEO_LAYOUT)):
        for noise in (0.0, 1.5):
            print(f"{name}, sensor noise {noise}: codec, recovered fraction of 1 px, still-region motion px, MB/s")
            for suffix, fraction, still, size in measure(layout, noise):
                print(f"  {suffix:5s} {fraction:6.2f} {still:6.3f} {size:7.3f}")


if __name__ == "__main__":
    main()
