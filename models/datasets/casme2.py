"""CASME II (Yan et al. 2014): ``CASME2-coding-*.xlsx`` plus ``Cropped/`` or ``CASME2_RAW*/`` frames.

Frames: ``Cropped/sub01/EP02_01f/reg_img46.jpg`` (or ``CASME2_RAW_selected/sub01/EP02_01f/img46.jpg``);
the spreadsheet's frame numbers are the numbers in the file names.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import InputError
from models.datasets.record import DatasetSamples, SampleCollector, find_one, normalise_emotion, to_int
from models.datasets.spreadsheet import read_rows

NAME = "casme2"
COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")
FRAME_FOLDERS = ("Cropped", "CASME2_RAW_selected", "CASME2_RAW", "CASME2-RAW")


def subject_folder(value: object) -> str:
    text = str(value).strip()
    if text.lower().startswith("sub"):
        text = text[3:]
    return f"sub{int(float(text)):02d}" if text.replace(".", "", 1).isdigit() else str(value).strip()


def frames_root(root: Path) -> Path:
    for name in FRAME_FOLDERS:
        for candidate in (root / name, root / name / name):
            if candidate.is_dir() and any(p.name.lower().startswith("sub") for p in candidate.iterdir()):
                return candidate
    raise InputError(root, f"missing frame folder (one of {', '.join(FRAME_FOLDERS)} holding subXX/ folders)")


def load(root: Path) -> DatasetSamples:
    root = Path(root)
    sheet = find_one(root, "CASME2-coding-*.xlsx", "the CASME II coding spreadsheet")
    frames = frames_root(root)
    collector = SampleCollector(NAME)
    for row in read_rows(sheet, COLUMNS):
        subject = subject_folder(row["Subject"])
        clip = str(row["Filename"]).strip()
        collector.add(
            subject, clip, frames / subject / clip, to_int(row["OnsetFrame"]), to_int(row["ApexFrame"]),
            to_int(row["OffsetFrame"]), normalise_emotion(row["Estimated Emotion"]), str(row["Action Units"] or ""),
        )
    return collector.result(root)
