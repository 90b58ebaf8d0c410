"""Base photographs: real, public-domain face portraits that ship inside installed packages.

No download is ever needed. Each photo's landmarks are found once per process with the runtime's own
MediaPipe tracker (``app.face``), so the synthetic faces use the landmark layout the engine sees.

Provenance
- ``astronaut``: scikit-image ``skimage.data.astronaut()`` — Eileen Collins, NASA portrait from the
  NASA Great Images database (https://flic.kr/p/r9qvLn); "no known copyright restrictions, released
  into the public domain" (scikit-image docstring). 512x512.
- ``grace_hopper``: matplotlib ``mpl-data/sample_data/grace_hopper.jpg`` — Rear Admiral Grace Hopper,
  official U.S. Navy photograph (work of the U.S. federal government, public domain). 512x600.
Other images bundled in the installed wheels were checked: scikit-image's ``camera`` (CC0) shows no
detectable frontal face, ``lfw_subset`` holds 25x25 LFW crops (not public domain); neither is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from app.face import FaceTracker, FaceTrackerOptions, RunningMode

PHOTO_NAMES = ("astronaut", "grace_hopper")


@dataclass(frozen=True)
class BasePhoto:
    name: str
    image: np.ndarray  # (H, W, 3) BGR uint8
    landmarks: np.ndarray  # (478, 2) float32 pixel coordinates (MediaPipe layout)
    mirrored: bool
    provenance: str


_PROVENANCE = {
    "astronaut": "scikit-image skimage.data.astronaut(): Eileen Collins, NASA, public domain",
    "grace_hopper": "matplotlib sample_data/grace_hopper.jpg: Grace Hopper, U.S. Navy, public domain",
}


def _read(name: str) -> np.ndarray:
    if name == "astronaut":
        import skimage.data

        return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    if name == "grace_hopper":
        from matplotlib import cbook

        return cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.IMREAD_COLOR)
    raise KeyError(f"unknown photo {name!r}; choose from {', '.join(PHOTO_NAMES)}")


@lru_cache(maxsize=None)
def load_photo(name: str, mirrored: bool = False) -> BasePhoto:
    """The photo (optionally mirrored, which makes a new face) and its MediaPipe landmarks."""
    image = _read(name)
    if mirrored:
        image = np.ascontiguousarray(image[:, ::-1])
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE)) as tracker:
        face = tracker.detect(image)
    if face is None:  # cannot happen for the shipped photos; guards a broken MediaPipe install
        raise RuntimeError(f"MediaPipe found no face in the bundled photo {name!r}")
    image.setflags(write=False)
    return BasePhoto(name, image, face.landmarks[:, :2].copy(), mirrored, _PROVENANCE[name])
