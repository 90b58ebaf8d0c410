"""A batch's account of itself: ``index.csv`` / ``index.json`` (one row per input, rewritten atomically
as inputs finish, so an interrupted batch still has one), the progress bar over the whole batch, and
the summary table at the end."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from tqdm import tqdm

from app.errors import printable

STATUSES = ("ok", "failed", "skipped")
TABLE_ROWS = 40  # the summary table lists at most this many inputs (failed ones first); index.csv has all


@dataclass(frozen=True)
class Row:
    path: str  # the input
    status: str  # ok | failed | skipped
    frames: int
    events: int
    seconds: float  # of the analysis (for a skipped input: of the run that made its outputs)
    fps: float
    error: str  # the one-line reason of a failed input
    output: str  # its output folder, relative to the batch's OUT


INDEX_FIELDS = [f.name for f in fields(Row)]


def write_index(out: Path, rows: list[Row]) -> None:
    """index.csv and index.json in ``out``, each replaced atomically."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(INDEX_FIELDS)
    for row in rows:
        writer.writerow([getattr(row, name) for name in INDEX_FIELDS])
    _replace(out / "index.csv", text.getvalue())
    _replace(out / "index.json", json.dumps({"inputs": [asdict(r) for r in rows]}, indent=1))


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


class Progress:
    """One bar over the frames of every input still to analyse: inputs done, frames, rate and ETA.

    Engines that report frames as they go (the local pool) call ``frames``; ``finished`` settles an
    input's count either way (a failed input's expected frames leave the total).
    """

    def __init__(self, expected: dict[int, int], skipped: int, enabled: bool):
        self.expected = dict(expected)  # frames to expect per input index still to analyse
        self.seen: dict[int, int] = {}
        self.inputs, self.done, self.failed, self.skipped = len(expected) + skipped, skipped, 0, skipped
        self.bar = tqdm(total=sum(expected.values()) or None, unit="frame", disable=not enabled, file=sys.stderr,
                        dynamic_ncols=True, smoothing=0.05)
        self._postfix()

    def frames(self, index: int, count: int) -> None:
        if index not in self.expected:  # a count that arrived after its input's outcome: already settled
            return
        self.seen[index] = self.seen.get(index, 0) + count
        self.bar.update(count)

    def finished(self, index: int, row: Row) -> None:
        seen = self.seen.pop(index, 0)
        expected = self.expected.pop(index, 0)
        if self.bar.total is not None:
            self.bar.total += max(row.frames, seen) - expected
        if row.frames > seen:
            self.bar.update(row.frames - seen)
        self.done += 1
        self.failed += row.status == "failed"
        what = f"{row.frames} frames, {row.events} events, {row.fps:.1f} fps" if row.status == "ok" else row.error
        self.bar.write(f"{row.status}: {row.path}: {what}", file=sys.stderr)
        self._postfix()

    def close(self) -> None:
        self.bar.close()

    def _postfix(self) -> None:
        failed = f", {self.failed} failed" if self.failed else ""
        self.bar.set_postfix_str(f"inputs {self.done}/{self.inputs}{failed}")


def summary_table(rows: list[Row], elapsed: float, workers: int, engine: str) -> str:
    """The table printed at the end: failed inputs first, then the others, then the totals."""
    head = f"{'status':<7}  {'frames':>7}  {'events':>6}  {'seconds':>8}  {'fps':>6}  input"
    ordered = sorted(rows, key=lambda r: (r.status != "failed", r.path))
    lines = [head, "-" * len(head)]
    for r in ordered[:TABLE_ROWS]:
        tail = f"{r.path}: {r.error}" if r.status == "failed" else r.path
        numbers = (f"{'-':>7}  {'-':>6}  {'-':>8}  {'-':>6}" if r.status == "failed"
                   else f"{r.frames:>7}  {r.events:>6}  {r.seconds:>8.1f}  {r.fps:>6.1f}")
        lines.append(f"{r.status:<7}  {numbers}  {printable(tail)}")
    if len(rows) > TABLE_ROWS:
        lines.append(f"... and {len(rows) - TABLE_ROWS} more (index.csv lists every input)")
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    analysed = sum(r.frames for r in rows if r.status == "ok")
    lines.append(f"{len(rows)} inputs: {counts['ok']} ok, {counts['skipped']} skipped (already done), "
                 f"{counts['failed']} failed; {analysed} frames analysed in {elapsed:.1f} s "
                 f"({analysed / max(elapsed, 1e-9):.1f} frames/s, {workers} workers, {engine})")
    return "\n".join(lines)
