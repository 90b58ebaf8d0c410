"""Synthetic subjects: renderings of the photographed people, each with its own jitter.

A subject is one photograph (one real person, ``models.synth.photos``), possibly mirrored, with its own
face shape (a smooth global warp), skin tone and exposure, expression style (strength, left/right
balance, a personal repertoire of AU combinations), sensor noise, head steadiness and camera
compression. Several subjects may show the same person; the dataset's ``subject`` column is the person
(``Subject.identity``), so leave-one-subject-out holds out every rendering of one photograph together.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.synth.aus import FaceFrame, face_frame
from models.synth.canvas import CLIP_LAYOUT, CanvasLayout, FaceCanvas, face_canvas
from models.synth.photos import PHOTO_NAMES

# AU combinations each class can be shown with; every one is labelled by models.synth.emotions.
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "positive": ("6+12", "12", "12+25", "6+12+25"),
    "surprise": ("1+2", "1+2+5", "1+2+25", "1+2+5+26", "1+2+26"),
    "negative": (
        "4", "4+7", "4+7+23", "4+24", "9", "9+10", "10", "1+4+15", "4+15+17", "R14", "L14",
        "1+2+4+5+20", "17+24", "15+17",
    ),
}


def derived_rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent random stream per (seed, role, subject, clip...), so outputs do not depend on
    the order or the process in which they are rendered."""
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


@dataclass(frozen=True)
class FaceShape:
    """Relative changes, in eye distances: face width, lower-face length, jaw width, eye spacing."""

    width: float = 0.0
    length: float = 0.0
    jaw: float = 0.0
    eye_spacing: float = 0.0

    def displacement(self, points: np.ndarray, frame: FaceFrame) -> np.ndarray:
        """(N, 2) pixel displacement of points; fades out away from the face so the frame edge stays."""
        rel = (points - frame.origin) / frame.unit
        u = rel @ frame.x_axis
        v = rel @ frame.y_axis
        envelope = np.exp(-(u**2 + (v - 0.6) ** 2) / (2 * 1.3**2))
        below_mouth = 1 / (1 + np.exp(-(v - 1.0) * 6))
        near_eyes = np.exp(-((np.abs(u) - 0.5) ** 2 + v**2) / (2 * 0.2**2))
        dx = (self.width + self.jaw * below_mouth) * u * envelope + self.eye_spacing * np.sign(u) * near_eyes
        dy = self.length * np.maximum(v, 0) * envelope
        return frame.unit * (dx[:, None] * frame.x_axis + dy[:, None] * frame.y_axis)


@dataclass(frozen=True)
class Appearance:
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)  # B, G, R (skin tone, white balance)
    brightness: float = 0.0  # grey levels
    contrast: float = 1.0

    def apply(self, image: np.ndarray) -> np.ndarray:
        img = image.astype(np.float32) * np.array(self.gains, np.float32)
        return np.clip((img - 128) * self.contrast + 128 + self.brightness + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ExpressionStyle:
    gain: float = 1.0  # scales every AU intensity
    asymmetry: float = 0.0  # > 0: image-left side moves more
    repertoire: tuple[tuple[str, tuple[str, ...]], ...] = tuple(PROTOTYPES.items())  # class3 → combos

    def combos(self, class3: str) -> tuple[str, ...]:
        return dict(self.repertoire)[class3]


@dataclass(frozen=True)
class Subject:
    name: str
    photo: str
    mirrored: bool
    shape: FaceShape
    appearance: Appearance
    style: ExpressionStyle
    noise_sigma: float  # grey levels
    head_motion_px: float  # peak drift on the clip canvas
    jpeg_quality: int

    @property
    def identity(self) -> str:
        """The real person shown: the unit of leave-one-subject-out."""
        return self.photo


def make_subjects(count: int, seed: int, photos: tuple[str, ...] = PHOTO_NAMES) -> list[Subject]:
    """``count`` subjects cycling through ``photos`` (mirrored on every second cycle); everything else is
    drawn per subject."""
    unknown = sorted(set(photos) - set(PHOTO_NAMES))
    if unknown or not photos:
        raise ValueError(f"unknown photo(s) {unknown}; choose from {', '.join(PHOTO_NAMES)}")
    subjects = []
    for i in range(count):
        rng = derived_rng(seed, 1, i)
        tone = rng.uniform(-1, 1)  # darker/warmer ... lighter/cooler
        gains = tuple(float(g) for g in np.clip(1 + np.array([0.08, 0.03, -0.02]) * tone + rng.normal(0, 0.03, 3), 0.75, 1.2))
        repertoire = tuple(
            (cls, tuple(rng.choice(combos, size=min(len(combos), int(rng.integers(2, 5))), replace=False)))
            for cls, combos in PROTOTYPES.items()
        )
        subjects.append(Subject(
            name=f"s{i + 1:02d}",
            photo=photos[i % len(photos)],
            mirrored=bool((i // len(photos)) % 2),
            shape=FaceShape(*(float(x) for x in rng.uniform(-1, 1, 4) * (0.08, 0.08, 0.10, 0.04))),
            appearance=Appearance(gains, float(rng.uniform(-20, 20)), float(rng.uniform(0.8, 1.15))),
            style=ExpressionStyle(float(rng.uniform(0.8, 1.25)), float(rng.uniform(-0.25, 0.25)), repertoire),
            noise_sigma=float(rng.uniform(0.5, 2.5)),
            head_motion_px=float(rng.uniform(0.1, 0.8)),
            jpeg_quality=int(rng.integers(85, 97)),
        ))
    return subjects


def prepare_subject(subject: Subject, layout: CanvasLayout = CLIP_LAYOUT) -> FaceCanvas:
    """The subject's neutral face on a canvas: photo placed, reshaped, recoloured."""
    base = face_canvas(subject.photo, layout, subject.mirrored)
    frame = face_frame(base.landmarks)
    h, w = base.image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    grid = np.stack([xs.ravel(), ys.ravel()], 1)
    shift = subject.shape.displacement(grid, frame).astype(np.float32).reshape(h, w, 2)
    image = cv2.remap(base.image, xs - shift[..., 0], ys - shift[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REFLECT)
    landmarks = base.landmarks + subject.shape.displacement(base.landmarks, frame).astype(np.float32)
    return FaceCanvas(subject.name, subject.appearance.apply(image), landmarks, subject.style.asymmetry)
