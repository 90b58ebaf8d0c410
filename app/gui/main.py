"""``python main.py [gui] [VIDEO | --camera N | --demo]``: start the desktop app."""

from __future__ import annotations

import argparse
import gc
import os
import sys


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="epir-live", description="EPIR Live desktop app")
    parser.add_argument("video", nargs="?", help="a recorded video or frame folder to review")
    parser.add_argument("--camera", type=int, metavar="N", help="start live analysis of camera N")
    parser.add_argument("--demo", action="store_true", help="play the bundled demo clip live")
    return parser.parse_args(argv)


def create_application(argv: list[str]):
    """The QApplication with the dark theme. cv2 points Qt at its own plugins: that must not leak in."""
    os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    from PySide6.QtWidgets import QApplication

    from app.gui.theme import apply_dark_theme

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("EPIR Live")
    app.setOrganizationName("EPIR Live")
    apply_dark_theme(app)
    return app


def run_app(argv: list[str]) -> int:
    args = _parse(argv)
    app = create_application([])
    from app.gui.window import MainWindow

    window = MainWindow()
    window.show()
    settle_heap()
    if args.video:
        window.open_video(args.video)
    elif args.camera is not None:
        window.start_camera(args.camera)
    elif args.demo:
        window.start_demo()
    code = app.exec()
    release(window)
    return code


def settle_heap() -> None:
    """Once the window is built: what exists now (modules, Qt wrappers, the window) lives as long as the app,
    so it is moved out of the cyclic collector's reach (``gc.freeze``). Otherwise every full collection walks
    those ~150,000 objects holding the GIL — 65–100 ms on this 2-core machine with every thread stopped,
    the analysis included — and live analysis triggers one every minute or so."""
    gc.collect()
    gc.freeze()


def release(window) -> None:
    """Delete the window's Qt objects now: left to interpreter shutdown, pyqtgraph and PySide6 can
    collect them in an order that crashes (seen with PySide6 6.12)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    window.stop_analysis()  # the event loop has ended: nobody is left to answer "quit while recording?"
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    gc.collect()
