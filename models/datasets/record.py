"""The one sample record every dataset loader yields, and the helpers the loaders share.

Every loader turns its dataset's own annotation file and folder layout into ``Sample`` records, so
training, caching and evaluation never look at a dataset's format again.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import InputError

# MEGC2019 composite classes (See et al., "MEGC 2019 - the second facial micro-expressions grand
# challenge", FG 2019). Every loader maps its annotated emotion onto these; "others" is left out.
MEGC_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
MEGC_EMOTION_TO_CLASS: dict[str, str] = {
    # negative: the negatively valenced emotions of CASME II, SAMM and CAS(ME)^3
    "repression": "negative", "anger": "negative", "contempt": "negative", "disgust": "negative",
    "fear": "negative", "sadness": "negative", "sad": "negative",
    # positive
    "happiness": "positive", "happy": "positive",
    # surprise
    "surprise": "surprise",
    # SMIC's folders and the synthetic benchmark are already labelled with the three classes
    "negative": "negative", "positive": "positive",
}


@dataclass(frozen=True)
class Sample:
    """One annotated micro-expression clip.

    ``frames`` maps the dataset's own frame numbers (the numbers its annotation file uses) to files,
    so onset/apex/offset index it directly.
    """

    dataset: str
    subject: str  # unique within the dataset (the composite prefixes the source dataset)
    clip: str
    frames: dict[int, Path] = field(hash=False, repr=False)
    onset: int
    apex: int
    offset: int
    emotion: str  # as annotated
    label: str  # the protocol's class (one of the loader's classes)
    aus: str = ""  # action units as annotated, e.g. "AU6+AU12"
    # A published, already computed onset→apex flow image standing for the frames (megc2019-flows):
    # then ``frames`` is empty and onset/apex/offset are 0 (not published).
    flow: Path | None = field(default=None, compare=False)

    @property
    def onset_path(self) -> Path:
        return self.frames[self.onset]

    @property
    def apex_path(self) -> Path:
        return self.frames[self.apex]


@dataclass(frozen=True)
class DatasetSamples:
    """What a loader returns: the records, the class names in logit order, and what it left out."""

    name: str
    classes: tuple[str, ...]
    samples: list[Sample]
    excluded: list[str] = field(default_factory=list)  # "subject/clip: reason", shown to the user

    @property
    def subjects(self) -> list[str]:
        return sorted({s.subject for s in self.samples})


_TRAILING_NUMBER = re.compile(r"(\d+)$")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def read_table(table: Path, columns: tuple[str, ...] | list[str]) -> list[dict[str, str]]:
    """The rows of a CSV annotation file, refused with one line when a needed column is missing."""
    with table.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(table, f"missing column(s) {', '.join(missing)}")
        return list(reader)


def list_frames(folder: Path) -> dict[int, Path]:
    """Frame number → file for every image in a clip folder, the number taken from the end of the name.

    Covers ``reg_img46.jpg`` (CASME II), ``006_05562.jpg`` (SAMM), ``image0123.bmp`` (SMIC),
    ``175.jpg`` (CAS(ME)^3) and ``img0007.jpg`` (synthetic).
    """
    if not folder.is_dir():
        raise InputError(folder, "frame folder not found")
    frames = {}
    for path in folder.iterdir():
        match = _TRAILING_NUMBER.search(path.stem)
        if path.suffix.lower() in FRAME_SUFFIXES and match:
            frames[int(match.group(1))] = path
    if not frames:
        raise InputError(folder, "no numbered image frames in this folder")
    return dict(sorted(frames.items()))


def check_frames(sample_id: str, frames: dict[int, Path], *numbers: int) -> str | None:
    """Why a clip cannot be used (a needed frame is missing), or None."""
    missing = [n for n in numbers if n not in frames]
    if missing:
        return f"{sample_id}: frame(s) {missing} not in its folder"
    return None


def find_one(root: Path, pattern: str, what: str) -> Path:
    """The single file matching ``pattern`` under ``root`` (searched up to two levels down)."""
    if not root.is_dir():
        raise InputError(root, "dataset root is not a folder")
    for depth in ("", "*/", "*/*/"):
        found = sorted(root.glob(depth + pattern))
        if found:
            return found[0]
    raise InputError(root, f"missing {what} ({pattern})")


def to_int(value: object) -> int | None:
    """A frame number from a spreadsheet cell; None for blanks, negatives and placeholders such as '/'."""
    if isinstance(value, (int, float)):
        return int(value) if value >= 0 else None
    text = str(value or "").strip()
    return int(float(text)) if re.fullmatch(r"\d+(\.0*)?", text) else None


def normalise_emotion(value: object) -> str:
    return str(value or "").strip().lower()


class SampleCollector:
    """Builds records for one dataset, keeping every clip it cannot use with the reason."""

    def __init__(self, dataset: str, emotion_to_class: dict[str, str] = MEGC_EMOTION_TO_CLASS,
                 classes: tuple[str, ...] = MEGC_CLASSES):
        self.dataset = dataset
        self.emotion_to_class = emotion_to_class
        self.classes = classes
        self.samples: list[Sample] = []
        self.excluded: list[str] = []
        self._no_frames: list[str] = []

    def add(self, subject: str, clip: str, folder: Path, onset: int | None, apex: int | None,
            offset: int | None, emotion: str, aus: str = "", label: str | None = None) -> None:
        """Add one clip; ``label`` overrides the emotion → class mapping when the annotation gives a class."""
        sample_id = f"{subject}/{clip}"
        label = self.emotion_to_class.get(emotion) if label is None else label
        if label not in self.classes:
            self.excluded.append(f"{sample_id}: emotion {emotion!r} is not in the {len(self.classes)}-class protocol")
            return
        try:
            frames = list_frames(folder)
        except InputError as exc:  # folder missing or without frames
            self.excluded.append(f"{sample_id}: {exc}")
            self._no_frames.append(self.excluded[-1])
            return
        if onset is None:
            self.excluded.append(f"{sample_id}: no onset frame annotated")
            return
        if offset is None or offset < onset:
            offset = max(frames)  # some annotations leave the offset blank or 0
        if apex is None:
            apex = (onset + offset) // 2  # no apex annotated: the middle frame, as is common practice
        problem = check_frames(sample_id, frames, onset, apex)
        if problem:
            self.excluded.append(problem)
            return
        self.samples.append(Sample(self.dataset, subject, clip, frames, onset, apex, offset, emotion, label, aus))

    def result(self, where: Path) -> DatasetSamples:
        if not self.samples:
            if self._no_frames:
                raise InputError(where, f"no annotated clip has its frames (first: {self._no_frames[0]})")
            raise InputError(where, "no usable samples found")
        return DatasetSamples(self.dataset, self.classes, self.samples, self.excluded)
