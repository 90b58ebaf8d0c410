"""The synthetic benchmark (``python main.py synth --out DIR``): ``DIR/annotations.csv`` plus
``DIR/clips/<subject>/<clip>/img{n:04d}.jpg``; onset/apex/offset are the frame numbers in the names.
A benchmark rendered with ``--life`` has a fourth class, ``none`` (motion that is not an expression),
placed after the three MEGC classes in logit order.
"""

from __future__ import annotations

from pathlib import Path

from app.errors import InputError
from models.datasets.record import MEGC_CLASSES, DatasetSamples, SampleCollector, read_table, to_int

NAME = "synthetic"
COLUMNS = ("subject", "clip", "onset", "apex", "offset", "aus", "emotion", "class3")
NONE = "none"


def load(root: Path) -> DatasetSamples:
    root = Path(root)
    table = root / "annotations.csv"
    if not table.is_file():
        raise InputError(root, "missing annotations.csv (render the benchmark with `python main.py synth --out DIR`)")
    rows = read_table(table, COLUMNS)
    labels = {row["class3"].strip().lower() for row in rows}
    collector = SampleCollector(NAME, classes=MEGC_CLASSES + ((NONE,) if NONE in labels else ()))
    for row in rows:
        subject, clip = row["subject"].strip(), row["clip"].strip()
        collector.add(subject, clip, root / "clips" / subject / clip, to_int(row["onset"]), to_int(row["apex"]),
                      to_int(row["offset"]), row["emotion"].strip().lower(), row["aus"].strip(),
                      label=row["class3"].strip().lower())
    return collector.result(root)
