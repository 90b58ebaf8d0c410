"""SAMM (Davison et al. 2018): ``SAMM_Micro_FACS_Codes_v2.xlsx`` (title rows above the header) plus frames.

Frames: ``SAMM/006/006_1_2/006_05562.jpg``; the spreadsheet's frame numbers are the file names' numbers.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import InputError
from models.datasets.record import DatasetSamples, SampleCollector, find_one, normalise_emotion, to_int
from models.datasets.spreadsheet import read_rows

NAME = "samm"
COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Action Units",
           "Estimated Emotion")
OPTIONAL = ("Objective Classes",)


def subject_folder(value: object) -> str:
    text = str(value).strip()
    return f"{int(float(text)):03d}" if text.replace(".", "", 1).isdigit() else text


def frames_root(root: Path) -> Path:
    for candidate in (root / "SAMM", root):
        if candidate.is_dir() and any(p.is_dir() and p.name.isdigit() for p in candidate.iterdir()):
            return candidate
    raise InputError(root, "missing frame folder SAMM/ (holding one folder per subject, e.g. SAMM/006/)")


def load(root: Path) -> DatasetSamples:
    root = Path(root)
    sheet = find_one(root, "SAMM_Micro_FACS_Codes*.xlsx", "the SAMM FACS codes spreadsheet")
    frames = frames_root(root)
    collector = SampleCollector(NAME)
    for row in read_rows(sheet, COLUMNS, optional=OPTIONAL):
        subject = subject_folder(row["Subject"])
        clip = str(row["Filename"]).strip()
        collector.add(
            subject, clip, frames / subject / clip, to_int(row["Onset Frame"]), to_int(row["Apex Frame"]),
            to_int(row["Offset Frame"]), normalise_emotion(row["Estimated Emotion"]),
            str(row["Action Units"] or ""),
        )
    return collector.result(root)
