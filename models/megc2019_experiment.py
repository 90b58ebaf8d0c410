"""Quick experiments on the published MEGC2019 flows: one recipe, scored per dataset, one log line.

``python -m models.megc2019_experiment --root HTNet --name NAME [--kfold K] [--seeds 0,1] [--config-json JSON]``

With ``--kfold K`` the 68 subjects are dealt round-robin (sorted by name, so within each source dataset)
into K groups and each group is held out once: K trainings instead of 68, for exploring on a busy machine.
Without it the protocol is LOSO, as in ``train``. The recipe is the shipped one
(``models/megc2019_recipe.py``) overridden by ``--config-json``'s "model" and "train" keys. Appends
``NAME, UF1/UAR, per-dataset UF1/UAR, parameters, seconds, config`` to ``--log``, one line per seed and,
with several seeds, one ``NAME/mean`` line: on these 442 samples two seeds of one recipe differ by up to
0.05 UF1, so a recipe is compared by its mean over seeds. With several seeds a ``NAME/ensemble`` line also
scores the seeds' models as one ensemble (log-probabilities averaged, which ranks the classes as averaged
logits do): what folding those models into one file would reach. The README's experiment log and ablation
table are these lines.
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
from models.epir import EPIR, count_parameters
from models.epir_config import EPIRConfig
from models.megc2019_recipe import RECIPE
from models.metrics import confusion_matrix, scores
from models.train import TrainConfig, input_mirror, run_loso
from models.train_cmd import per_dataset_scores, read_config_json


def grouped_subjects(subjects: list[str], k: int) -> list[str]:
    """Each sample's group: subjects dealt round-robin into ``k`` groups (0 = one group per subject)."""
    if not k:
        return list(subjects)
    group = {name: f"group{i % k}" for i, name in enumerate(sorted(set(subjects)))}
    return [group[s] for s in subjects]


def composite_scores(y: np.ndarray, predictions: np.ndarray, datasets: list[str], n_classes: int) -> dict[str, dict]:
    """UF1/UAR of the composite and of each source dataset."""
    composite = scores(confusion_matrix(y, predictions, n_classes))
    return {"composite": {"uf1": composite.uf1, "uar": composite.uar},
            **per_dataset_scores(y, predictions, datasets, n_classes)}


def ensemble_predictions(log_probs: list[np.ndarray]) -> np.ndarray:
    """Class of each sample under the mean of the members' log-probabilities.

    log softmax differs from the logits by one constant per sample and member, so this is the argmax of
    the averaged logits, the ensemble an exported file would compute.
    """
    return np.mean(log_probs, axis=0).argmax(axis=1)


def log_line(name: str, scores: dict[str, dict[str, float]], parameters: int, seconds: float, config: dict) -> str:
    composite = scores["composite"]
    return "\t".join([
        name, f"UF1 {composite['uf1']:.4f} UAR {composite['uar']:.4f}",
        " ".join(f"{k} {v['uf1']:.4f}/{v['uar']:.4f}" for k, v in scores.items() if k != "composite"),
        f"params {parameters}", f"{seconds:.0f}s", json.dumps(config),
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--kfold", type=int, default=0, help="subject-grouped folds instead of LOSO (0 = LOSO)")
    parser.add_argument("--config-json", help='{"model": {...}, "train": {...}} over the shipped recipe')
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds; scores are also averaged")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log", type=Path, default=Path("runs/megc2019_experiments.tsv"))
    args = parser.parse_args()
    given = read_config_json(args.config_json)
    model_values = {**input_mirror(SPEC), **RECIPE["model"], **given.get("model", {})}
    model_config = EPIRConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in model_values.items()})
    config = replace(TrainConfig(threads=1), **{**RECIPE["train"], **given.get("train", {})})

    data = load_dataset(NAME, args.root)
    x = read_published(data.samples, SPEC).tensors
    y = np.array([data.classes.index(s.label) for s in data.samples])
    groups = grouped_subjects([s.subject for s in data.samples], args.kfold)
    datasets = [s.dataset for s in data.samples]
    parameters = count_parameters(EPIR(model_config)) * config.ensemble
    seeds = [int(v) for v in args.seeds.split(",")]
    rows = []
    log_probs = []  # per seed, (N, K) out-of-fold log-probabilities
    for seed in seeds:
        started = time.perf_counter()
        result = run_loso(x, y, groups, data.classes, model_config, replace(config, seed=seed), workers=args.workers)
        log_probs.append(np.log(np.clip(result.probabilities, 1e-12, None)))
        rows.append((f"{args.name}/seed{seed}" if len(seeds) > 1 else args.name,
                     composite_scores(y, result.predictions, datasets, len(data.classes)), time.perf_counter() - started))
    if len(seeds) > 1:
        seconds = sum(r[2] for r in rows)
        mean = {key: {m: float(np.mean([r[1][key][m] for r in rows])) for m in ("uf1", "uar")} for key in rows[0][1]}
        ensemble = ensemble_predictions(log_probs)
        rows.append((f"{args.name}/mean", mean, seconds))
        rows.append((f"{args.name}/ensemble", composite_scores(y, ensemble, datasets, len(data.classes)), seconds))
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with args.log.open("a") as handle:
        for name, scores, seconds in rows:
            line = log_line(name, scores, parameters, seconds, {"kfold": args.kfold, "seeds": seeds, **given})
            print(line)
            handle.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
