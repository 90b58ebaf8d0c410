"""Motion that is not an expression: speech, head turns and nods, and a hand crossing the face.

A spotter and a classifier meet these far more often than micro-expressions, so the benchmark renders
them as distractors in long videos and as the ``none`` class of the clips. Speech and head movements are
replayed from trajectories measured on a real face (``models.synth.real_motion``): the inner-lip gap
drives lips part + jaw drop (AU25, AU26) and the brows (AU1+2); the head's translation, roll and scale
move the whole face. Turns and nods are therefore the real head's image-plane motion; no out-of-plane
rotation is rendered. The hand is a skin-coloured palm with four fingers, soft-edged, crossing the face
from one side to the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.synth.aus import MICRO_UNIT, FaceFrame
from models.synth.real_motion import CHANNELS, MotionTrack, load_tracks

KINDS = ("speech", "head", "hand")
FADE_S = 0.12  # distractors fade in and out over this long, so none starts with a jump
HEAD_CHANNELS = ("tx", "ty", "roll", "log_scale")


@dataclass(frozen=True)
class Distractor:
    """A non-expression between ``onset_s`` and ``offset_s``. ``start_s`` picks where the real trajectory
    is read from; ``strength`` scales it; ``side`` is where a hand enters (-1 left, 1 right) and
    ``height`` the level it crosses at, in eye distances below the eyes."""

    kind: str
    onset_s: float
    offset_s: float
    strength: float = 1.0
    start_s: float = 0.0
    side: int = 1
    height: float = 0.8

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown distractor {self.kind!r}; choose from {', '.join(KINDS)}")
        if not self.onset_s < self.offset_s:
            raise ValueError(f"need onset < offset, got {self}")

    def envelope(self, t: np.ndarray) -> np.ndarray:
        """1 inside the interval, raised-cosine ramps of ``FADE_S`` (or a third of it) at both ends."""
        fade = min(FADE_S, (self.offset_s - self.onset_s) / 3)
        rise = np.clip((t - self.onset_s) / fade, 0, 1)
        fall = np.clip((self.offset_s - t) / fade, 0, 1)
        return (0.5 - 0.5 * np.cos(np.pi * rise)) * (0.5 - 0.5 * np.cos(np.pi * fall))


def random_distractor(rng: np.random.Generator, onset_s: float, kind: str | None = None,
                      duration: tuple[float, float] = (0.4, 1.2)) -> Distractor:
    kind = kind or str(rng.choice(KINDS))
    length = float(rng.uniform(*duration))
    track = load_tracks()[0]
    return Distractor(kind, onset_s, onset_s + length, float(rng.uniform(0.6, 1.3)),
                      float(rng.uniform(0, len(track.values) / track.fps)), int(rng.choice((-1, 1))),
                      float(rng.uniform(-0.2, 1.6)))


def _track() -> MotionTrack:
    return load_tracks()[0]


def _window(d: Distractor, t: np.ndarray, name: str) -> np.ndarray:
    """A real channel replayed from ``d.start_s`` and zero at the distractor's onset."""
    track = _track()
    inside = (t >= d.onset_s - FADE_S) & (t <= d.offset_s + FADE_S)
    values = np.zeros_like(t)
    if inside.any():
        fps = 1 / (t[1] - t[0]) if len(t) > 1 else track.fps
        series = track.resample(fps, d.start_s, int(inside.sum()))[:, CHANNELS.index(name)]
        values[inside] = series - series[0]
    return values * d.envelope(t) * d.strength


def au_intensities(d: Distractor, t: np.ndarray) -> dict[str, np.ndarray]:
    """AU intensity curves of a speech distractor (empty for the others)."""
    if d.kind != "speech":
        return {}
    track = _track()
    fps = 1 / (t[1] - t[0]) if len(t) > 1 else track.fps
    real = track.resample(fps, d.start_s, len(t))
    index = {n: i for i, n in enumerate(CHANNELS)}
    envelope = d.envelope(t) * d.strength
    opening = real[:, index["mouth_open"]] / MICRO_UNIT  # eye distances → AU intensity units
    brow = np.maximum(real[:, index["brow_raise"]], 0) / MICRO_UNIT
    return {"25": 0.45 * opening * envelope, "26": 0.55 * opening * envelope,
            "1": 0.5 * brow * envelope, "2": 0.5 * brow * envelope}


def head_offsets(d: Distractor, t: np.ndarray) -> np.ndarray:
    """(n, 4): translation x, y (eye distances), roll (rad), log scale of a head or speech distractor."""
    if d.kind == "hand":
        return np.zeros((len(t), 4))
    gain = 1.0 if d.kind == "head" else 0.3  # speech carries the talker's smaller head jitter
    return gain * np.stack([_window(d, t, name) for name in HEAD_CHANNELS], 1)


def apex_s(d: Distractor, t: np.ndarray) -> float:
    """When the distractor moves the face most: the time a classifier's apex frame would be taken."""
    if d.kind == "hand":
        return d.onset_s + 0.35 * (d.offset_s - d.onset_s)  # the hand over the near cheek
    if d.kind == "speech":
        curve = au_intensities(d, t)["26"]
    else:
        curve = np.abs(head_offsets(d, t)).sum(1)
    inside = (t >= d.onset_s) & (t <= d.offset_s)
    if not inside.any() or curve[inside].max() <= 0:
        return (d.onset_s + d.offset_s) / 2
    return float(t[inside][np.argmax(curve[inside])])


# --- the hand --------------------------------------------------------------------------------------


def hand_path(d: Distractor, t: np.ndarray, frame: FaceFrame) -> np.ndarray:
    """(n, 2) hand centres for a hand distractor: from 2.2 eye distances outside one side to the other."""
    progress = np.clip((t - d.onset_s) / (d.offset_s - d.onset_s), 0, 1)
    progress = 0.5 - 0.5 * np.cos(np.pi * progress)
    x = d.side * (2.2 - 4.4 * progress)
    centre = frame.origin + frame.unit * (x[:, None] * frame.x_axis + d.height * frame.y_axis)
    centre[(t < d.onset_s) | (t > d.offset_s)] = np.nan
    return centre


def skin_colour(image: np.ndarray, frame: FaceFrame) -> tuple[float, float, float]:
    """Mean colour of the cheeks below the eyes: a hand of the person's own skin tone."""
    h, w = image.shape[:2]
    samples = []
    for side in (-0.5, 0.5):
        x, y = (frame.origin + frame.unit * (side * frame.x_axis + 0.7 * frame.y_axis)).astype(int)
        r = max(2, int(frame.unit * 0.12))
        patch = image[max(0, y - r):min(h, y + r), max(0, x - r):min(w, x + r)]
        if patch.size:
            samples.append(patch.reshape(-1, 3).mean(0))
    colour = np.mean(samples, 0) if samples else np.array([120.0, 140.0, 180.0])
    return tuple(float(c) * 0.92 for c in colour)


def draw_hand(frame: np.ndarray, centre: np.ndarray, size: float, colour: tuple[float, float, float],
              moving_right: bool) -> None:
    """Draw a soft-edged hand (palm and four fingers, fingers up) in place."""
    if not np.isfinite(centre).all():
        return
    h, w = frame.shape[:2]
    reach = int(size * 2.6)
    cx, cy = int(round(centre[0])), int(round(centre[1]))
    x0, y0, x1, y1 = max(0, cx - reach), max(0, cy - reach), min(w, cx + reach), min(h, cy + reach)
    if x0 >= x1 or y0 >= y1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    px, py = cx - x0, cy - y0
    cv2.ellipse(mask, (px, py), (int(size * 0.8), int(size)), 0, 0, 360, 1.0, -1)
    for k in range(4):
        fx = px + int((k - 1.5) * size * 0.42)
        cv2.ellipse(mask, (fx, py - int(size * 1.3)), (int(size * 0.18), int(size * 0.75)), 0, 0, 360, 1.0, -1)
    thumb_x = px + int(size * (0.9 if moving_right else -0.9))
    cv2.ellipse(mask, (thumb_x, py - int(size * 0.2)), (int(size * 0.2), int(size * 0.55)),
                -35 if moving_right else 35, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, size * 0.06))[..., None]
    shade = np.linspace(1.08, 0.88, mask.shape[0], dtype=np.float32)[:, None, None]  # lit from above
    hand = np.array(colour, np.float32)[None, None] * shade
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(region * (1 - mask) + hand * mask + 0.5, 0, 255).astype(np.uint8)
