"""Base photographs: twelve distinct real people whose photographs' licences allow this use.

No download is ever needed. ``photos.json`` beside this file is the manifest: per photo the person, the
package or repository it comes from, the path there, its licence and the sha256 of the original; two are
read from installed packages (scikit-image's NASA portrait of Eileen Collins, matplotlib's U.S. Navy
portrait of Grace Hopper), the others are vendored as face crops in ``assets/faces/`` (licences and
attributions in ``assets/faces/LICENSES.md``). Each photo's landmarks are found once per process with the
runtime's own MediaPipe tracker (``app.face``), so the synthetic faces use the landmark layout the engine
sees. Leave-one-subject-out over the synthetic benchmark holds out one of these people at a time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from app.face import FaceTracker, FaceTrackerOptions, RunningMode

MANIFEST = Path(__file__).with_name("photos.json")
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PhotoSource:
    """One manifest entry."""

    name: str
    person: str
    source: str
    path: str
    licence: str
    source_sha256: str
    file: str | None  # vendored crop, relative to the repository root; None: read from an installed package
    sha256: str | None

    @property
    def vendored_path(self) -> Path | None:
        return REPO_ROOT / self.file if self.file else None


def _manifest() -> dict[str, PhotoSource]:
    fields = PhotoSource.__dataclass_fields__
    entries = json.loads(MANIFEST.read_text())["photos"]
    return {e["name"]: PhotoSource(**{k: e.get(k) for k in fields}) for e in entries}


PHOTOS: dict[str, PhotoSource] = _manifest()
PHOTO_NAMES: tuple[str, ...] = tuple(PHOTOS)


@dataclass(frozen=True)
class BasePhoto:
    name: str
    image: np.ndarray  # (H, W, 3) BGR uint8
    landmarks: np.ndarray  # (478, 2) float32 pixel coordinates (MediaPipe layout)
    mirrored: bool
    provenance: str


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _read(name: str) -> np.ndarray:
    if name not in PHOTOS:
        raise KeyError(f"unknown photo {name!r}; choose from {', '.join(PHOTO_NAMES)}")
    if name == "astronaut":
        import skimage.data

        return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    if name == "grace_hopper":
        from matplotlib import cbook

        return cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.IMREAD_COLOR)
    path = PHOTOS[name].vendored_path
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{path}: vendored face photo missing or unreadable")
    return image


@lru_cache(maxsize=None)
def load_photo(name: str, mirrored: bool = False) -> BasePhoto:
    """The photo (optionally mirrored, a new rendering of the same person) and its MediaPipe landmarks."""
    image = _read(name)
    if mirrored:
        image = np.ascontiguousarray(image[:, ::-1])
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE)) as tracker:
        face = tracker.detect(image)
    if face is None:  # cannot happen for the shipped photos (a test checks); guards a broken MediaPipe install
        raise RuntimeError(f"MediaPipe found no face in the bundled photo {name!r}")
    image.setflags(write=False)
    source = PHOTOS[name]
    return BasePhoto(name, image, face.landmarks[:, :2].copy(), mirrored, f"{source.person}: {source.licence}")
