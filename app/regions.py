"""Facial regions on the MediaPipe 478-landmark layout, in aligned-crop coordinates.

One definition serves the spotter (regions of interest whose motion is measured), the model input
(regions tiled into the classifier's input image) and the drawing of attention maps back on the face.
"Left"/"right" mean image left/right on a frontal, unmirrored face.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# Landmark indices (MediaPipe face mesh, canonical topology).
EYE_LEFT_CORNERS = (33, 133)  # image-left eye: outer, inner corner
EYE_RIGHT_CORNERS = (362, 263)  # image-right eye: inner, outer corner
# Eye-aspect-ratio points: (corner_a, corner_b, (upper, lower) pairs...)
EAR_LEFT = (33, 133, ((160, 144), (159, 145), (158, 153)))
EAR_RIGHT = (362, 263, ((385, 380), (386, 374), (387, 373)))


@dataclass(frozen=True)
class Region:
    """A square region centred on the mean of some landmarks, its side a fraction of the crop size."""

    name: str
    landmarks: tuple[int, ...]
    size: float  # side as a fraction of the crop side
    # How a blink shows here: "lid" regions are muted while the eyes blink; "brow" regions too, unless
    # they move more than the lids (then the brow is acting, not being pulled by the lids).
    blink: str = ""

    def box(self, crop_landmarks: np.ndarray, crop_size: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) integer box clipped to the crop."""
        return tuple(int(v) for v in region_boxes((self,), crop_landmarks, crop_size)[0])


def region_boxes(regions: tuple[Region, ...], crop_landmarks: np.ndarray, crop_size: int) -> np.ndarray:
    """(N, 4) integer boxes (x0, y0, x1, y1) of several regions at once, each clipped to the crop.

    One vectorised pass (the spotter needs 11 boxes per frame): a box is centred on the mean of its
    landmarks (summed in their own precision, in order), rounded half to even, at least 2 pixels wide."""
    index, starts, counts, sizes = _layout(regions)
    centres = np.add.reduceat(crop_landmarks[index, :2], starts, axis=0)
    centres = (centres / counts[:, None]).astype(crop_landmarks.dtype).astype(np.float64)
    half = (sizes * crop_size / 2)[:, None]
    low = np.rint(np.clip(centres - half, 0, crop_size - 2))
    high = np.rint(np.clip(centres + half, low + 2, crop_size))
    return np.column_stack([low, high]).astype(np.int64)


@functools.lru_cache(maxsize=64)
def _layout(regions: tuple[Region, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The regions' landmark indices end to end, where each region starts, its landmark count, its size."""
    counts = np.array([len(r.landmarks) for r in regions])
    index = np.array([i for r in regions for i in r.landmarks])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return index, starts, counts, np.array([r.size for r in regions], dtype=np.float64)


# Where micro-expressions move the face (AU-bearing regions), for spotting.
SPOTTING_REGIONS: tuple[Region, ...] = (
    Region("brow_left", (70, 63, 105, 66, 107), 0.16, blink="brow"),
    Region("brow_right", (300, 293, 334, 296, 336), 0.16, blink="brow"),
    Region("eye_left", (33, 133, 159, 145), 0.14, blink="lid"),
    Region("eye_right", (362, 263, 386, 374), 0.14, blink="lid"),
    Region("cheek_left", (205, 50), 0.14),
    Region("cheek_right", (425, 280), 0.14),
    Region("nose_wing_left", (129, 98), 0.12),
    Region("nose_wing_right", (358, 327), 0.12),
    Region("mouth_left", (61,), 0.14),
    Region("mouth_right", (291,), 0.14),
    Region("chin", (200, 199), 0.14),
)



@dataclass(frozen=True)
class InputLayout:
    """How regions of the onset→apex flow are arranged into the model's input image."""

    name: str
    regions: tuple[Region, ...]  # row-major tiles; empty means the whole crop
    grid: tuple[int, int]  # tiles (rows, cols)

    @property
    def tiles(self) -> int:
        return max(1, len(self.regions))

    def boxes(self, crop_landmarks: np.ndarray, crop_size: int) -> list[tuple[int, int, int, int]]:
        if not self.regions:
            return [(0, 0, crop_size, crop_size)]
        return [tuple(int(v) for v in box) for box in region_boxes(self.regions, crop_landmarks, crop_size)]


INPUT_LAYOUTS: dict[str, InputLayout] = {
    # HTNet/STSTNet lineage: eyes with brows and both mouth corners, tiled 2x2.
    "quad": InputLayout(
        "quad",
        (
            Region("eye_brow_left", (105, 159, 52, 65), 0.34),
            Region("eye_brow_right", (334, 386, 282, 295), 0.34),
            Region("mouth_corner_left", (61, 206), 0.34),
            Region("mouth_corner_right", (291, 426), 0.34),
        ),
        (2, 2),
    ),
    "face": InputLayout("face", (), (1, 1)),
    # The published MEGC2019 flows (STSTNet/HTNet "whole"): the whole tightly aligned face, one tile.
    # Same geometry as "face"; the name says which alignment and normalisation go with it (InputSpec.whole).
    "whole": InputLayout("whole", (), (1, 1)),
}


def eye_aspect_ratio(landmarks: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes (Soukupová & Čech 2016); drops towards 0 in a blink."""
    ratios = []
    for a, b, pairs in (EAR_LEFT, EAR_RIGHT):
        width = np.linalg.norm(landmarks[a, :2] - landmarks[b, :2])
        heights = [np.linalg.norm(landmarks[u, :2] - landmarks[d, :2]) for u, d in pairs]
        ratios.append(float(np.mean(heights) / max(width, 1e-6)))
    return float(np.mean(ratios))


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image-left and image-right eye centres from the eye corners (independent of gaze)."""
    left = landmarks[list(EYE_LEFT_CORNERS), :2].mean(axis=0)
    right = landmarks[list(EYE_RIGHT_CORNERS), :2].mean(axis=0)
    return left, right
