"""Quick experiments on the published MEGC2019 flows: one recipe, scored per dataset, one log line.

``python -m models.megc2019_experiment --root HTNet --name NAME [--kfold K] [--config-json JSON]``

With ``--kfold K`` the 68 subjects are dealt round-robin (sorted by name, so within each source dataset)
into K groups and each group is held out once: K trainings instead of 68, for exploring on a busy machine.
Without it the protocol is LOSO, as in ``train``. The recipe is the shipped one
(``models/megc2019_recipe.py``) overridden by ``--config-json``'s "model" and "train" keys. Appends
``NAME, UF1/UAR, per-dataset UF1/UAR, parameters, seconds, config`` to ``--log``; the README's experiment
log and ablation table are these lines.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from models.datasets import load_dataset
from models.datasets.cache import read_published
from models.datasets.megc2019_flows import NAME, SPEC
from models.epir import EPIR, EPIRConfig, count_parameters
from models.megc2019_recipe import RECIPE
from models.train import TrainConfig, run_loso
from models.train_cmd import per_dataset_scores, read_config_json


def grouped_subjects(subjects: list[str], k: int) -> list[str]:
    """Each sample's group: subjects dealt round-robin into ``k`` groups (0 = one group per subject)."""
    if not k:
        return list(subjects)
    group = {name: f"group{i % k}" for i, name in enumerate(sorted(set(subjects)))}
    return [group[s] for s in subjects]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--kfold", type=int, default=0, help="subject-grouped folds instead of LOSO (0 = LOSO)")
    parser.add_argument("--config-json", help='{"model": {...}, "train": {...}} over the shipped recipe')
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log", type=Path, default=Path("runs/megc2019_experiments.tsv"))
    args = parser.parse_args()
    given = read_config_json(args.config_json)
    model_values = {**RECIPE["model"], **given.get("model", {})}
    model_config = EPIRConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in model_values.items()})
    config = replace(TrainConfig(threads=1), **{**RECIPE["train"], **given.get("train", {})})

    data = load_dataset(NAME, args.root)
    x = read_published(data.samples, SPEC).tensors
    y = np.array([data.classes.index(s.label) for s in data.samples])
    started = time.perf_counter()
    result = run_loso(x, y, grouped_subjects([s.subject for s in data.samples], args.kfold), data.classes,
                      model_config, config, SPEC.channels, workers=args.workers)
    seconds = time.perf_counter() - started
    parts = per_dataset_scores(y, result.predictions, [s.dataset for s in data.samples], len(data.classes))
    s = result.scores
    line = "\t".join([
        args.name, f"UF1 {s.uf1:.4f} UAR {s.uar:.4f} acc {s.accuracy:.3f}",
        " ".join(f"{k} {v['uf1']:.4f}/{v['uar']:.4f}" for k, v in parts.items()),
        f"params {count_parameters(EPIR(model_config))}", f"{seconds:.0f}s",
        json.dumps({"kfold": args.kfold, **given}),
    ])
    print(line)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with args.log.open("a") as handle:
        handle.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
