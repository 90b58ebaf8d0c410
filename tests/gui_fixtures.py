"""Fixtures shared by the desktop-app tests: the application, a clip with known facial movements, a small
model, recorded message boxes, and the real main window checked for leftover threads when it closes.

Imported by the GUI test modules (``from tests.gui_fixtures import ...``) so that nothing else loads Qt.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)  # set by cv2; would hide Qt's own plugins

from PySide6.QtCore import QSettings, QThread  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from app.gui.main import create_application, release  # noqa: E402
from app.gui.window import MainWindow  # noqa: E402
from tests.conftest import write_video  # noqa: E402
from tests.onnx_fixtures import build_tiny_model  # noqa: E402


def write_bump_clip(path: Path, face_photo: np.ndarray, bumps_s: tuple[float, ...], seconds: float,
                    fps: float = 30.0, seed: int = 0) -> Path:
    """A real face whose cheek moves by 1.5 px for about 200 ms around each time in ``bumps_s``."""
    face = face_photo[0:320, 96:416]
    h, w = face.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.exp(-(((xx - 149) ** 2 + (yy - 140) ** 2) / (2 * 8 ** 2)))
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(int(seconds * fps)):
        a = sum(1.5 * np.exp(-((i / fps - t) / 0.08) ** 2) for t in bumps_s)
        moved = cv2.remap(face, xx - a * bump, yy + 0.5 * a * bump, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        frames.append(np.clip(moved + rng.normal(0, 2, moved.shape), 0, 255).astype(np.uint8))
    return write_video(path, frames, fps)


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
