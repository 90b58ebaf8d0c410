"""One interface for everything that consumes the pipeline's results: ``analyze``'s files, the app's
export and the session recorder (in the spirit of supervision's sinks).

A sink is a context manager fed with results; the dispatch on result types lives here once. Leaving the
``with`` block by an exception closes the sink as interrupted. ``run_header`` builds the description of
a run (source, model, spotting options) that events.json starts with, for every writer of that file.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app import __version__, strict_json
from app.classifier import Classifier
from app.errors import OutputError, output_error, printable
from app.events import EVENT_CSV_FIELDS, FRAME_CSV_FIELDS, Event, FrameRow
from app.pipeline import EventResult, FrameResult, Result
from app.paths import existing_ancestor
from app.private_files import DIR_MODE, make_private, open_private, private_dir, write_private
from app.sources import SourceInfo
from app.spotting import SpotSample, SpottingOptions


class ResultSink:
    """Base of every consumer of results. Subclasses implement the ``add_*`` methods they need."""

    def feed(self, result: Result) -> None:
        """The one dispatch on result types."""
        if isinstance(result, FrameResult):
            for row in result.rows():
                self.add_frame(row)
        elif isinstance(result, SpotSample):
            self.add_signal(result)
        elif isinstance(result, EventResult):
            self.add_event_result(result)

    def add_frame(self, row: FrameRow) -> None:
        """A per-frame record of one face (its spotting signal may come later, through ``add_signal``)."""

    def add_signal(self, sample: SpotSample) -> None:
        """The spotting signal of an earlier frame."""

    def add_event_result(self, result: EventResult) -> None:
        """A spotted event with its faces and classification; by default only the event is kept."""
        self.add_event(result.event)

    def add_event(self, event: Event) -> None:
        """A spotted (and classified) event."""

    def close(self, summary: dict[str, Any] | None = None, complete: bool = True) -> None:
        """Finish: ``complete`` False when the run was interrupted (what was written is kept, marked)."""

    def __enter__(self) -> "ResultSink":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(None, complete=exc_type is None)


def run_header(info: SourceInfo, classifier: Classifier | None, spotting: SpottingOptions) -> dict[str, Any]:
    """What events.json says about the run before its events: source, model (with its caveat), spotting."""
    return {
        "source": {"path": info.name, "kind": info.kind, "fps": info.fps, "width": info.width, "height": info.height},
        "model": None if classifier is None else {
            "name": classifier.card.name, "version": classifier.card.version, "path": printable(classifier.path),
            "provider": classifier.provider_label, "synthetic": classifier.card.synthetic,
            "caveat": classifier.card.honesty_note,
        },
        "spotting": asdict(spotting),
    }


PARTIAL = "partial"  # OUT/partial/: the run in progress, or the last interrupted one
WRITER = ".writer"  # in OUT/partial/: host and process of the run writing there
_SIGNALS = "spotting_signal.csv"  # in OUT/partial/ during a run: frame, face_id, signal, threshold
OUTPUT_FILES = ("frames.csv", "events.csv", "events.json")  # events.json last: it says the set is complete


def check_output_folder(out: Path) -> None:
    """OutputError if ``out`` cannot become a folder we can write, found without writing anything."""
    if out.exists() and not out.is_dir():
        raise OutputError(out, "exists and is not a folder")
    existing = existing_ancestor(out)
    if not existing.is_dir():
        raise OutputError(out, f"{printable(existing)} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(out, f"cannot write in {printable(existing)} (read-only or permission denied)")
    _refuse_live_writer(out)


def _refuse_live_writer(out: Path) -> None:
    """OutputError when another run (alive, on this host) is writing into ``out``."""
    from app.sessions import liveness  # here: app.sessions imports this module (its recorder is a sink)

    writer = _read_writer(out / PARTIAL / WRITER)
    if writer is not None and writer[0] == liveness.host() and liveness.is_alive(writer[1]):
        raise OutputError(out, f"another analysis (process {writer[1].split(':')[0]}) is writing here; "
                               "wait for it or choose another --out")


class FolderSink(ResultSink):
    """events.json, events.csv and frames.csv of one analysis, written as results arrive.

    Everything is written into ``OUT/partial/`` first and moved into ``OUT`` when the run completes, so
    a refused or failed run leaves earlier results in ``OUT`` as they were. Every row is flushed as it is
    written (a killed run keeps all but the row being written) and events.json is replaced atomically
    after each event. Frame rows go out at once; their spotting signal, known a little later, goes to a
    side file and is joined into frames.csv at the end. An interrupted run's files stay in
    ``OUT/partial/``, complete in form and marked ``"complete": false``; a later run moves such a folder
    aside to ``OUT/partial-<time>/`` rather than delete it. A second run into the same ``OUT`` while one
    is writing there is refused.
    """

    def __init__(self, out_dir: str | Path, header: dict[str, Any], classes: tuple[str, ...] = ()):
        self.out_dir = Path(out_dir)
        self.header = header
        self.classes = tuple(classes)
        self.events: list[Event] = []
        self.closed = False
        check_output_folder(self.out_dir)
        try:
            self.work = self._claim()
        except OSError as exc:
            raise output_error(self.out_dir, exc) from None
        try:
            self._frames = _CsvFile(self.work / "frames.csv", FRAME_CSV_FIELDS)
            self._signals = _CsvFile(self.work / _SIGNALS, None)
            self._events = _CsvFile(self.work / "events.csv", EVENT_CSV_FIELDS + [f"p_{c}" for c in self.classes])
            self._write_json()
        except OSError as exc:
            shutil.rmtree(self.work, ignore_errors=True)  # nothing written yet: no partial folder to keep
            raise output_error(self.out_dir, exc) from None

    # --- the sink ---------------------------------------------------------------------------------

    def add_frame(self, row: FrameRow) -> None:
        self._frames.write(row.to_csv())

    def add_signal(self, sample: SpotSample) -> None:
        self._signals.write([sample.frame + 1, sample.face_id, sample.value, sample.threshold])

    def add_event(self, event: Event) -> None:
        self.events.append(event)
        record = strict_json.finite(event.to_json())
        self._events.write([record[f] if record[f] is not None else "" for f in EVENT_CSV_FIELDS]
                           + [_blank(record["probabilities"].get(c)) for c in self.classes])
        self._write_json()

    def close(self, summary: dict[str, Any] | None = None, complete: bool = True) -> None:
        """Write the summary; when ``complete``, move the files into ``OUT``."""
        if self.closed:
            return
        self.closed = True
        self.header = {**self.header, "summary": {"complete": complete, **(summary or {})}}
        try:
            for table in (self._frames, self._signals, self._events):
                table.close()
            self._join_signals()
            self._write_json()
            if complete:
                for name in OUTPUT_FILES:
                    os.replace(self.work / name, self.out_dir / name)
                (self.work / WRITER).unlink()
                self.work.rmdir()
            else:  # kept, and free for the next run to move aside
                (self.work / WRITER).unlink(missing_ok=True)
        except OSError as exc:
            raise output_error(self.out_dir, exc) from None

    @property
    def final_dir(self) -> Path:
        """Where the files are once closed: ``OUT``, or ``OUT/partial`` for an interrupted run."""
        return self.work if self.work.exists() else self.out_dir

    # --- internals --------------------------------------------------------------------------------

    def _claim(self) -> Path:
        """Create OUT/partial/ for this run (the lock); move a dead run's folder aside; refuse a live one."""
        from app.sessions import liveness

        work = self.out_dir / PARTIAL
        private_dir(self.out_dir)  # readable by the user only, like every file written in it
        for _ in range(3):
            try:
                work.mkdir(mode=DIR_MODE)
            except FileExistsError:
                _refuse_live_writer(self.out_dir)
                stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(work.stat().st_mtime))
                aside = self.out_dir / f"{PARTIAL}-{stamp}"
                n = 1
                while aside.exists():
                    aside, n = self.out_dir / f"{PARTIAL}-{stamp}-{n}", n + 1
                os.replace(work, aside)
                _warn(f"note: {printable(work)}: an interrupted run's results; moved to {printable(aside)}")
                continue
            make_private(work)
            write_private(work / WRITER, f"{liveness.host()}\n{liveness.process_token()}\n")
            return work
        raise OutputError(work, "cannot be claimed (another run keeps creating it)")

    def _write_json(self) -> None:
        payload = {**self.header, "software": f"epir-live {__version__}", "classes": list(self.classes),
                   "events": [e.to_json() for e in self.events]}
        _replace_text(self.work / "events.json", strict_json.dumps(payload, indent=1))

    def _join_signals(self) -> None:
        """frames.csv with the spotting signal filled in from the side file (rows keep their own otherwise)."""
        signals_path = self.work / _SIGNALS
        if not signals_path.exists():
            return
        with open(signals_path, newline="", encoding="utf-8") as handle:
            signals = {(row[0], row[1]): row[2:] for row in csv.reader(handle) if len(row) == 4}
        if signals:
            frames_path, joined = self.work / "frames.csv", self.work / "frames.csv.joining"
            with open(frames_path, newline="", encoding="utf-8") as src, \
                    open_private(joined, "w", newline="", encoding="utf-8") as dst:
                rows, out = csv.reader(src), csv.writer(dst)
                head = next(rows)
                out.writerow(head)
                at, face = head.index("frame"), head.index("face_id")
                sig, thr = head.index("spot_signal"), head.index("spot_threshold")
                for row in rows:
                    value = signals.get((row[at], row[face]))
                    if value is not None:
                        row[sig], row[thr] = _csv(float(value[0])), _csv(float(value[1]))
                    out.writerow(row)
            os.replace(joined, frames_path)
        signals_path.unlink()


class _CsvFile:
    """One CSV file of the run (0600), every row flushed as it is written; errors name the file."""

    def __init__(self, path: Path, header: list[str] | None):
        self.path = path
        self._file = open_private(path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        if header is not None:
            self.write(header)

    def write(self, row: list[Any]) -> None:
        try:
            self._csv.writerow(row)
            self._file.flush()
        except OSError as exc:
            raise output_error(self.path, exc) from None

    def close(self) -> None:
        try:
            self._file.close()
        except OSError as exc:
            raise output_error(self.path, exc) from None


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _csv(value: float | None) -> str:
    """A CSV number as FrameRow writes them (5 decimals; empty when unknown)."""
    return "" if value is None or not math.isfinite(value) else f"{value:.5f}"


def _replace_text(path: Path, text: str) -> None:
    """Write ``path`` atomically (0600); no stray temporary file is left when the write fails."""
    try:
        write_private(path, text)
    except OSError:
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)
        raise


def _read_writer(path: Path) -> tuple[str, str] | None:
    try:
        host, token = path.read_text().split()[:2]
        return host, token
    except (OSError, ValueError):
        return None


def _warn(text: str) -> None:
    logging.getLogger("epir.sinks").warning(text)
