"""Command line: ``python main.py COMMAND ...`` (``main.py`` itself opens the desktop app).

Each command lives in its own module exposing ``configure(parser)`` and ``main(args) -> int``; the
modules are imported only when their command runs, so ``analyze`` never pulls in torch or Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from app import __version__
from app.errors import InputError
from app.native import silence_native_stderr

# command name → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("app.analyze_cmd", "analyse a recorded video or a folder of frames"),
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="epir-live", description="EPIR Live: micro-expression analysis")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if argv[0] == "--version":
        print(f"epir-live {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        parser.error(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
    silence_native_stderr()
    module = importlib.import_module(COMMANDS[name][0])
    command_parser = argparse.ArgumentParser(prog=f"epir-live {name}", description=COMMANDS[name][1])
    module.configure(command_parser)
    args = command_parser.parse_args(argv[1:])
    try:
        return int(module.main(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
