"""Reproduce the shipped default model: ``python -m models.make_default [--work runs/default]``.

Renders the synthetic benchmark, trains EPIR with leave-one-subject-out evaluation and the fixed
recipe below, then copies the ONNX file and its metrics into ``models/default/``. One command, so the
shipped file and the figures in its model card can be regenerated and checked by anyone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from app.cli import main as cli_main

DEFAULT_DIR = Path(__file__).resolve().parent / "default"
SYNTH_ARGS = ["--subjects", "12", "--clips-per-subject", "24", "--fps", "60", "--seed", "0"]
TRAIN_ARGS = ["--dataset", "synthetic", "--protocol", "loso", "--epochs", "20", "--batch-size", "32",
              "--lr", "0.001", "--loss", "ce", "--seed", "0"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.make_default", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("runs/default"), help="where the data and the run go")
    parser.add_argument("--workers", type=int, default=2, help="processes for rendering, preprocessing and folds")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    workers = ["--workers", str(args.workers)]
    synth, run = args.work / "synth", args.work / "run"
    for command in (["synth", "--out", str(synth), *SYNTH_ARGS, *workers],
                    ["train", "--root", str(synth), "--out", str(run), "--cache", str(args.work / "cache"),
                     *TRAIN_ARGS, *workers]):
        print("+ python main.py " + " ".join(command), flush=True)
        code = cli_main(command)
        if code:
            return code
    DEFAULT_DIR.mkdir(exist_ok=True)
    shutil.copyfile(run / "model.onnx", DEFAULT_DIR / "epir_synthetic.onnx")
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["recipe"] = {
        "command": "python -m models.make_default",
        "steps": [f"python main.py synth --out SYNTH {' '.join(SYNTH_ARGS + workers)}",
                  f"python main.py train --root SYNTH --out RUN {' '.join(TRAIN_ARGS + workers)}"],
        "wall_seconds_total": round(time.perf_counter() - started, 1),
    }
    (DEFAULT_DIR / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"models/default/epir_synthetic.onnx: LOSO UF1 {metrics['uf1']:.3f}, UAR {metrics['uar']:.3f}, "
          f"accuracy {metrics['accuracy']:.3f}; {metrics['recipe']['wall_seconds_total'] / 60:.1f} min in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
