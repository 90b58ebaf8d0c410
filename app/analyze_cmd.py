"""``python main.py analyze VIDEO_OR_FOLDER --out DIR``: spot and classify micro-expressions in a recording."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from app.abstention import percent
from app.classifier import DEFAULT_MODEL, PROVIDER_CHOICES, Classifier
from app.errors import InputError
from app.events import Event, ResultWriter
from app.live_figures import live_line
from app.model_card import FLOW_METHODS
from app.pipeline import EventResult, FrameResult, Pipeline, PipelineOptions
from app.sessions.analysis import record_analysis
from app.sessions.cli_access import KEY_STORES, open_library
from app.sources import FileSource, RealTimeSource, open_source
from app.spotting import SpotSample, SpottingOptions


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="video file or folder of numbered frames")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created)")
    parser.add_argument("--model", type=Path, help=f"EPIR ONNX model (default: {DEFAULT_MODEL.name} when installed)")
    parser.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto", help="ONNX Runtime execution provider")
    parser.add_argument("--flow", choices=FLOW_METHODS, help="flow method for classification (default: the model's)")
    parser.add_argument("--fps", type=float, help="frame rate of a frame folder (default 30)")
    parser.add_argument("--sensitivity", type=float, default=SpottingOptions.sensitivity,
                        help="spotting threshold in robust standard deviations above baseline")
    parser.add_argument("--library", type=Path, help="also save the analysis as a session in this library folder")
    parser.add_argument("--label", help="the session's label in the library (default: the file name)")
    parser.add_argument("--encrypt", action="store_true", help="create the --library encrypted (passphrase from "
                        "$EPIR_LIVE_PASSPHRASE or a prompt)")
    parser.add_argument("--key-store", choices=KEY_STORES, default="passphrase",
                        help="with --encrypt: derive the key from a passphrase, or keep a random key in the OS keyring")
    parser.add_argument("--no-faces", action="store_true", help="de-identified: the library session keeps no face "
                        "pictures or attention overlays (the output files never hold any)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--live", action="store_true",
                        help="play the input at its own pace, as a camera delivers it (the app's demo mode, "
                             "headless); the summary then reports dropped frames, latency and label delay")


def load_classifier(model: Path | None, provider: str) -> Classifier | None:
    """The requested model, else the shipped default, else None (spotting only)."""
    if model is not None:
        return Classifier(model, provider)
    if DEFAULT_MODEL.is_file():
        return Classifier(DEFAULT_MODEL, provider)
    return None


def main(args: argparse.Namespace) -> int:
    if (args.encrypt or args.no_faces) and not args.library:
        raise InputError("--encrypt" if args.encrypt else "--no-faces", "applies to the session saved with --library")
    if args.library:  # first: a wrong passphrase stops the run before anything is written
        open_library(args.library, args.key_store if args.encrypt else None).close()  # the key is kept for the run
    classifier = load_classifier(args.model, args.provider)
    source = open_source(args.input, fps=args.fps)
    recorded = source
    if args.live:
        source = RealTimeSource(source)
    info = source.info
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731  (results on stdout, remarks on stderr)
    say(f"{info.name}: {info.width}x{info.height}, {info.fps:.2f} fps, "
        f"{info.frame_count if info.frame_count else 'unknown'} frames")
    if info.kind == "folder" and args.fps is None:
        say(f"note: frame folder without --fps; assuming {info.fps:g} fps")
    if classifier is None:
        say("note: no model installed; writing spotting results without labels")
    else:
        card = classifier.card
        say(f"model: {card.name} {card.version} on {classifier.provider_summary}; {card.honesty_note}")
        if args.flow and args.flow != card.input.flow_method:
            say(f"note: classifying with {args.flow} flow; the model was trained with {card.input.flow_method}")
    options = PipelineOptions(spotting=SpottingOptions(sensitivity=args.sensitivity), flow_method=args.flow)
    header = {
        "source": {"path": info.name, "kind": info.kind, "fps": info.fps, "width": info.width, "height": info.height},
        "model": None if classifier is None else {
            "name": classifier.card.name, "version": classifier.card.version, "path": str(classifier.path),
            "provider": classifier.provider_label, "synthetic": classifier.card.synthetic,
            "caveat": classifier.card.honesty_note,
        },
        "spotting": asdict(options.spotting),
    }
    classes = classifier.card.classes if classifier else ()
    writer = ResultWriter(args.out, header, classes)
    recorder = None
    if args.library:
        recorder = record_analysis(args.library, args.label, info, options, classifier, pictures=not args.no_faces)
    started = time.perf_counter()
    with source, Pipeline(info.fps, options, classifier) as pipeline, recorder or contextlib.nullcontext():
        keep = pipeline.spotter.delay_frames + 2
        bar = tqdm(total=info.frame_count, unit="frame", disable=args.no_progress, file=sys.stderr,
                   dynamic_ncols=True)
        try:
            for result in pipeline.run(source, live=args.live):
                if recorder is not None:
                    recorder.feed(result)
                if isinstance(result, FrameResult):
                    writer.add_frame(result.row(), keep)
                    bar.update(1)
                elif isinstance(result, SpotSample):
                    writer.add_signal(result.frame, result.value, result.threshold)
                elif isinstance(result, EventResult):
                    writer.add_event(result.event)
                    bar.write(_event_line(result.event))
        finally:
            bar.close()
        stats = pipeline.stats
    elapsed = time.perf_counter() - started
    truncated = isinstance(recorded, FileSource) and recorded.truncated_at is not None
    summary = {"frames": stats.processed, "frames_without_face": stats.no_face, "events": stats.events,
               "seconds": round(elapsed, 3), "fps": round(stats.processed / max(elapsed, 1e-9), 2),
               "truncated": truncated}
    if args.live:
        summary.update(stats.live.summary(stats.dropped))
    writer.close(summary)
    if truncated:
        say(f"warning: {info.name}: decoding stopped at frame {recorded.truncated_at} of "
            f"{info.frame_count} (truncated file); results cover the decoded part")
    print(summary_table(writer.events, classifier.card.honesty_note if classifier else None))
    print(f"{stats.processed} frames in {elapsed:.1f} s ({summary['fps']:.1f} fps); "
          f"{stats.events} events; written to {args.out}/")
    if args.live:
        print(live_line(summary))
    if recorder is not None:
        print(f"saved as session {recorder.session_id} in the library {args.library}")
    if stats.processed and stats.no_face == stats.processed:
        say(f"note: {info.name}: no face found in any frame")
    return 0


def _event_line(event: Event) -> str:
    return (f"event {event.event_id}: {event.kind} at {event.apex_time:.2f} s, {event.duration_ms:.0f} ms, "
            f"{event.label_text}; {event.evidence_text}")


def summary_table(events: list[Event], caveat: str | None) -> str:
    """A fixed-width table of events, readable in a terminal and in a log."""
    if not events:
        return "No events spotted."
    head = (f"{'#':>3}  {'onset s':>8}  {'apex s':>8}  {'ms':>6}  {'kind':<5}  {'label':<10}  {'conf':>6}  "
            f"{'model':<10}  {'face':<9}  {'score':>5}")
    lines = [head, "-" * len(head)]
    for e in events:
        conf = percent(e.confidence) if e.confidence is not None else "-"
        lines.append(f"{e.event_id:>3}  {e.onset_time:>8.2f}  {e.apex_time:>8.2f}  {e.duration_ms:>6.0f}  "
                     f"{e.kind:<5}  {(e.label or '-'):<10}  {conf:>6}  {(e.model_label or '-'):<10}  "
                     f"{(e.evidence.face_reading if e.evidence else '-'):<9}  {e.spot_score:>5.1f}")
    if caveat:
        lines.append(f"Labels: {caveat}.")
    return "\n".join(lines)
