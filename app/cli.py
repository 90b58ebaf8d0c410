"""Command line: ``python main.py COMMAND ...`` (``main.py`` itself opens the desktop app).

Each command lives in its own module exposing ``configure(parser)`` and ``main(args) -> int``; the
modules are imported only when their command runs, so ``analyze`` never pulls in torch or Qt.
Every failure ends in one line on stderr and a documented exit code (app.errors); the full traceback
of anything unexpected goes to the log file (app.logs).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sqlite3
import sys
import threading
from pathlib import Path

from app import __version__
from app.errors import EXIT_INTERNAL, EXIT_OUTPUT, EXIT_SIGINT, EXIT_SIGTERM, InputError, printable
from app.logs import setup_logging

log = logging.getLogger("epir.cli")

# command name → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("app.analyze_cmd", "analyse a recorded video or a folder of frames"),
    "batch": ("app.batch_cmd", "analyse many recordings (folders searched, lists of paths) on every core or a Ray cluster"),
    "bench": ("app.bench_cmd", "measure the per-frame cost of each pipeline stage"),
    "sessions": ("app.sessions.sessions_cmd", "list, search or delete saved sessions; show the library folder"),
    "report": ("app.sessions.report_cmd", "write a saved session's report (HTML; PDF where a converter is installed)"),
    "synth": ("models.synth.cli", "render the synthetic micro-expression benchmark"),
    "make-demo": ("models.synth.demo", "render the bundled demo clip (assets/demo.mp4)"),
    "train": ("models.train_cmd", "train EPIR with leave-one-subject-out evaluation"),
    "export": ("models.export", "export a trained EPIR checkpoint to ONNX with its model card"),
    "model-info": ("models.info", "print EPIR's parameter count and FLOPs for a configuration"),
    "bench-model": ("models.bench_model", "ONNX Runtime latency of EPIR vs a plain ViT"),
    "evaluate-spotting": ("models.spotting_eval", "score spotted intervals against ground truth (MEGC rule)"),
}


class Terminated(Exception):
    """SIGTERM, raised in the main thread like KeyboardInterrupt, so ``finally`` blocks write what they hold."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="epir-live", description="EPIR Live: micro-expression analysis")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every log message (and native "
                        "libraries' output) on the terminal; the log file always has them")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def describe_failure(exc: Exception, what: str, log_file: Path | None) -> tuple[str, int]:
    """The one line and the exit code for a failure (``batch`` uses the line as an input's reason);
    the traceback goes to the log, at error level when it is a bug."""
    if isinstance(exc, InputError):  # OutputError too: its own exit code
        log.debug("%s failed", what, exc_info=exc)
        return f"error: {exc}", exc.exit_code
    if isinstance(exc, (OSError, sqlite3.Error)):  # an output that cannot be written, found late
        log.debug("%s failed", what, exc_info=exc)
        where = printable(getattr(exc, "filename", None) or "output")
        return f"error: {where}: {getattr(exc, 'strerror', None) or exc}", EXIT_OUTPUT
    log.error("%s failed", what, exc_info=exc)  # a bug: one line, the traceback in the log
    return (f"internal error: {type(exc).__name__}: {printable(exc)} "
            f"(traceback in {log_file or 'the terminal'})", EXIT_INTERNAL)


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    verbose = False
    while argv and argv[0] in ("-v", "--verbose"):
        verbose, argv = True, argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if argv[0] == "--version":
        print(f"epir-live {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        parser.error(f"unknown command {printable(name)!r}; choose from {', '.join(COMMANDS)}")
    command_parser = argparse.ArgumentParser(prog=f"epir-live {name}", description=COMMANDS[name][1])
    command_parser.add_argument("-v", "--verbose", action="store_true", help="show every log message on the terminal")
    module = importlib.import_module(COMMANDS[name][0])
    module.configure(command_parser)
    args = command_parser.parse_args(argv[1:])
    log_file = setup_logging(verbose or args.verbose)  # native output: main.py routes it (app.native)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_SIGTERM
    except Exception as exc:
        line, code = describe_failure(exc, name, log_file)
        print(line, file=sys.stderr)
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

