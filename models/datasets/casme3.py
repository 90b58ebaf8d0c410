"""CAS(ME)^3 Part A (Li et al. 2022): ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``, sheet ``label``.

Frames: ``spNO.1/b/color/175.jpg`` (subject / clip / colour stream / frame number as in the sheet),
found under the root or a ``part_A`` folder inside it.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import InputError
from models.datasets.record import DatasetSamples, SampleCollector, find_one, normalise_emotion, to_int
from models.datasets.spreadsheet import read_rows

NAME = "casme3"
COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "emotion")
OPTIONAL = ("Objective class",)
SHEET = "label"


def subject_folder(value: object) -> str:
    text = str(value).strip()
    return f"spNO.{int(float(text))}" if text.replace(".", "", 1).isdigit() else text


def frames_root(root: Path) -> Path:
    candidates = [root, *sorted(p for p in root.glob("*") if p.is_dir()),
                  *sorted(p for p in root.glob("*/*") if p.is_dir())]
    for candidate in candidates:
        if any(p.is_dir() and p.name.startswith("spNO.") for p in candidate.iterdir()):
            return candidate
    raise InputError(root, "missing frame folders spNO.<n>/<clip>/color/ (searched two levels down)")


def load(root: Path) -> DatasetSamples:
    root = Path(root)
    sheet = find_one(root, "cas(me)3_part_A_ME_label*.xlsx", "the CAS(ME)^3 Part A label spreadsheet")
    frames = frames_root(root)
    collector = SampleCollector(NAME)
    for row in read_rows(sheet, COLUMNS, sheet=SHEET, optional=OPTIONAL):
        subject = subject_folder(row["Subject"])
        clip = str(row["Filename"]).strip()
        collector.add(
            subject, clip, frames / subject / clip / "color", to_int(row["Onset"]), to_int(row["Apex"]),
            to_int(row["Offset"]), normalise_emotion(row["emotion"]), str(row["AU"] or ""),
        )
    return collector.result(root)
