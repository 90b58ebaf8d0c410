"""SMIC (Li et al. 2013): no spreadsheet; labels from folders ``HS/s1/micro/negative/s1_ne_01/*.bmp``.

Clips are cut from onset to offset, and there is no apex annotation, so the apex is the middle frame
(the common practice, e.g. in the MEGC2019 composite). The high-speed camera set (HS) is the default,
as in MEGC2019; VIS and NIR have the same layout.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import InputError
from models.datasets.record import DatasetSamples, SampleCollector, list_frames, normalise_emotion

NAME = "smic"


def camera_root(root: Path, camera: str = "HS") -> Path:
    for candidate in (root / camera, root / "SMIC_all_cropped" / camera, root):
        if candidate.is_dir() and any(p.is_dir() and p.name.lower().startswith("s") and
                                      (p / "micro").is_dir() for p in candidate.iterdir()):
            return candidate
    raise InputError(root, f"missing folder {camera}/ holding sN/micro/<class>/<clip>/ folders")


def load(root: Path, camera: str = "HS") -> DatasetSamples:
    root = Path(root)
    base = camera_root(root, camera)
    collector = SampleCollector(NAME)
    for subject_dir in sorted(p for p in base.iterdir() if (p / "micro").is_dir()):
        for class_dir in sorted(p for p in (subject_dir / "micro").iterdir() if p.is_dir()):
            for clip_dir in sorted(p for p in class_dir.iterdir() if p.is_dir()):
                numbers = list(list_frames(clip_dir))
                onset, offset = numbers[0], numbers[-1]
                collector.add(subject_dir.name, clip_dir.name, clip_dir, onset, numbers[len(numbers) // 2],
                              offset, normalise_emotion(class_dir.name))
    return collector.result(root)
