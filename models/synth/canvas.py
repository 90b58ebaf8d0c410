"""A face placed on a fixed-size canvas, with its landmarks and its AU fields cached.

Everything per-face that does not change over time is computed once here (the placed image, the
landmarks, each AU's dense field at intensity 1), so rendering a frame is a weighted sum of cached
fields and one ``cv2.remap``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from app.align import AlignmentTemplate, apply_affine, similarity_from_eyes
from models.synth.aus import LocalField, controls, dense_field, smooth_field
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
    _shifts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.image.shape[1], self.image.shape[0]

    def field(self, code: str) -> LocalField:
        """Dense displacement of AU ``code`` at intensity 1."""
        if code not in self._fields:
            self._fields[code] = dense_field(self._controls(code), self.image.shape[:2])
        return self._fields[code]

    def landmark_shift(self, code: str) -> np.ndarray:
        """(478, 2) landmark displacement of AU ``code`` at intensity 1 (same field as the image)."""
        if code not in self._shifts:
            self._shifts[code] = smooth_field(self.landmarks, self._controls(code)).astype(np.float32)
        return self._shifts[code]

    def _controls(self, code: str):
        return controls(code, self.landmarks, self.asymmetry)


def face_canvas(photo: str, layout: CanvasLayout = CLIP_LAYOUT, mirrored: bool = False) -> FaceCanvas:
    """A bundled photo placed on a canvas by a similarity that puts its eyes at the layout's spots."""
    base = load_photo(photo, mirrored)
    matrix = layout.placement(base.landmarks)
    image = cv2.warpAffine(
        base.image, matrix, (layout.width, layout.height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    name = f"{photo}{'_mirrored' if mirrored else ''}"
    return FaceCanvas(name, image, apply_affine(matrix, base.landmarks).astype(np.float32))
