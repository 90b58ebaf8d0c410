"""The MEGC2019 composite as published flows: HTNet's ``STSNet_whole_norm_u_v_os`` images.

HTNet's authors (github.com/wangzhifengharrison/HTNet) publish the onset→apex optical flow of every
sample of the composite (CASME II, SAMM, SMIC; 442 samples, 68 subjects) as 28×28 PNGs, with labels in
``combined_3_class2_for_optical_flow.csv`` (columns ``dataset, sub, filename_o, label``; 0 negative,
1 positive, 2 surprise). The root holds the CSV and ``datasets/STSNet_whole_norm_u_v_os/`` (both searched
up to two folders down); image names are ``<sub>_<filename_o> .png``, with a space before ``.png``.

Image format (measured on the published files): the whole face, tightly cropped (eyes at about a
quarter of the height, about half the width apart); in RGB order the channels are u (horizontal flow,
+ = image right), v (vertical flow, + = image down) and optical strain; each channel is min-max scaled
to 0–255 per image, so absolute motion size is lost and only the pattern remains. ``cv2.imread`` returns
them in BGR order, i.e. reversed. ``read_flow_png`` gives the channels in [0, 1], u, v, strain, which is
what ``app.model_input`` computes for the ``whole`` input spec from the runtime's own face crops.

Samples carry the image in ``Sample.flow`` and no frames: the flows are all that is published.
Subjects are ``dataset:sub`` (``casme2:sub01``) so that leave-one-subject-out runs over 68 folds.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from app.errors import InputError
from app.model_card import InputSpec
from models.datasets.record import MEGC_CLASSES, DatasetSamples, Sample, find_one, read_table

NAME = "megc2019-flows"
CSV_NAME = "combined_3_class2_for_optical_flow.csv"
FLOW_FOLDER = "STSNet_whole_norm_u_v_os"
COLUMNS = ("dataset", "sub", "filename_o", "label")
SIZE = 28

# The input these images are: the whole aligned face, per-channel min-max (app.model_input).
SPEC = InputSpec.whole()
# What a model trained on them must say about where its knowledge comes from (the model card).
SOURCE = ("real micro-expressions: onset-apex flows of CASME II, SAMM and SMIC (MEGC2019 composite) "
          "as published by HTNet's authors")
PROVENANCE = {
    "source": SOURCE,
    "source_repository": "github.com/wangzhifengharrison/HTNet (datasets/STSNet_whole_norm_u_v_os, "
                         "combined_3_class2_for_optical_flow.csv)",
    "source_datasets": ["CASME II", "SAMM", "SMIC-HS"],
    "research_use_only": True,
}
CAVEAT = ("derived from CASME II, SAMM and SMIC, which are licensed for research use only; "
          "this model inherits that restriction")


def image_name(sub: str, filename: str) -> str:
    return f"{sub}_{filename} .png"


def flow_folder(root: Path) -> Path:
    for candidate in (root / "datasets" / FLOW_FOLDER, root / FLOW_FOLDER):
        if candidate.is_dir():
            return candidate
    raise InputError(root, f"missing folder datasets/{FLOW_FOLDER}/ (HTNet's published flow images)")


def read_flow_png(path: Path) -> np.ndarray:
    """(3, 28, 28) float32 in [0, 1], channels u, v, strain (the PNG's RGB order)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(path, "not a readable image")
    if image.shape[:2] != (SIZE, SIZE):
        raise InputError(path, f"flow image is {image.shape[1]}x{image.shape[0]}, expected {SIZE}x{SIZE}")
    return np.ascontiguousarray(image[..., ::-1].transpose(2, 0, 1), np.float32) / 255.0


def load(root: Path) -> DatasetSamples:
    root = Path(root)
    table = find_one(root, CSV_NAME, "the label table")
    folder = flow_folder(root)
    rows = read_table(table, COLUMNS)
    samples, excluded = [], []
    for n, row in enumerate(rows, start=2):
        dataset, sub, clip = (row[c].strip() for c in COLUMNS[:3])
        sample_id = f"{dataset}:{sub}/{clip}"
        try:
            label = MEGC_CLASSES[int(row["label"])]
        except (ValueError, IndexError):
            excluded.append(f"{sample_id}: label {row['label']!r} on line {n} is not 0, 1 or 2")
            continue
        path = folder / image_name(sub, clip)
        if not path.is_file():
            excluded.append(f"{sample_id}: flow image {path.name!r} not in {folder}")
            continue
        samples.append(Sample(dataset, f"{dataset}:{sub}", clip, {}, 0, 0, 0, label, label, flow=path))
    if not samples:
        raise InputError(root, "no sample of the label table has its flow image")
    return DatasetSamples(NAME, MEGC_CLASSES, samples, excluded)
