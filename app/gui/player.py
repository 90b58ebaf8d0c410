"""The review player: play, pause, step, seek and speed over a recording that is still being analysed.

Frames are decoded by a ``PlayerWorker`` thread; the player asks for one frame at a time and skips a
tick rather than queueing requests when decoding is slower than playback. Only analysed frames can be
reached (``reachable`` grows with the analysis), so every frame shown has its overlays.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QImage

from app.gui.workers import PlayerWorker


class ReviewPlayer(QObject):
    frame_ready = Signal(int, QImage)  # a decoded frame (a null image past the decodable end)
    moved = Signal(int)  # the position asked for
    changed = Signal()  # playing or speed changed
    failed = Signal(str)

    def __init__(self, path: str | Path, fps: float, parent: QObject | None = None):
        super().__init__(parent)
        self.fps = fps
        self.position = -1
        self.playing = False
        self.speed = 1.0
        self.reachable = 0  # frames analysed so far
        self.complete = False  # the analysis has finished
        self._awaiting = False
        self._until: int | None = None  # a replay stops here
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._worker = PlayerWorker(path, self)
        self._worker.frame_ready.connect(self._decoded)
        self._worker.failed.connect(self.failed)
        self._worker.start()

    def set_reachable(self, frames: int, complete: bool) -> None:
        self.reachable, self.complete = frames, complete

    def seek(self, index: int) -> None:
        if not self.reachable:
            return
        self.position = max(0, min(int(index), self.reachable - 1))
        self._awaiting = True
        self._worker.request(self.position)
        self.moved.emit(self.position)

    def step(self, delta: int) -> None:
        self.pause()
        self.seek(self.position + delta)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def play(self) -> None:
        if not self.reachable:
            return
        if self.position >= self.reachable - 1 and self.complete:
            self.seek(0)
        self.playing = True
        self._restart_timer()
        self.changed.emit()

    def pause(self) -> None:
        self.playing, self._until = False, None
        self._timer.stop()
        self.changed.emit()

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        self._restart_timer()
        self.changed.emit()

    def replay(self, start: int, until: int, speed: float) -> None:
        """Go to ``start`` and play at ``speed`` up to ``until``, then pause and return to normal speed."""
        self.pause()
        self.seek(start)
        self.set_speed(speed)
        self.play()
        self._until = until

    def stop(self) -> None:
        """Pause and join the decoding thread."""
        self._timer.stop()
        self._worker.stop()
        self._worker.wait()

    def _restart_timer(self) -> None:
        if self.playing:
            self._timer.start(max(1, round(1000.0 / (self.fps * self.speed))))

    def _tick(self) -> None:
        if self._awaiting:
            return
        if self._until is not None and self.position >= self._until:
            self.pause()
            self.set_speed(1.0)
        elif self.position + 1 < self.reachable:
            self.seek(self.position + 1)
        elif self.complete:
            self.pause()
        # else: wait for the analysis to catch up

    @Slot(int, QImage)
    def _decoded(self, index: int, image: QImage) -> None:
        if index == self.position:
            self._awaiting = False
        self.frame_ready.emit(index, image)
