"""``python main.py evaluate-spotting --pred PRED --truth TRUTH``: spotting scored by the MEGC rule.

A spotted interval is a true positive when its IoU with a ground-truth interval of the same kind is
at least 0.5 (frames inclusive); each ground-truth interval matches at most one spotted interval
(greedy, highest IoU first). Counts are pooled over all videos, then F1 = 2·TP / (spotted + truth).
Reported for micro-expressions, macro-expressions, and overall (the two kinds' counts summed), as in
MEGC2020-22. Other kinds in the ground truth (distractors such as blinks) are not scored.

Only events reported as expressions are scored: a spotted motion the product judged not to be an expression
(``expression`` false, label ``none``: a blink, speech, a head movement, a hand) is not a spotted
expression, as the app and the report show it; ``--all-motion`` scores every spotted motion instead (the
spotter alone, before the abstention).

PRED: an ``events.csv``/``events.json`` file written by ``main.py analyze`` (the video is named by its
folder), a folder holding one, or a folder of such folders, one per video.
TRUTH: the synthetic benchmark's ``ground_truth.csv`` (column ``video``) or ``<video>.json`` files
(``intervals``), or a folder holding them (e.g. ``DIR/long``). Videos are matched by name (a file's
stem, a folder's name); with exactly one video on each side the names need not agree.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app import strict_json
from app.abstention import NONE
from app.errors import InputError

KINDS = ("micro", "macro")
IOU_THRESHOLD = 0.5
EVENT_FILES = ("events.json", "events.csv")


@dataclass(frozen=True)
class Interval:
    onset: int
    offset: int  # inclusive
    kind: str


@dataclass(frozen=True)
class SpotCounts:
    tp: int
    spotted: int
    truth: int

    @property
    def precision(self) -> float:
        return self.tp / self.spotted if self.spotted else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        total = self.spotted + self.truth
        return 2 * self.tp / total if total else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "fp": self.spotted - self.tp, "fn": self.truth - self.tp,
                "precision": self.precision, "recall": self.recall, "f1": self.f1}

    def __add__(self, other: "SpotCounts") -> "SpotCounts":
        return SpotCounts(self.tp + other.tp, self.spotted + other.spotted, self.truth + other.truth)


def iou(a: Interval, b: Interval) -> float:
    inter = min(a.offset, b.offset) - max(a.onset, b.onset) + 1
    if inter <= 0:
        return 0.0
    union = (a.offset - a.onset + 1) + (b.offset - b.onset + 1) - inter
    return inter / union


def matched_pairs(spotted: list[Interval], truth: list[Interval]) -> list[tuple[int, int]]:
    """(spotted index, truth index) of one-to-one pairs with IoU >= 0.5, taken greedily by decreasing IoU."""
    pairs = sorted(((iou(s, t), i, j) for i, s in enumerate(spotted) for j, t in enumerate(truth)), reverse=True)
    used_s, used_t, out = set(), set(), []
    for value, i, j in pairs:
        if value < IOU_THRESHOLD:
            break
        if i not in used_s and j not in used_t:
            used_s.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


def match(spotted: list[Interval], truth: list[Interval]) -> int:
    """True positives: one-to-one pairs with IoU >= 0.5."""
    return len(matched_pairs(spotted, truth))


def evaluate(spotted: dict[str, list[Interval]], truth: dict[str, list[Interval]]) -> dict[str, SpotCounts]:
    """Counts per kind and overall, pooled over the videos of ``truth`` (a video not spotted has no intervals)."""
    result = {kind: SpotCounts(0, 0, 0) for kind in KINDS}
    for video, true_intervals in truth.items():
        for kind in KINDS:
            s = [i for i in spotted.get(video, []) if i.kind == kind]
            t = [i for i in true_intervals if i.kind == kind]
            result[kind] = result[kind] + SpotCounts(match(s, t), len(s), len(t))
    result["overall"] = result["micro"] + result["macro"]
    return result


# --- reading files ---------------------------------------------------------------------------------

def _interval(record: dict, names: tuple[str, str], where: Path) -> Interval:
    try:
        return Interval(int(float(record[names[0]])), int(float(record[names[1]])), str(record["kind"]).strip())
    except KeyError as exc:
        raise InputError(where, f"missing field {exc.args[0]!r}") from None
    except ValueError:
        raise InputError(where, f"not a frame number in {record}") from None


def _load(path: Path) -> Any:
    """A JSON file's value, or a CSV file's rows as dicts; InputError (one line) for a file that is
    not UTF-8 text or not valid JSON/CSV."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            return json.loads(text)
        return list(csv.DictReader(io.StringIO(text, newline="")))
    except UnicodeDecodeError:
        raise InputError(path, "not a text file (not UTF-8: binary or another encoding)") from None
    except (json.JSONDecodeError, csv.Error) as exc:
        raise InputError(path, f"not valid {path.suffix.lstrip('.').upper() or 'CSV'} ({exc})") from None
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None


def is_expression(record: dict) -> bool:
    """An events file's record is an expression unless it says otherwise (``expression`` false in JSON,
    ``False`` in CSV); files written before that field existed: unless its label is ``none``."""
    flag = record.get("expression")
    if flag is None or flag == "":
        return str(record.get("label") or "") != NONE
    return flag is True or str(flag).strip().lower() in ("true", "1")


def read_events(path: Path, all_motion: bool = False) -> list[Interval]:
    """Spotted expressions from an ``analyze`` events file (fields onset_frame, offset_frame, kind;
    ``all_motion``: also the events that are not expressions)."""
    names = ("onset_frame", "offset_frame")
    data = _load(path)
    records = data.get("events", []) if isinstance(data, dict) and path.suffix == ".json" else data
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError(path, "not a list of events")
    return [_interval(r, names, path) for r in records if all_motion or is_expression(r)]


def read_spotted(pred: Path, all_motion: bool = False) -> dict[str, list[Interval]]:
    if pred.is_file():
        return {pred.resolve().parent.name: read_events(pred, all_motion)}
    if not pred.is_dir():
        raise InputError(pred, "not found")
    own = next((pred / n for n in EVENT_FILES if (pred / n).is_file()), None)
    if own is not None:
        return {pred.resolve().name: read_events(own, all_motion)}
    videos = {}
    for folder in sorted(p for p in pred.iterdir() if p.is_dir()):
        found = next((folder / n for n in EVENT_FILES if (folder / n).is_file()), None)
        if found is not None:
            videos[folder.name] = read_events(found, all_motion)
    if not videos:
        raise InputError(pred, f"no {' or '.join(EVENT_FILES)} here or in its sub-folders")
    return videos


def read_truth(truth: Path) -> dict[str, list[Interval]]:
    names = ("onset", "offset")
    if truth.is_dir():
        table = truth / "ground_truth.csv"
        if table.is_file():
            return read_truth(table)
        files = sorted(p for p in truth.glob("*.json"))
        if not files:
            raise InputError(truth, "no ground_truth.csv or <video>.json files here")
        return {k: v for f in files for k, v in read_truth(f).items()}
    if not truth.is_file():
        raise InputError(truth, "not found")
    if truth.suffix == ".json":
        data = _load(truth)
        if not isinstance(data, dict) or not isinstance(data.get("intervals"), list):
            raise InputError(truth, "missing field 'intervals'")
        return {truth.stem: [_interval(r, names, truth) for r in data["intervals"]]}
    rows = _load(truth)
    if rows and "video" not in rows[0]:
        raise InputError(truth, "missing column 'video'")
    videos: dict[str, list[Interval]] = {}
    for row in rows:
        videos.setdefault(Path(row["video"]).stem, []).append(_interval(row, names, truth))
    return videos


def pair_videos(spotted: dict[str, list[Interval]], truth: dict[str, list[Interval]], pred: Path) -> dict[str, list[Interval]]:
    if len(spotted) == 1 and len(truth) == 1:
        return {next(iter(truth)): next(iter(spotted.values()))}
    unknown = sorted(set(spotted) - set(truth))
    if unknown:
        raise InputError(pred, f"video(s) {', '.join(unknown)} not in the ground truth")
    return spotted


# --- command ---------------------------------------------------------------------------------------

def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", type=Path, required=True, help="events.csv/json, or a folder of per-video folders")
    parser.add_argument("--truth", type=Path, required=True, help="ground_truth.csv, <video>.json, or their folder")
    parser.add_argument("--out", type=Path, help="also write the scores as JSON here")
    parser.add_argument("--all-motion", action="store_true",
                        help="score every spotted motion, also those reported as not an expression (label none)")


def main(args: argparse.Namespace) -> int:
    truth = read_truth(args.truth)
    spotted = pair_videos(read_spotted(args.pred, args.all_motion), truth, args.pred)
    missing = sorted(set(truth) - set(spotted))
    result = evaluate(spotted, truth)
    scored = "every spotted motion" if args.all_motion else "spotted expressions (events labelled none left out)"
    print(f"{len(truth)} video(s); {scored}; MEGC rule: IoU >= {IOU_THRESHOLD}, one-to-one, counts pooled over videos")
    if missing:
        print(f"no spotted events for {len(missing)} video(s): {', '.join(missing)}")
    print(f"{'':8} {'TP':>5} {'FP':>5} {'FN':>5} {'precision':>10} {'recall':>8} {'F1':>7}")
    for name, c in result.items():
        print(f"{name:8} {c.tp:5d} {c.spotted - c.tp:5d} {c.truth - c.tp:5d} {c.precision:10.3f} {c.recall:8.3f} {c.f1:7.3f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(strict_json.dumps({k: v.as_dict() for k, v in result.items()}, indent=2))
    return 0
