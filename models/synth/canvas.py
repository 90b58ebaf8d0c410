"""A face placed on a fixed-size canvas, with its landmarks and its AU fields cached.

Everything per-face that does not change over time is computed once here (the placed image, the
landmarks, each AU's controls and dense field at intensity 1), so rendering a frame is a weighted sum of
cached fields carried by ``aus.flow`` and one ``cv2.remap`` of the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from app.align import AlignmentTemplate, apply_affine, similarity_from_eyes
from models.synth.aus import ControlSet, LocalField, controls, dense_field, flow, smooth_field
from models.synth.photos import load_photo


@dataclass(frozen=True)
class CanvasLayout:
    """Output size and where the eyes go (the face is centred horizontally)."""

    width: int = 256
    height: int = 288
    eye_distance: float = 78.0  # px; mesh face height is about 2.5x this
    eye_y: float = 118.0  # px from the top

    def placement(self, landmarks: np.ndarray) -> np.ndarray:
        """(2, 3) similarity from photo pixels to canvas pixels."""
        template = AlignmentTemplate(self.width, self.eye_y / self.width, self.eye_distance / self.width)
        return similarity_from_eyes(landmarks, template)


CLIP_LAYOUT = CanvasLayout()  # face ~200 px tall, like the cropped dataset frames
# The benchmark's dataset clips: some room around the face, since tighter framings make MediaPipe's face
# detector miss some of the bundled people seen at an angle.
DATASET_LAYOUT = CanvasLayout(288, 320, 70.0, 136.0)
VIDEO_LAYOUT = CanvasLayout(640, 480, 104.0, 200.0)  # a webcam-like frame


@dataclass
class FaceCanvas:
    """A still face: BGR image, its 478 landmarks, and the subject's left/right expression balance."""

    name: str
    image: np.ndarray  # (H, W, 3) uint8
    landmarks: np.ndarray  # (478, 2) float32
    asymmetry: float = 0.0  # > 0: the image-left side moves more
    _fields: dict[str, LocalField] = field(default_factory=dict, repr=False)
    _controls: dict[str, ControlSet] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.image.shape[1], self.image.shape[0]

    def field(self, code: str) -> LocalField:
        """Dense displacement of AU ``code`` at intensity 1."""
        if code not in self._fields:
            self._fields[code] = dense_field(self.controls(code), self.image.shape[:2])
        return self._fields[code]

    def controls(self, code: str) -> ControlSet:
        if code not in self._controls:
            self._controls[code] = controls(code, self.landmarks, self.asymmetry)
        return self._controls[code]

    def moved_landmarks(self, intensities: dict[str, np.ndarray]) -> np.ndarray:
        """(n, 478, 2) landmarks carried by the AU fields at ``intensities`` (code → (n,) per frame), by
        ``flow`` like the image, so the truth and the rendered face agree at any amplitude."""
        n = len(next(iter(intensities.values()))) if intensities else 0
        x = np.repeat(self.landmarks[None, :, 0], n, 0).astype(np.float64)
        y = np.repeat(self.landmarks[None, :, 1], n, 0).astype(np.float64)
        active = {c: v for c, v in intensities.items() if np.abs(v).max() > 1e-6}

        # Only landmarks within reach of a field move; a frame's velocity is the sum of its active fields.
        reach = [self.controls(c) for c in active]
        near = np.zeros(len(self.landmarks), bool)
        for cs in reach:
            lo, hi = cs.points.min(0) - 4 * cs.sigma, cs.points.max(0) + 4 * cs.sigma
            near |= ((self.landmarks >= lo) & (self.landmarks <= hi)).all(1)
        cols = np.flatnonzero(near)

        def velocity(px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            v = np.zeros(px.shape + (2,))
            for code, values in active.items():
                rows = np.flatnonzero(np.abs(values) > 1e-6)
                at = np.stack([px[rows], py[rows]], -1).reshape(-1, 2)
                v[rows] += values[rows, None, None] * smooth_field(at, self.controls(code)).reshape(len(rows), -1, 2)
            return v[..., 0], v[..., 1]

        if active:
            x[:, cols], y[:, cols] = flow(x[:, cols], y[:, cols], velocity)
        return np.stack([x, y], -1)


def face_canvas(photo: str, layout: CanvasLayout = CLIP_LAYOUT, mirrored: bool = False) -> FaceCanvas:
    """A bundled photo placed on a canvas by a similarity that puts its eyes at the layout's spots."""
    base = load_photo(photo, mirrored)
    matrix = layout.placement(base.landmarks)
    image = cv2.warpAffine(
        base.image, matrix, (layout.width, layout.height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    name = f"{photo}{'_mirrored' if mirrored else ''}"
    return FaceCanvas(name, image, apply_affine(matrix, base.landmarks).astype(np.float32))
