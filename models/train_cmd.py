"""``python main.py train --dataset NAME --root DIR --protocol loso --out RUN``.

Writes ``RUN/metrics.json`` (pooled LOSO UF1, UAR, accuracy, per-fold results, confusion matrix),
``RUN/confusion.png``, then trains the final model on every subject with the same fixed recipe and
writes ``RUN/final.pt`` and ``RUN/model.onnx`` whose model card states the data, protocol and the
LOSO figures reached.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from app import __version__, strict_json
from app.errors import InputError
from app.model_card import InputSpec, ModelCard
from models import megc2019_recipe
from models.calibration import fit_temperature
from models.datasets import LOADERS, load_dataset, megc2019_flows
from models.datasets.cache import DEFAULT_CACHE, prepare
from models.metrics import confusion_matrix, scores
from models.train import LOSSES, TrainConfig, input_mirror, run_loso, train_model

SYNTHETIC_CAVEAT = "trained on synthetic data; not validated on real micro-expression data"
# Per dataset: the fixed recipe it trains with unless overridden, and what its models must say about it.
RECIPES = {megc2019_flows.NAME: megc2019_recipe.RECIPE}
RESEARCH_PROVENANCE = {megc2019_flows.NAME: megc2019_flows.PROVENANCE}
RESEARCH_CAVEATS = {megc2019_flows.NAME: (megc2019_flows.CAVEAT,)}
# TrainConfig fields with their own flag; a flag given on the command line wins over --config-json
TRAIN_FLAGS = ("epochs", "batch_size", "lr", "seed", "loss")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=sorted(LOADERS))
    parser.add_argument("--root", required=True, type=Path, help="the dataset's folder, in its original layout")
    parser.add_argument("--protocol", default="loso", choices=["loso"], help="leave-one-subject-out")
    parser.add_argument("--out", required=True, type=Path, help="run folder to write")
    parser.add_argument("--epochs", type=int, help=f"fixed epoch budget (default {TrainConfig.epochs})")
    parser.add_argument("--batch-size", type=int, help=f"default {TrainConfig.batch_size}")
    parser.add_argument("--lr", type=float, help=f"peak learning rate (default {TrainConfig.lr})")
    parser.add_argument("--seed", type=int, help=f"default {TrainConfig.seed}")
    parser.add_argument("--loss", choices=LOSSES, help=f"default {TrainConfig.loss}")
    parser.add_argument("--workers", type=int, default=1, help="processes for preprocessing and for folds")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where computed inputs are kept")
    parser.add_argument(
        "--config-json",
        help='JSON object (inline or a file) with optional keys "model" (EPIRConfig), "train" (TrainConfig), '
             '"input" (InputSpec)',
    )


def read_config_json(text: str | None) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    source = Path(text) if not text.lstrip().startswith("{") else None
    try:
        values = json.loads(source.read_text() if source else text)
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError("--config-json", f"not a JSON object or readable JSON file ({exc})") from None
    unknown = sorted(set(values) - {"model", "train", "input"}) if isinstance(values, dict) else ["(not an object)"]
    if unknown:
        raise InputError("--config-json", f"unknown keys {unknown}; use model, train, input")
    return values


def build_configs(args: argparse.Namespace, recipe: dict[str, dict[str, Any]] | None = None
                  ) -> tuple[Any, TrainConfig, InputSpec]:
    """Configurations from the dataset's recipe, overridden by --config-json, overridden by flags."""
    from models.epir_config import EPIRConfig

    given = read_config_json(args.config_json)
    values = {key: {**(recipe or {}).get(key, {}), **given.get(key, {})} for key in ("model", "train", "input")}
    train_values = dict(values.get("train", {}))
    train_values.update({name: getattr(args, name) for name in TRAIN_FLAGS if getattr(args, name) is not None})
    train_values.setdefault("threads", max(1, (os.cpu_count() or 1) // max(1, args.workers)))
    known = {f.name for f in fields(TrainConfig)}
    if set(train_values) - known:
        raise InputError("--config-json", f"unknown train options {sorted(set(train_values) - known)}")
    input_values = dict(values.get("input", {}))
    if "channels" in input_values:
        input_values["channels"] = tuple(input_values["channels"])
    model_values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.get("model", {}).items()}
    try:
        config = TrainConfig(**train_values)
        spec = InputSpec(**input_values)
    except (TypeError, ValueError) as exc:
        raise InputError("--config-json", str(exc)) from None
    spec.validate("--config-json input")
    model_config = EPIRConfig.from_dict(
        {"in_channels": len(spec.channels), "image_size": spec.height, **input_mirror(spec), **model_values},
        "--config-json model")
    if spec.height != spec.width:
        raise InputError("--config-json", "EPIR takes a square input; set input height = width")
    return model_config, config, spec


def plot_confusion(matrix: np.ndarray, classes: tuple[str, ...], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=120)
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, f"{count}\n{rows[i, j]:.0%}", ha="center", va="center",
                color="white" if rows[i, j] > 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(classes)), classes, rotation=30)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def per_dataset_scores(y: np.ndarray, predictions: np.ndarray, sources: list[str], n_classes: int) -> dict[str, dict]:
    """UF1, UAR, accuracy and confusion of each source dataset of a composite (empty for one source)."""
    names = sorted(set(sources))
    if len(names) < 2:
        return {}
    out = {}
    for name in names:
        members = np.array([s == name for s in sources])
        matrix = confusion_matrix(y[members], predictions[members], n_classes)
        out[name] = {**scores(matrix).as_dict(), "samples": int(members.sum()), "confusion": matrix.tolist()}
    return out


def main(args: argparse.Namespace) -> int:
    from models.checkpoint import save_checkpoint
    from models.epir import EPIR, count_parameters
    from models.export import export_onnx

    started = time.perf_counter()
    data = load_dataset(args.dataset, args.root)
    model_config, config, spec = build_configs(args, RECIPES.get(data.name))
    synthetic = data.name == "synthetic"
    print(f"{data.name}: {len(data.samples)} samples, {len(data.subjects)} subjects, classes {list(data.classes)}")
    if data.excluded:
        print(f"left out {len(data.excluded)} annotated clip(s) (see metrics.json 'excluded'), e.g. {data.excluded[0]}")
    prepared = prepare(data.samples, spec, args.cache, workers=args.workers)
    for reason in prepared.failed:
        print(f"skipped: {reason}")
    subjects = [s.subject for s in prepared.samples]
    if len(set(subjects)) < 2:
        raise InputError(args.root, "leave-one-subject-out needs samples from at least two subjects")
    model_config = replace(model_config, num_classes=len(data.classes))
    y = np.array([data.classes.index(s.label) for s in prepared.samples])
    x = prepared.tensors
    args.out.mkdir(parents=True, exist_ok=True)

    bar = tqdm(total=len(set(subjects)), desc=f"LOSO folds ({config.epochs} epochs each)")
    loso = run_loso(x, y, subjects, data.classes, model_config, config, args.workers,
                    on_fold=lambda r: bar.update())
    bar.close()
    loso_seconds = time.perf_counter() - started
    s = loso.scores
    print(f"LOSO over {len(set(subjects))} subjects: UF1 {s.uf1:.3f}  UAR {s.uar:.3f}  accuracy {s.accuracy:.3f}")
    per_dataset = per_dataset_scores(y, loso.predictions, [p.dataset for p in prepared.samples], len(data.classes))
    for name, d in per_dataset.items():
        print(f"  {name}: UF1 {d['uf1']:.3f}  UAR {d['uar']:.3f}  accuracy {d['accuracy']:.3f}  ({d['samples']} samples)")
    calibration = fit_temperature(loso.probabilities, y, f"out-of-fold LOSO predictions ({data.name}, {len(y)} samples)")
    print(f"temperature {calibration.temperature:.3f}: ECE {calibration.ece_before:.3f} -> {calibration.ece_after:.3f}")

    provenance = RESEARCH_PROVENANCE.get(data.name, {})
    training = {"dataset": data.name, "root": str(args.root), "protocol": "loso", "synthetic": synthetic,
                "samples": len(y), "subjects": len(set(subjects)), "config": asdict(config), **provenance}
    metrics = {"uf1": s.uf1, "uar": s.uar, "accuracy": s.accuracy, "protocol": "LOSO, predictions pooled over folds",
               "subjects": len(set(subjects)), "samples": len(y),
               "per_dataset": {k: {m: d[m] for m in ("uf1", "uar", "accuracy", "samples")} for k, d in per_dataset.items()}}
    report = {**training, "classes": list(data.classes), **loso.as_dict(), "per_dataset": per_dataset,
              "calibration": asdict(calibration), "model": asdict(model_config),
              "parameters": count_parameters(EPIR(model_config)) * config.ensemble, "input": asdict(spec), "excluded": data.excluded,
              "failed": prepared.failed, "loso_seconds": round(loso_seconds, 1)}
    plot_confusion(loso.confusion, data.classes,
                   f"{data.name} LOSO: UF1 {s.uf1:.3f}, UAR {s.uar:.3f}", args.out / "confusion.png")
    (args.out / "metrics.json").write_text(strict_json.dumps(report, indent=2))

    bar = tqdm(total=config.epochs * config.ensemble, desc="final model (all subjects)")
    model = train_model(x, y, model_config, config, on_epoch=lambda e, loss: bar.update())
    bar.close()
    caveats = (SYNTHETIC_CAVEAT,) if synthetic else RESEARCH_CAVEATS.get(data.name, ())
    save_checkpoint(args.out / "final.pt", model, data.classes, input=asdict(spec), training=training,
                    metrics=metrics, name="EPIR", version=__version__, caveats=list(caveats),
                    calibration=asdict(calibration))
    card = ModelCard("EPIR", __version__, data.classes, spec, model_config.grid, training, metrics, {}, caveats,
                     calibration)
    export_onnx(model, card, args.out / "model.onnx")
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    (args.out / "metrics.json").write_text(strict_json.dumps(report, indent=2))
    print(f"wrote {args.out / 'metrics.json'}, confusion.png, final.pt, model.onnx ({report['wall_seconds']:.0f} s)")
    return 0
