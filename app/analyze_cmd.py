"""``python main.py analyze VIDEO_OR_FOLDER --out DIR``: spot and classify micro-expressions in a recording."""

from __future__ import annotations

import argparse
import logging
import math
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from app.abstention import percent
from app.classifier import DEFAULT_MODEL, PROVIDER_CHOICES, Classifier
from app.errors import InputError, OutputError
from app.events import Event
from app.interrupts import HeldSignals
from app.live_figures import live_line
from app.model_card import FLOW_METHODS
from app.pipeline import EventResult, FrameResult, Pipeline, PipelineOptions, PipelineStats
from app.sessions.analysis import record_analysis
from app.sessions.cli_access import KEY_STORES, open_library
from app.sessions.library import Library
from app.sinks import FolderSink, ResultSink, check_output_folder, run_header
from app.sources import RealTimeSource, SourceInfo, VideoSource, open_source
from app.spotting import SpottingOptions

log = logging.getLogger("epir.analyze")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="video file or folder of numbered frames")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created); results are moved in when the run completes")
    add_analysis_options(parser)
    add_library_options(parser)
    parser.add_argument("--label", help="the session's label in the library (default: the file name)")
    parser.add_argument("--live", action="store_true",
                        help="play the input at its own pace, as a camera delivers it (the app's demo mode, "
                             "headless); the summary then reports dropped frames, latency and label delay")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_library_options(parser: argparse.ArgumentParser) -> None:
    """Where analyses are also saved as sessions (``batch`` takes the same ones)."""
    parser.add_argument("--library", type=Path, help="also save the analysis as a session in this library folder")
    parser.add_argument("--encrypt", action="store_true", help="create the --library encrypted (passphrase from "
                        "$EPIR_LIVE_PASSPHRASE or a prompt)")
    parser.add_argument("--key-store", choices=KEY_STORES, default="passphrase",
                        help="with --encrypt: derive the key from a passphrase, or keep a random key in the OS keyring")
    parser.add_argument("--no-faces", action="store_true", help="de-identified: the library session keeps no face "
                        "pictures or attention overlays (the output files never hold any)")


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    """The options that change what an analysis finds (``batch`` takes the same ones)."""
    parser.add_argument("--model", type=Path, help=f"EPIR ONNX model (default: {DEFAULT_MODEL.name} when installed)")
    parser.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto", help="ONNX Runtime execution provider")
    parser.add_argument("--flow", choices=FLOW_METHODS, help="flow method for classification (default: the model's)")
    parser.add_argument("--fps", type=float, help="frame rate of a frame folder (default 30; a video file uses its own)")
    parser.add_argument("--sensitivity", type=float, default=SpottingOptions.sensitivity,
                        help="spotting threshold in robust standard deviations above baseline")
    parser.add_argument("--max-faces", type=int, default=PipelineOptions.max_faces,
                        help="faces analysed at once, each with a stable face_id (default 1: the largest face)")


def load_classifier(model: Path | None, provider: str, threads: int | None = None) -> Classifier | None:
    """The requested model, else the shipped default, else None (spotting only)."""
    if model is not None:
        return Classifier(model, provider, threads)
    if DEFAULT_MODEL.is_file():
        return Classifier(DEFAULT_MODEL, provider, threads)
    return None


MAX_FACES = 8  # MediaPipe's mesh slows down with every face it follows
# option → (lowest, highest) accepted value; checked before anything is opened
OPTION_RANGES: dict[str, tuple[float, float]] = {"fps": (1.0, 1000.0), "sensitivity": (0.0, 50.0),
                                                 "max_faces": (1, MAX_FACES)}
MIN_SPOT_FPS = 10.0  # below this a micro-expression (40-500 ms) falls between frames


def check_options(args: argparse.Namespace) -> None:
    """InputError for a numeric option that is not a finite number in its range."""
    for name, (low, high) in OPTION_RANGES.items():
        value = getattr(args, name, None)
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise InputError(f"--{name.replace('_', '-')} {value:g}", f"must be a number from {low:g} to {high:g}")


def check_spottable(info: SourceInfo, spotting: SpottingOptions) -> None:
    """InputError for a source too short or too slow for spotting (instead of inventing events): each
    frame is compared with frames a short half window before and after it."""
    min_seconds = 2 * min(spotting.half_windows_ms) / 1000.0
    if info.fps < MIN_SPOT_FPS:
        raise InputError(info.name, f"frame rate {info.fps:g} fps is too low for spotting (needs at least "
                                    f"{MIN_SPOT_FPS:g} fps; for a frame folder give the real rate with --fps)")
    if info.frame_count is not None and info.frame_count / info.fps < min_seconds:
        raise InputError(info.name, f"{info.frame_count} frame(s), {info.frame_count / info.fps:.2f} s: spotting "
                                    f"needs a clip of at least {min_seconds:g} s")


def main(args: argparse.Namespace) -> int:
    """Every input and output is checked before anything is written; results go to OUT/partial/ and
    are moved into OUT when the run completes (see FolderSink)."""
    check_library_options(args)
    check_options(args)
    check_output_folder(args.out)
    open_checked_library(args)
    analyze(args, load_classifier(args.model, args.provider))
    return 0


def check_library_options(args: argparse.Namespace) -> None:
    if (args.encrypt or args.no_faces) and not args.library:
        raise InputError("--encrypt" if args.encrypt else "--no-faces", "applies to the session saved with --library")


def open_checked_library(args: argparse.Namespace) -> None:
    """The --library checked, then opened (created, encrypted with --encrypt): a foreign file or a wrong
    passphrase stops the run before anything is written; an encrypted library's key is kept for the run."""
    if args.library is not None:
        Library.check(args.library)
        open_library(args.library, args.key_store if args.encrypt else None).close()


def analyze(args: argparse.Namespace, classifier: Classifier | None,
            on_frame: Callable[[], None] | None = None) -> dict:
    """One analysis of ``args.input`` into ``args.out`` after the checks of ``main`` (``batch`` runs it
    for each input); returns events.json's summary. ``on_frame`` is called after each frame."""
    with open_source(args.input, fps=args.fps) as recorded:
        source = RealTimeSource(recorded) if args.live else recorded
        try:
            return _analyze(args, source, recorded, classifier, on_frame)
        except sqlite3.Error as exc:  # the library became unwritable during the run (disk full...)
            raise OutputError(args.library, f"session library: {' '.join(str(exc).split())}") from exc


def _analyze(args: argparse.Namespace, source: VideoSource, recorded: VideoSource, classifier: Classifier | None,
             on_frame: Callable[[], None] | None) -> dict:
    """``source`` is ``recorded`` itself, or (``--live``) it played at its own pace."""
    info = source.info
    options = PipelineOptions(spotting=SpottingOptions(sensitivity=args.sensitivity), flow_method=args.flow,
                              max_faces=args.max_faces, stage_threads=getattr(args, "stage_threads", True))
    check_spottable(info, options.spotting)
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731  (results on stdout, remarks on stderr)
    say(f"{info.name}: {info.width}x{info.height}, {info.fps:.2f} fps, "
        f"{info.frame_count if info.frame_count else 'unknown'} frames")
    if info.kind == "folder" and args.fps is None:
        say(f"note: frame folder without --fps; assuming {info.fps:g} fps")
    if info.kind == "file" and args.fps is not None:
        if getattr(recorded, "fps_from_option", False):
            say(f"note: {info.name} declares no frame rate; using --fps {args.fps:g}")
        else:
            say(f"note: --fps {args.fps:g} ignored: a video file's own clock ({info.fps:g} fps) is used")
    if classifier is None:
        say("note: no model installed; writing spotting results without labels")
    else:
        card = classifier.card
        say(f"model: {card.name} {card.version} on {classifier.provider_summary}; {card.honesty_note}")
        if args.flow and args.flow != card.input.flow_method:
            say(f"note: classifying with {args.flow} flow; the model was trained with {card.input.flow_method}")
    files = FolderSink(args.out, run_header(info, classifier, options.spotting),
                       classifier.card.classes if classifier else ())
    sinks: list[ResultSink] = [files]
    try:
        if args.library:
            sinks.append(record_analysis(args.library, args.label, info, options, classifier,
                                         pictures=not args.no_faces))
    except BaseException:
        files.close({"frames": 0, "events": 0}, complete=False)
        raise
    started = time.perf_counter()
    bar = tqdm(total=info.frame_count, unit="frame", disable=args.no_progress, file=sys.stderr, dynamic_ncols=True)
    complete, stats, delivered = False, None, _Delivered()
    try:
        with Pipeline(info.fps, options, classifier) as pipeline, HeldSignals() as signals:
            stats = pipeline.stats
            for result in pipeline.run(source, live=args.live):
                with signals.held():  # a stop lands between results: the summary counts what the files hold
                    for sink in sinks:
                        sink.feed(result)
                    delivered.add(result)
                if isinstance(result, FrameResult):
                    bar.update(1)
                    if on_frame is not None:
                        on_frame()
                elif isinstance(result, EventResult):
                    bar.write(_event_line(result.event, several=args.max_faces > 1))
        complete = True
    finally:  # also on Ctrl-C, SIGTERM, or an output error: every sink gets its summary
        bar.close()
        summary = _summary(stats, delivered, recorded, time.perf_counter() - started)
        if args.live and stats is not None:
            summary.update(stats.live.summary(stats.dropped))
        for sink in sinks:
            try:
                sink.close(summary, complete)
            except Exception:  # the first error is the one reported; this one is logged
                if complete:
                    raise
                log.debug("closing %s after a failed run", type(sink).__name__, exc_info=True)
        if not complete:
            say(f"note: the run did not complete; results so far (marked \"complete\": false) are in "
                f"{files.final_dir}/" + (f" and the library {args.library}" if args.library else ""))
    if summary["truncated"]:
        say(f"warning: {info.name}: decoding stopped at frame {recorded.truncated_at} of "
            f"{info.frame_count} (truncated file); results cover the decoded part")
    if summary["skipped_frames"]:
        say(f"warning: {info.name}: {summary['skipped_frames']} undecodable frame(s) skipped")
    print(summary_table(files.events, classifier.card.honesty_note if classifier else None, several=args.max_faces > 1))
    print(f"{summary['frames']} frames in {summary['seconds']:.1f} s ({summary['fps']:.1f} fps); "
          f"{summary['events']} events ({sum(e.expression for e in files.events)} expressions, "
          f"{sum(not e.expression for e in files.events)} other motion); written to {args.out}/")
    if args.live:
        print(live_line(summary))
    if len(sinks) > 1:
        print(f"saved as session {sinks[1].session_id} in the library {args.library}")
    if delivered.frames and delivered.no_face == delivered.frames:
        say(f"note: {info.name}: no face found in any frame")
    return summary


@dataclass
class _Delivered:
    """Frames the sinks received: the pipeline's own counts run ahead of them while threads are stopped."""
    frames: int = 0
    no_face: int = 0

    def add(self, result: object) -> None:
        if isinstance(result, FrameResult):
            self.frames += 1
            self.no_face += not result.faces


def _summary(stats: PipelineStats | None, delivered: _Delivered, source: VideoSource, elapsed: float) -> dict:
    """events.json's summary (the sinks add whether the run completed); frame counts match frames.csv."""
    processed = delivered.frames
    return {"frames": processed, "frames_without_face": delivered.no_face,
            "events": stats.events if stats else 0, "seconds": round(elapsed, 3),
            "fps": round(processed / max(elapsed, 1e-9), 2),
            "truncated": getattr(source, "truncated_at", None) is not None,
            "skipped_frames": source.skipped,
            "clock": "source" if getattr(source, "clock_warning", None) is None else "frame_index"}


def _event_line(event: Event, several: bool = False) -> str:
    return (f"event {event.event_id}{f' (face {event.face_id})' if several else ''}: {event.kind_text} at {event.apex_time:.2f} s, {event.duration_ms:.0f} ms, "
            f"{event.label_text}; {event.evidence_text}")


def summary_table(events: list[Event], caveat: str | None, several: bool = False) -> str:
    """A fixed-width table of events, readable in a terminal and in a log (``several``: with face ids)."""
    if not events:
        return "No events spotted."
    who = (lambda e: f"{e.face_id:>4}  ") if several else (lambda e: "")
    head = (f"{'id':>4}  " if several else "") + (f"{'#':>3}  {'onset s':>8}  {'apex s':>8}  {'ms':>6}  {'kind':<12}  {'label':<10}  {'conf':>6}  "
            f"{'model':<10}  {'face':<9}  {'score':>5}")
    lines = [head, "-" * len(head)]
    for e in events:
        conf = percent(e.confidence) if e.confidence is not None else "-"
        lines.append(f"{who(e)}{e.event_id:>3}  {e.onset_time:>8.2f}  {e.apex_time:>8.2f}  {e.duration_ms:>6.0f}  "
                     f"{e.kind_text:<12}  {(e.label or '-'):<10}  {conf:>6}  {(e.model_label or '-'):<10}  "
                     f"{(e.evidence.face_reading if e.evidence else '-'):<9}  {e.spot_score:>5.1f}")
    if caveat:
        lines.append(f"Labels: {caveat}.")
    return "\n".join(lines)
