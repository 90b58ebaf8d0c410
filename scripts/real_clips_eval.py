"""Score the labels ``analyze`` shows on the real development clips against what a person sees in them
(``scripts/real_clips_truth.json``). The README's "Evidence and abstention" table and the choice of the
default model come from this script:

    python scripts/fetch_real_clips.py clips/
    for m in models/default/epir_synthetic.onnx models/megc2019/epir_megc2019.onnx; do
      for c in clips/*.mp4 clips/*.mov; do
        python main.py analyze $c --model $m --out out/$(basename $m .onnx)/$(basename ${c%.*}) --no-progress
      done
    done
    python scripts/real_clips_eval.py out/epir_synthetic out/epir_megc2019

An event is *right* when its shown label is the emotion of the truth segment holding its apex, *wrong*
when it shows any other emotion (an emotion on speech or on a neutral face is wrong), otherwise it
*abstained* (``uncertain`` or ``none``). A truth expression is *spotted* when an event reported as an
expression (label not ``none``: a ``none`` event is reported as other motion) overlaps it, and *labelled
right* when an overlapping event is right. ``--redecide`` re-applies today's reading and
abstention rule (``--rule NAME=VALUE`` overrides an ``AbstentionRule`` field) to the recorded evidence,
motion and probabilities instead of scoring the labels as written: the development loop for thresholds.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.abstention import NONE, AbstentionRule, MotionContext, decide  # noqa: E402
from app.evidence import READINGS, Evidence  # noqa: E402
from app.flow_reading import FlowReading  # noqa: E402

TRUTH = Path(__file__).with_name("real_clips_truth.json")
NO_EXPRESSION = "no expression"


@dataclass
class Tally:
    events: int = 0
    right: int = 0
    wrong: int = 0
    abstained: int = 0
    model_right: int = 0  # the model's own label, without the abstention
    model_wrong: int = 0
    expressions: int = 0
    spotted: int = 0
    labelled_right: int = 0

    def add(self, other: "Tally") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def row(self) -> str:
        return (f"{self.events} events: {self.right} right, {self.wrong} wrong, {self.abstained} abstained "
                f"(model alone: {self.model_right} right, {self.model_wrong} wrong); "
                f"{self.expressions} expressions: {self.spotted} spotted, {self.labelled_right} labelled right")


def truth_at(segments: list[dict], onset: float, apex: float, offset: float) -> str:
    """The truth segment holding the apex, else the one overlapping the event most, else no expression."""
    for s in segments:
        if s["start"] <= apex <= s["end"]:
            return s["label"]
    overlaps = [(min(offset, s["end"]) - max(onset, s["start"]), s["label"]) for s in segments]
    best = max(overlaps, default=(0.0, NO_EXPRESSION))
    return best[1] if best[0] > 0 else NO_EXPRESSION


def shown_label(event: dict, synthetic: bool, rule: AbstentionRule | None) -> tuple[str | None, str]:
    """The event's label and the reason for it: as written, or under ``rule`` and today's reading."""
    if rule is None:
        return event["label"], event["label_reason"]
    evidence = Evidence.from_json(event["evidence"]).reread() if event.get("evidence") else None
    motion = MotionContext.from_json(event["motion"]) if event.get("motion") else None
    flow = FlowReading.from_json(event["flow_reading"]) if event.get("flow_reading") else None
    verdict = decide(event["model_label"], event["probabilities"], evidence, motion, rule, synthetic, flow,
                     macro=event.get("kind") == "macro")
    return verdict.label, verdict.reason


def score_clip(folder: Path, clip: dict, rule: AbstentionRule | None, verbose: bool) -> Tally:
    run = json.loads((folder / "events.json").read_text())
    synthetic = bool((run.get("model") or {}).get("synthetic", True))
    tally = Tally()
    segments = clip["segments"]
    judged = []
    for e in run["events"]:
        label, reason = shown_label(e, synthetic, rule)
        truth = truth_at(segments, e["onset_s"], e["apex_s"], e["offset_s"])
        verdict = ("abstained" if label not in READINGS else "right" if label == truth else "wrong")
        setattr(tally, verdict, getattr(tally, verdict) + 1)
        tally.events += 1
        if e["model_label"] in READINGS:
            tally.model_right += e["model_label"] == truth
            tally.model_wrong += e["model_label"] != truth
        judged.append((e, label, verdict))
        if verbose:
            print(f"    {e['onset_s']:6.2f}-{e['offset_s']:6.2f} s  {str(label):<9} truth {truth:<13} {verdict:<9} "
                  f"| {reason} | {e['evidence_text']} | {e.get('motion')}")
    for s in (s for s in segments if s["label"] != NO_EXPRESSION):
        tally.expressions += 1
        overlapping = [(label, v) for e, label, v in judged if e["onset_s"] <= s["end"] and e["offset_s"] >= s["start"]]
        tally.spotted += any(label != NONE for label, _ in overlapping)
        tally.labelled_right += any(v == "right" for _, v in overlapping)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="a folder per model, holding one analyze folder per clip")
    parser.add_argument("--truth", type=Path, default=TRUTH)
    parser.add_argument("--redecide", action="store_true", help="re-apply today's rule to the recorded inputs")
    parser.add_argument("--rule", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per event")
    args = parser.parse_args(argv)
    rule = None
    if args.redecide or args.rule:
        overrides = dict(item.split("=", 1) for item in args.rule)
        rule = replace(AbstentionRule(), **{k: type(getattr(AbstentionRule(), k))(v) for k, v in overrides.items()})
    clips = json.loads(args.truth.read_text())["clips"]
    for run in args.runs:
        total = Tally()
        print(f"{run.name}:")
        for name, clip in clips.items():
            folder = run / Path(name).stem
            if not (folder / "events.json").exists():
                print(f"  {name}: no analysis in {folder}")
                continue
            tally = score_clip(folder, clip, rule, args.verbose)
            total.add(tally)
            print(f"  {name}: {tally.row()}")
        print(f"  all: {total.row()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
