"""The MEGC2019 composite (See et al. 2019): CASME II + SAMM + SMIC-HS in three classes.

442 samples from 68 subjects: CASME II 145 / 24, SAMM 133 / 28, SMIC 164 / 16. Emotions are mapped
to negative / positive / surprise by ``record.MEGC_EMOTION_TO_CLASS`` (negative: repression, anger,
contempt, disgust, fear, sadness; positive: happiness; surprise: surprise; "others" left out; SMIC's
folders already use the three classes). The root holds one folder per source dataset, each in that
dataset's own layout: ``ROOT/CASME2``, ``ROOT/SAMM``, ``ROOT/SMIC``. Subjects are prefixed with the
source dataset (``samm/006``) so that leave-one-subject-out runs over 68 folds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from app.errors import InputError
from models.datasets import casme2, samm, smic
from models.datasets.record import MEGC_CLASSES, DatasetSamples

NAME = "megc2019"
PARTS = (  # (loader, accepted folder names, lower case)
    (casme2, ("casme2", "casme_ii", "casme ii", "casmeii")),
    (samm, ("samm",)),
    (smic, ("smic",)),
)


def load(root: Path) -> DatasetSamples:
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "dataset root is not a folder")
    folders = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    samples, excluded = [], []
    for module, names in PARTS:
        folder = next((folders[n] for n in names if n in folders), None)
        if folder is None:
            raise InputError(root, f"missing folder {names[0].upper()}/ (the {module.NAME} part of the composite)")
        part = module.load(folder)
        samples += [dataclasses.replace(s, subject=f"{module.NAME}/{s.subject}") for s in part.samples]
        excluded += [f"{module.NAME}/{reason}" for reason in part.excluded]
    return DatasetSamples(NAME, MEGC_CLASSES, samples, excluded)
