"""Fixtures shared by the desktop-app tests: the application, a clip with known facial movements (made by
``tests.conftest.write_bump_clip``, which needs no Qt), a small model, recorded message boxes, and the real main window checked for leftover threads when it closes.

Imported by the GUI test modules (``from tests.gui_fixtures import ...``) so that nothing else loads Qt.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2  # noqa: F401  (imported before Qt, as the app does: it sets the plugin path popped below)
import pytest

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)  # set by cv2; would hide Qt's own plugins

from PySide6.QtCore import QSettings, QThread  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from app.gui.main import create_application, release  # noqa: E402
from app.gui.window import MainWindow  # noqa: E402
from tests.conftest import write_bump_clip  # noqa: E402,F401  (re-exported for the GUI tests)
from tests.onnx_fixtures import build_tiny_model  # noqa: E402


def record_message_boxes(monkeypatch, answer) -> list[tuple[str, str]]:
    """QMessageBox calls, recorded instead of shown (a modal box would block the test); questions get
    ``answer``."""
    shown: list[tuple[str, str]] = []

    def record(reply):
        return lambda _parent, title, text, *a, **k: shown.append((title, text)) or reply

    monkeypatch.setattr(QMessageBox, "warning", record(QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "question", record(answer))
    return shown


@pytest.fixture(scope="session")
def qapp():
    """pytest-qt's application, created the way the app creates it (theme, plugin path)."""
    return create_application([])


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small EPIR-contract model (synthetic-trained, by its card)."""
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path):
    """The user's own QSettings are neither read nor changed."""
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))


@pytest.fixture
def window(qtbot, qapp):
    """The real main window; after the test it is closed and every thread must have stopped."""
    before = set(threading.enumerate())
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: not win.model_loading, timeout=10_000)
    yield win
    qthreads = win.findChildren(QThread)
    win.close()
    assert all(t.isFinished() for t in qthreads), "a worker thread is still running after close"
    left = lambda: [t for t in set(threading.enumerate()) - before  # noqa: E731
                    if t.is_alive() and not isinstance(t, threading._DummyThread)]  # QThreads: checked above
    try:
        qtbot.waitUntil(lambda: not left(), timeout=5_000)
    except Exception:
        raise AssertionError(f"threads left running: {left()}")
    release(win)
