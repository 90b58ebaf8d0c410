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
    if argv and argv[0].split("=")[0] in GUI_OPTIONS:  # `main.py --demo` means `main.py gui --demo`
        argv.insert(0, "gui")
    if argv and argv[0] != "gui":
        from app.cli import main as cli_main

        return cli_main(argv)
    if not _has_display():
        from app.cli import main as cli_main
        from app.demo import DEMO_CLIP

        print("No screen found: analysing the bundled demo clip headlessly instead of opening the app.")
        return cli_main(["analyze", str(DEMO_CLIP), "--out", "out/demo"])
    from app.native import silence_native_stderr

    silence_native_stderr()  # ONNX Runtime's provider fallback and MediaPipe's start-up logs: the app shows its own
    try:
        from app.gui.main import run_app
    except ImportError as exc:
        print(f"error: the desktop app needs the [gui] extra (PySide6, pyqtgraph): {exc}", file=sys.stderr)
        return 2
    return run_app(argv[1:] if argv else [])


if __name__ == "__main__":
    sys.exit(main())
