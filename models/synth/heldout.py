"""The shipped model on people it never saw: ``python -m models.synth.heldout [--out runs/heldout]``.

An independent synthetic test set: six 30-s long videos of the people ``models.make_default`` holds out of
training (``HELD_OUT``), rendered closer to life (held expressions, speech, head movements, hands,
blinks) with a seed the training data never used. Each video is analysed by ``analyze`` exactly as a
user would, then scored two ways:

- spotting: the MEGC rule (IoU >= 0.5 with a true interval of the same kind, one-to-one), by
  ``evaluate-spotting``'s own code, on the events the product reports as expressions (a motion labelled
  ``none`` is reported as other motion, not as an expression); distractors are not expressions, so one
  reported as an expression is a false positive. Also scored on every spotted motion (``--all-motion``);
- labels: every event reported as an expression that overlaps a true expression with IoU >= 0.5 (of any
  kind, one-to-one) is a matched event; UF1 and UAR over the three MEGC classes compare its ``label`` with
  the truth, and a label outside them (``uncertain``) counts as a miss of the true class.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from app.cli import main as cli_main
from models.make_default import HELD_OUT
from models.metrics import confusion_matrix, scores
from models.spotting_eval import Interval, evaluate, is_expression, matched_pairs, read_spotted, read_truth

CLASSES = ("negative", "positive", "surprise")
SEED = 101  # the training benchmark uses seed 0
# Two renderings (plain and mirrored) of each held-out person, one 30-s video each.
SYNTH_ARGS = ["--subjects", str(2 * len(HELD_OUT)), "--clips-per-subject", "0", "--long-videos", str(2 * len(HELD_OUT)),
              "--long-seconds", "30", "--long-fps", "30", "--seed", str(SEED), "--life", "--photos", ",".join(HELD_OUT)]


def matched_labels(events: list[dict], truth: list[dict]) -> list[tuple[str, str]]:
    """(true class, predicted label) for spotted events paired one-to-one with true expressions, greedily
    by decreasing IoU (>= 0.5), whatever their kinds."""
    spans = [Interval(int(e["onset_frame"]), int(e["offset_frame"]), "") for e in events]
    truths = [Interval(int(t["onset"]), int(t["offset"]), "") for t in truth]
    return [(truth[j]["class3"], str(events[i].get("label"))) for i, j in matched_pairs(spans, truths)]


def label_scores(pairs: list[tuple[str, str]]) -> dict:
    """UF1 / UAR / accuracy over the MEGC classes; other predicted labels are one extra, always-wrong column."""
    index = {c: k for k, c in enumerate(CLASSES)}
    truth = [index[t] for t, _ in pairs]
    pred = [index.get(p, len(CLASSES)) for _, p in pairs]
    matrix = confusion_matrix(np.array(truth, int), np.array(pred, int), len(CLASSES) + 1)
    s = scores(matrix)
    f1, recall = np.array(s.f1[:len(CLASSES)]), np.array(s.recall[:len(CLASSES)])
    return {"matched": len(pairs), "uf1": float(np.nanmean(f1)), "uar": float(np.nanmean(recall)),
            "accuracy": s.accuracy, "confusion": matrix[:len(CLASSES)].tolist(),
            "columns": [*CLASSES, "other label"]}


def score(pred: Path, truth_dir: Path) -> dict:
    truth = read_truth(truth_dir)
    pairs = []
    for video in sorted(truth):
        events = [e for e in json.loads((pred / video / "events.json").read_text()).get("events", []) if is_expression(e)]
        intervals = json.loads((truth_dir / f"{video}.json").read_text())["intervals"]
        pairs += matched_labels(events, intervals)
    as_dicts = lambda result: {k: v.as_dict() for k, v in result.items()}  # noqa: E731
    return {"people": list(HELD_OUT), "seed": SEED, "videos": len(truth),
            "spotting": as_dicts(evaluate(read_spotted(pred), truth)),
            "spotting_all_motion": as_dicts(evaluate(read_spotted(pred, all_motion=True), truth)),
            "labels": label_scores(pairs)}


def run_set(out: Path, synth_args: list[str], name: str = "pred", model: Path | None = None, workers: int = 1,
            reuse: bool = False) -> dict | None:
    """Render ``synth_args``'s long videos into ``OUT/data`` (kept when ``reuse`` and already there), analyse
    each with ``analyze`` into ``OUT/NAME`` and score them; None when a command failed."""
    data, pred = out / "data", out / name
    rendered = reuse and (data / "long" / "ground_truth.csv").is_file()
    if not rendered and cli_main(["synth", "--out", str(data), *synth_args, "--workers", str(workers)]):
        return None
    options = ["--model", str(model)] if model else []
    for video in sorted((data / "long").glob("*.avi")):
        if cli_main(["analyze", str(video), "--out", str(pred / video.stem), "--no-progress", *options]):
            return None
    return score(pred, data / "long")


def summary_line(result: dict) -> str:
    s, a, labels = result["spotting"]["overall"], result["spotting_all_motion"]["overall"], result["labels"]
    return (f"spotting F1 {s['f1']:.3f} (TP {s['tp']}, FP {s['fp']}, FN {s['fn']}; every spotted motion: F1 "
            f"{a['f1']:.3f}); labels on {labels['matched']} matched events: UF1 {labels['uf1']:.3f}, "
            f"UAR {labels['uar']:.3f}, confusion {labels['confusion']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.synth.heldout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/heldout"), help="where the videos and results go")
    parser.add_argument("--model", type=Path, help="ONNX model to use (default: the shipped one)")
    parser.add_argument("--workers", type=int, default=1, help="processes for rendering")
    parser.add_argument("--reuse", action="store_true", help="keep videos already rendered in --out")
    args = parser.parse_args(argv)
    result = run_set(args.out, SYNTH_ARGS, model=args.model, workers=args.workers, reuse=args.reuse)
    if result is None:
        return 1
    (args.out / "scores.json").write_text(json.dumps(result, indent=2))
    print(f"held-out people {', '.join(HELD_OUT)}, seed {SEED}: {summary_line(result)} → {args.out / 'scores.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
