"""Entry point: ``python main.py [COMMAND ...]``.

Without a command it opens the desktop app; where there is no screen it analyses the bundled demo
clip instead and says so. This is the only module that imports ``app.gui``.
"""

from __future__ import annotations

import os
import sys


GUI_OPTIONS = ("--demo", "--camera")


def _has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from app.logs import log_file, setup_logging
    from app.native import filter_native_stderr

    verbose = any(a in ("-v", "--verbose") for a in argv)
    # once per process: native libraries' output (ONNX Runtime's provider fallback, MediaPipe's start-up
    # logs) goes to the log file; a missing Qt plugin or a crash still reaches the terminal
    filter_native_stderr(log_file(), verbose)
    command = [a for a in argv if a not in ("-v", "--verbose")]
    if command and command[0].split("=")[0] in GUI_OPTIONS:  # `main.py --demo` means `main.py gui --demo`
        command.insert(0, "gui")
    if command and command[0] != "gui":
        from app.cli import main as cli_main

        return cli_main(argv)
    if not _has_display():
        from app.cli import main as cli_main
        from app.demo import DEMO_CLIP

        print("No screen found: analysing the bundled demo clip headlessly instead of opening the app.")
        return cli_main(["analyze", str(DEMO_CLIP), "--out", "out/demo"])
    setup_logging(verbose)
    try:
        from app.gui.main import run_app
    except ImportError as exc:
        print(f"error: the desktop app needs the [gui] extra (PySide6, pyqtgraph): {exc}", file=sys.stderr)
        return 2
    return run_app(command[1:])


if __name__ == "__main__":
    sys.exit(main())
