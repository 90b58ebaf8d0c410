"""The window's own threads: frame decoding for the player, and one-off blocking calls (the analysis
thread belongs to the Qt-free ``controller``).

Each is a QThread whose signals reach the window through queued connections, so slots run on the UI
thread. Pictures cross as owning QImages (see ``images``). Every worker stops on ``stop()`` and is joined
by the window before it closes. Failures are logged with their traceback; the user reads one line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QImage

from app.gui.controller import describe, log
from app.gui.frames import FrameReader
from app.gui.images import bgr_image


class Task(QThread):
    """Runs one blocking call (loading a model, probing cameras) off the UI thread."""

    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any], parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # reported to the user, the app keeps running
            log.error("task failed: %s", describe(exc), exc_info=exc)
            self.failed.emit(describe(exc))
            return
        self.succeeded.emit(result)


class PlayerWorker(QThread):
    """Decodes the frames the player asks for; only the newest request is served."""

    frame_ready = Signal(int, QImage)
    failed = Signal(str)

    def __init__(self, path: str | Path, parent: QObject | None = None):
        super().__init__(parent)
        self._path = path
        self._cond = threading.Condition()
        self._wanted: int | None = None
        self._stopping = False

    def request(self, index: int) -> None:
        with self._cond:
            self._wanted = index
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def run(self) -> None:
        try:
            reader = FrameReader(self._path)
        except Exception as exc:
            log.error("player failed: %s", describe(exc), exc_info=exc)
            self.failed.emit(describe(exc))
            return
        try:
            while True:
                with self._cond:
                    while self._wanted is None and not self._stopping:
                        self._cond.wait()
                    if self._stopping:
                        return
                    index, self._wanted = self._wanted, None
                image = reader.read(index)
                self.frame_ready.emit(index, QImage() if image is None else bgr_image(image))
        finally:
            reader.close()
