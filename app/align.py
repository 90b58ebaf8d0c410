"""Face alignment: a similarity transform that puts both eye centres at fixed template positions.

Two points fix a similarity exactly, so the eyes are level and at the same place in every crop; the
rest of the face keeps its shape (no affine shear that would look like expression motion). The
inverse transform maps anything computed on the crop (regions, attention maps) back onto the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.regions import eye_centres


@dataclass(frozen=True)
class AlignmentTemplate:
    size: int = 128  # crop side in pixels
    eye_y: float = 0.30  # eye line, as a fraction of the side from the top
    eye_distance: float = 0.36  # between eye centres, as a fraction of the side (forehead to chin fit)

    @property
    def left_eye(self) -> np.ndarray:
        return np.array([self.size * (0.5 - self.eye_distance / 2), self.size * self.eye_y])

    @property
    def right_eye(self) -> np.ndarray:
        return np.array([self.size * (0.5 + self.eye_distance / 2), self.size * self.eye_y])


@dataclass(frozen=True)
class AlignedFace:
    """A grey face crop, the frame→crop transform, and the landmarks in crop coordinates."""

    image: np.ndarray  # (size, size) uint8
    matrix: np.ndarray  # (2, 3) frame → crop
    landmarks: np.ndarray  # (478, 2) crop coordinates

    @property
    def size(self) -> int:
        return self.image.shape[0]

    @property
    def inverse(self) -> np.ndarray:
        """(2, 3) crop → frame."""
        return cv2.invertAffineTransform(self.matrix)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) crop points to frame pixels."""
        return apply_affine(self.inverse, points)

    def map_to_frame(self, crop_map: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """Warp a crop-sized map (e.g. an attention heat map) onto a frame of (width, height); 0 outside."""
        return cv2.warpAffine(
            crop_map.astype(np.float32), self.inverse, frame_size, flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    return pts @ matrix[:, :2].T + matrix[:, 2]


def similarity_from_eyes(landmarks: np.ndarray, template: AlignmentTemplate) -> np.ndarray:
    """(2, 3) similarity mapping the face's eye centres exactly onto the template's."""
    src_l, src_r = eye_centres(landmarks)
    dst_l, dst_r = template.left_eye, template.right_eye
    src_vec, dst_vec = src_r - src_l, dst_r - dst_l
    scale = np.linalg.norm(dst_vec) / max(np.linalg.norm(src_vec), 1e-6)
    angle = np.arctan2(dst_vec[1], dst_vec[0]) - np.arctan2(src_vec[1], src_vec[0])
    a, b = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[a, -b], [b, a]])
    shift = dst_l - rot @ src_l
    return np.hstack([rot, shift[:, None]])


def align_face(frame_bgr: np.ndarray, landmarks: np.ndarray, template: AlignmentTemplate) -> AlignedFace:
    matrix = similarity_from_eyes(landmarks, template)
    crop = cv2.warpAffine(
        frame_bgr, matrix, (template.size, template.size), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return AlignedFace(grey, matrix, apply_affine(matrix, landmarks).astype(np.float32))


def crop_to_crop(moving: AlignedFace, reference: AlignedFace) -> np.ndarray:
    """(2, 3) affine map from the moving crop's coordinates to the reference crop's."""
    to_frame = np.vstack([moving.inverse, [0, 0, 1]])
    to_ref = np.vstack([reference.matrix, [0, 0, 1]])
    return (to_ref @ to_frame)[:2]


def reregister(moving: AlignedFace, reference: AlignedFace) -> np.ndarray:
    """The moving crop resampled into the reference crop's coordinates.

    Equivalent to cutting both frames with the reference's alignment: the landmark jitter of the
    moving frame's own alignment (and the shift of the eye landmarks during a blink) cancels out,
    leaving only real motion between the two frames.
    """
    return cv2.warpAffine(
        moving.image, crop_to_crop(moving, reference), (reference.size, reference.size),
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
    )
