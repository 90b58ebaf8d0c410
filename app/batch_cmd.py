"""``python main.py batch INPUT... --out DIR``: analyse an archive of recordings, one ``analyze`` per input,
on every core (``--engine local``) or on a Ray cluster (``--engine ray``).

A failing input never stops the batch: it gets its one-line reason in ``DIR/index.csv``. A rerun skips
inputs whose outputs are complete and whose content and options are unchanged. Exit codes: 0 when every
input is ok (or skipped), 3 when some failed, 2 for bad usage (nothing analysed).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import multiprocessing
import os
import queue
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from app.analyze_cmd import (add_analysis_options, add_library_options, check_library_options, check_options,
                              load_classifier, open_checked_library)
from app.batch_index import Progress, Row, summary_table, write_index
from app.batch_inputs import BatchInput, content_hash, find_inputs, frame_count_hint
from app.batch_work import SINGLE_THREAD_ENV, Outcome, Settings, Task, previous, run_task, single_threaded
from app.errors import EXIT_OK, EXIT_OUTPUT, InputError, printable
from app.sessions import crypto
from app.sinks import check_output_folder

EXIT_SOME_FAILED = EXIT_OUTPUT  # 3: the batch ran, some inputs failed (index.csv says why)
IN_FLIGHT_PER_WORKER = 2  # inputs handed out ahead per worker: memory stays bounded however many inputs
CRASH_RETRIES = 1  # a worker process that dies (a native crash) costs its inputs this many new tries


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="video file, frame folder, folder to search recursively, or a .txt list of such paths")
    parser.add_argument("--out", required=True, type=Path, help="output folder: OUT/<input's relative path>/ "
                        "per input, OUT/index.csv and index.json for the batch")
    parser.add_argument("--workers", type=int, help="analyses at a time (default: the number of cores; "
                        "with --engine ray and --address: the cluster's CPUs)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: one process per worker on this machine; ray: one Ray task per input")
    parser.add_argument("--address", help="Ray cluster to join (e.g. 10.0.0.5:6379 or auto); default: start a "
                        "local Ray instance")
    parser.add_argument("--force", action="store_true", help="analyse every input again, even those already done")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_analysis_options(parser)
    add_library_options(parser)


def options_of(args: argparse.Namespace, add: Callable[[argparse.ArgumentParser], None]) -> dict:
    """The values of the options that ``add`` (one of analyze's option groups) defines."""
    probe = argparse.ArgumentParser(add_help=False)
    add(probe)
    return {action.dest: getattr(args, action.dest) for action in probe._actions}


def main(args: argparse.Namespace) -> int:
    """Everything is checked before anything is written (as in analyze), then each input not already
    done is handed to the engine; the index is rewritten as each one finishes."""
    check_library_options(args)
    check_options(args)
    workers = _check_usage(args)
    check_output_folder(args.out)
    open_checked_library(args)
    library_key = crypto.cached_key(args.library) if args.library is not None else None
    if library_key is not None and args.address:
        raise InputError(f"--library {printable(args.library)}", "an encrypted library is not written from a Ray "
                         "cluster (its key would travel to the nodes); use the local engine")
    classifier = load_classifier(args.model, args.provider)  # a bad model: refused before any input
    model = classifier.path if classifier is not None else None
    inputs = find_inputs(args.inputs, args.out)
    options = options_of(args, add_analysis_options)
    library = {**options_of(args, add_library_options), "encrypt": False} if args.library else None  # created now
    settings = Settings({**options, "model": model}, library, library_key)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows, to_run = _plan(inputs, args.out, settings, Settings.key_of(options, _sha256(model) if model else ""),
                         args.force)
    refused = sum(r.status == "failed" for r in rows.values())
    print(f"{len(inputs)} inputs: {len(to_run)} to analyse, {len(rows) - refused} already done"
          + (f", {refused} refused before with the same content (not retried; --force retries)" if refused else "")
          + f"; {args.engine} engine, "
          + (f"{workers} workers" if workers else "one task per CPU of the cluster"), file=sys.stderr)
    progress = Progress({t.index: frame_count_hint(inputs[t.index]) for t in to_run}, len(rows),
                        enabled=not args.no_progress)
    try:
        write_index(args.out, _ordered(rows))
        with contextlib.closing(_engine(args, workers, to_run, model, progress.frames)) as outcomes:
            for outcome in outcomes:  # an interruption closes the engine: its workers stop at once
                rows[outcome.index] = _row(inputs[outcome.index], outcome)
                write_index(args.out, _ordered(rows))  # recorded before it is announced
                progress.finished(outcome.index, rows[outcome.index])
    finally:
        progress.close()
    ordered = _ordered(rows)
    print(summary_table(ordered, time.perf_counter() - started, workers or 0, args.engine))
    print(f"index: {printable(args.out / 'index.csv')}")
    return EXIT_SOME_FAILED if any(r.status == "failed" for r in ordered) else EXIT_OK


def _plan(inputs: list[BatchInput], out: Path, settings: Settings, key: dict, force: bool
          ) -> tuple[dict[int, Row], list[Task]]:
    """The rows of inputs an earlier run settled (unless ``force``) and the tasks for the others."""
    rows: dict[int, Row] = {}
    to_run: list[Task] = []
    for index, item in enumerate(inputs):
        task = Task(index, str(item.path), str(out / item.rel), content_hash(item), key, settings)
        outcome = None if force else previous(task)
        if outcome is None:
            to_run.append(task)
        else:
            rows[index] = _row(item, outcome)
    return rows, to_run


def _check_usage(args: argparse.Namespace) -> int | None:
    """The number of workers (None: the Ray cluster's CPUs); InputError for options that do not fit."""
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise InputError(f"--workers {args.workers}", "must be from 1 to 1024")
    if args.address and args.engine != "ray":
        raise InputError(f"--address {args.address}", "needs --engine ray")
    if args.engine == "ray":
        try:
            from app.batch_ray import check_address
        except ImportError:
            raise InputError("--engine ray", "Ray is not installed (pip install 'epir-live[cluster]')") from None
        if args.address:
            check_address(args.address)
            return args.workers
    return args.workers or os.cpu_count() or 1


def _engine(args: argparse.Namespace, workers: int | None, tasks: list[Task], model: Path | None,
            on_frames: Callable[[int, int], None]) -> Iterator[Outcome]:
    if not tasks:
        return
    if args.engine == "ray":
        from app.batch_ray import run_ray  # Ray is imported only for --engine ray

        yield from run_ray(tasks, workers, args.address, model)
    else:
        yield from run_local(tasks, min(workers or 1, len(tasks)), on_frames)


def _row(item: BatchInput, outcome: Outcome) -> Row:
    return Row(printable(item.path), outcome.status, outcome.frames, outcome.events, round(outcome.seconds, 3),
               round(outcome.fps, 2), outcome.error, item.rel.as_posix())


def _ordered(rows: dict[int, Row]) -> list[Row]:
    return [rows[i] for i in sorted(rows)]


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# --- the local engine: a pool of single-threaded worker processes ------------------------------------

_frames_queue = None  # in a worker: where frame counts go to the batch's progress bar
FRAMES_EVERY = 10  # frames a worker counts before it reports them


def run_local(tasks: Iterable[Task], workers: int,
              on_frames: Callable[[int, int], None]) -> Iterator[Outcome]:
    """Outcomes as inputs finish. At most ``IN_FLIGHT_PER_WORKER`` inputs per worker are handed out at
    a time. Workers are spawned (not forked: MediaPipe's threads do not survive a fork) with one core
    each. A worker that dies takes its pool with it: its inputs are tried again in a new pool, and
    fail after ``CRASH_RETRIES`` such tries."""
    os.environ.update(SINGLE_THREAD_ENV)  # before the workers start: their libraries read it on import
    context = multiprocessing.get_context("spawn")
    frames = context.Queue()
    waiting = list(tasks)[::-1]  # a stack: the first input first
    crashes: dict[int, int] = {}
    while waiting:
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(frames,))
        running: dict[Future, Task] = {}
        try:
            broken = False
            while (waiting and not broken) or running:
                while waiting and not broken and len(running) < workers * IN_FLIGHT_PER_WORKER:
                    task = waiting.pop()
                    try:
                        running[pool.submit(_local_task, task)] = task
                    except BrokenProcessPool:
                        waiting.append(task)
                        broken = True
                done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(frames, on_frames)
                for future in done:
                    task = running.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        broken = True
                        crashes[task.index] = crashes.get(task.index, 0) + 1
                        if crashes[task.index] > CRASH_RETRIES:
                            yield Outcome(task.index, "failed", error=f"{printable(task.input)}: the worker process "
                                          "died while analysing it (a native crash; see the log file)")
                        else:
                            waiting.append(task)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM, the consumer gone): running inputs stop now;
            for process in list(pool._processes.values()):  # their partial folders are moved aside next time
                process.terminate()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    _drain(frames, on_frames)


def _drain(frames, on_frames: Callable[[int, int], None]) -> None:
    while True:
        try:
            index, count = frames.get_nowait()
        except queue.Empty:
            return
        on_frames(index, count)


def _init_worker(frames) -> None:
    global _frames_queue
    _frames_queue = frames
    single_threaded()
    from app.logs import setup_logging

    setup_logging()


def _local_task(task: Task) -> Outcome:
    counted = 0

    def on_frame() -> None:
        nonlocal counted
        counted += 1
        if counted == FRAMES_EVERY:
            _frames_queue.put((task.index, counted))
            counted = 0

    try:
        return run_task(task, task.settings.model, on_frame)
    finally:
        if counted:
            _frames_queue.put((task.index, counted))
