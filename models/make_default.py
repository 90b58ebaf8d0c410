"""Reproduce the shipped default model: ``python -m models.make_default [--work runs/default]``.

Renders the synthetic benchmark (``--life``: micro to macro amplitudes and a ``none`` class of speech,
head movements, hands and blinks) from the training people, trains EPIR with leave-one-subject-out
evaluation where a subject is a photographed person (every rendering of one photograph in one fold) and
the fixed recipe below, then copies the ONNX file and its metrics into ``models/default/``. The people in
``HELD_OUT`` are never rendered for training: ``python -m models.synth.heldout`` scores the shipped model
on them. One command, so the shipped file and the figures in its model card can be regenerated and
checked by anyone.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path

from app import strict_json
from app.cli import main as cli_main
from models.synth.photos import PHOTO_NAMES

DEFAULT_DIR = Path(__file__).resolve().parent / "default"
HELD_OUT = ("biden", "luciano", "pexels_woman_red_top")  # people kept for the independent test set
TRAINING_PEOPLE = tuple(p for p in PHOTO_NAMES if p not in HELD_OUT)
# Two renderings (plain and mirrored, each with its own jitter) of each of the 9 training people.
SYNTH_ARGS = ["--subjects", str(2 * len(TRAINING_PEOPLE)), "--clips-per-subject", "18", "--fps", "60", "--seed", "0",
              "--life", "--photos", ",".join(TRAINING_PEOPLE)]
TRAIN_ARGS = ["--dataset", "synthetic", "--protocol", "loso", "--epochs", "15", "--batch-size", "32",
              "--lr", "0.001", "--loss", "ce", "--seed", "0",
              "--config-json", '{"input": {"match_brightness": true}, "train": {"ensemble": 3}}']


PROTOCOL = "LOSO by person: every rendering of one photograph in one fold, predictions pooled over folds"


def stamp_card(path: Path, training: dict, metrics: dict) -> None:
    """Merge ``training`` and ``metrics`` into the ONNX file's model card, keeping everything else."""
    import onnx

    from app.model_card import METADATA_PREFIX

    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    for key, extra in (("training", training), ("metrics", metrics)):
        props[METADATA_PREFIX + key] = strict_json.dumps({**json.loads(props.get(METADATA_PREFIX + key, "{}")), **extra})
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.make_default", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("runs/default"), help="where the data and the run go")
    parser.add_argument("--workers", type=int, default=2, help="processes for rendering, preprocessing and folds")
    parser.add_argument("--reuse", action="store_true",
                        help="keep renderings and a training run already in --work")
    args = parser.parse_args(argv)
    from models.synth import heldout

    started = time.perf_counter()
    workers = ["--workers", str(args.workers)]
    synth, run = args.work / "synth", args.work / "run"
    steps = ((synth / "annotations.csv", ["synth", "--out", str(synth), *SYNTH_ARGS, *workers]),
             (run / "model.onnx", ["train", "--root", str(synth), "--out", str(run),
                                   "--cache", str(args.work / "cache"), *TRAIN_ARGS, *workers]))
    for output, command in steps:
        if args.reuse and output.exists():
            print(f"reusing {output}", flush=True)
            continue
        print("+ python main.py " + " ".join(command), flush=True)
        code = cli_main(command)
        if code:
            return code
    DEFAULT_DIR.mkdir(exist_ok=True)
    model = DEFAULT_DIR / "epir_synthetic.onnx"
    shutil.copyfile(run / "model.onnx", model)
    held_started = time.perf_counter()
    print(f"+ python -m models.synth.heldout --out {args.work / 'heldout'} --model {model}", flush=True)
    code = heldout.main(["--out", str(args.work / "heldout"), "--model", str(model), *workers,
                         *(["--reuse"] if args.reuse else [])])
    if code:
        return code
    held = json.loads((args.work / "heldout" / "scores.json").read_text())
    held["command"] = "python -m models.synth.heldout"
    held["wall_seconds"] = round(time.perf_counter() - held_started, 1)
    held_summary = {"people": held["people"], "seed": held["seed"], "videos": held["videos"],
                    "spotting_f1": held["spotting"]["overall"]["f1"], "uf1": held["labels"]["uf1"],
                    "uar": held["labels"]["uar"], "matched_events": held["labels"]["matched"]}
    stamp_card(model, {"people": list(TRAINING_PEOPLE), "held_out_people": list(HELD_OUT), "protocol": PROTOCOL},
               {"protocol": PROTOCOL, "held_out": held_summary})
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.update(protocol=PROTOCOL, people=list(TRAINING_PEOPLE), held_out=held)
    metrics["recipe"] = {
        "command": "python -m models.make_default",
        "steps": [f"python main.py synth --out SYNTH {shlex.join(SYNTH_ARGS + workers)}",
                  f"python main.py train --root SYNTH --out RUN {shlex.join(TRAIN_ARGS + workers)}",
                  f"python -m models.synth.heldout --model {model.relative_to(DEFAULT_DIR.parents[1])}"],
        "wall_seconds_this_call": round(time.perf_counter() - started, 1),
        "held_out_people": list(HELD_OUT),
    }
    (DEFAULT_DIR / "metrics.json").write_text(strict_json.dumps(metrics, indent=2) + "\n")
    print(f"{model}: LOSO by person UF1 {metrics['uf1']:.3f}, UAR {metrics['uar']:.3f}, accuracy "
          f"{metrics['accuracy']:.3f}; held-out people: spotting F1 {held_summary['spotting_f1']:.3f}, "
          f"UF1 {held_summary['uf1']:.3f} on {held_summary['matched_events']} matched events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
