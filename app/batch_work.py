"""One input of a batch, as a worker runs it: ``analyze``'s own code path, its outcome as one index row,
and the record beside its outputs that lets a rerun skip it.

Workers are single-threaded (OpenCV, ONNX Runtime, and OpenMP/BLAS through the environment the batch
sets before they start), so that N workers use N cores without fighting over them. The same functions
serve the local process pool and Ray's tasks.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import __version__
from app.errors import InputError, OutputError, printable
from app.sinks import OUTPUT_FILES

log = logging.getLogger("epir.batch")

RECORD = "batch.json"  # in each input's output folder, written after its outputs are complete
SINGLE_THREAD_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}


@dataclass(frozen=True)
class Settings:
    """analyze's options (``add_analysis_options``), the same for every input of a batch."""

    options: dict[str, Any]  # by option name; "model" resolved: the file used, or None for spotting only
    library: dict[str, Any] | None = None  # add_library_options' values, when there is a --library
    library_key: bytes | None = field(default=None, repr=False)  # an encrypted library's key, unlocked once

    @property
    def model(self) -> Path | None:
        return self.options["model"]

    @staticmethod
    def key_of(options: dict[str, Any], model_sha256: str) -> dict[str, Any]:
        """What is recorded per input: when any of it changes, a rerun analyses the input again. The
        model counts by its content, not its path; the library not at all (it receives what a run
        analyses; --force records every input there)."""
        return {**{name: str(v) if isinstance(v, Path) else v for name, v in options.items() if name != "model"},
                "model_sha256": model_sha256, "software": __version__}


@dataclass(frozen=True)
class Task:
    index: int  # the input's row in the index
    input: str
    out: str  # the input's output folder, OUT/<relative path>
    sha256: str
    key: dict[str, Any]
    settings: Settings


@dataclass(frozen=True)
class Outcome:
    index: int
    status: str  # ok | failed | skipped
    frames: int = 0
    events: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    error: str = ""


def previous(task: Task) -> Outcome | None:
    """What an earlier run found, when it still holds (same content, same options): ``skipped`` when the
    input's outputs are complete, ``failed`` when the input itself was refused (an InputError: it would
    be refused again); None when the input must be analysed."""
    out = Path(task.out)
    try:
        record = json.loads((out / RECORD).read_text(encoding="utf-8"))
        if not task.sha256 or record["sha256"] != task.sha256 or record["options"] != task.key:
            return None
        if record["status"] == "failed":
            return Outcome(task.index, "failed", error=record["error"])
        summary = json.loads((out / "events.json").read_text(encoding="utf-8"))["summary"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if summary.get("complete") is not True or not all((out / name).is_file() for name in OUTPUT_FILES):
        return None
    return _outcome(task.index, "skipped", summary)


def run_task(task: Task, model_file: Path | None, on_frame: Callable[[], None] | None = None) -> Outcome:
    """Analyse one input with analyze's code path; any failure becomes the outcome's one-line reason."""
    from app.analyze_cmd import analyze  # the workers' heavy imports, after their thread settings
    from app.cli import describe_failure
    from app.logs import LOG_NAME, log_dir

    s = task.settings
    args = argparse.Namespace(**{**s.options, "model": model_file}, input=task.input, out=Path(task.out),
                              **(s.library or {"library": None, "no_faces": False}), label=None, live=False,
                              no_progress=True, stage_threads=False)  # one core per worker: the pool scales
    said = io.StringIO()  # analyze's notes and tables: into the log, not over the batch's progress
    if s.library_key is not None:
        from app.sessions import crypto

        crypto.remember(s.library["library"], s.library_key)
    try:
        classifier = _classifier(model_file, args.provider)
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            summary = analyze(args, classifier, on_frame)
        _write_record(task, {"status": "ok", "summary": summary})
    except Exception as exc:
        line, _ = describe_failure(exc, f"batch input {task.input}", log_dir() / LOG_NAME)
        reason = line.removeprefix("error: ").removeprefix(printable(task.input) + ": ")  # the row names it
        if isinstance(exc, InputError) and not isinstance(exc, OutputError):  # the input itself: not retried
            with contextlib.suppress(OSError):
                _write_record(task, {"status": "failed", "error": reason})
        return Outcome(task.index, "failed", error=reason)
    finally:
        log.debug("batch input %s:\n%s", task.input, said.getvalue().rstrip())
    return _outcome(task.index, "ok", summary)


def single_threaded() -> None:
    """This process's share of the machine: one core (call before the first frame)."""
    import cv2

    os.environ.update(SINGLE_THREAD_ENV)
    cv2.setNumThreads(1)


_classifiers: dict[tuple[str, str], Any] = {}


def _classifier(model_file: Path | None, provider: str):
    """The model, loaded once per worker process (single-threaded inference)."""
    from app.analyze_cmd import load_classifier

    key = (str(model_file), provider)
    if key not in _classifiers:
        _classifiers[key] = load_classifier(model_file, provider, threads=1)
    return _classifiers[key]


def _outcome(index: int, status: str, summary: dict[str, Any]) -> Outcome:
    return Outcome(index, status, int(summary.get("frames", 0)), int(summary.get("events", 0)),
                   float(summary.get("seconds", 0.0)), float(summary.get("fps", 0.0)))


def _write_record(task: Task, result: dict[str, Any]) -> None:
    """batch.json, atomically: after analyze moved the complete outputs in, or after the input was refused."""
    out = Path(task.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"input": task.input, "sha256": task.sha256, "options": task.key, **result,
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    tmp = out / (RECORD + ".tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    os.replace(tmp, out / RECORD)
