"""The threads behind the window: analysis, frame decoding for the player, and one-off blocking calls.

Each is a QThread whose signals reach the window through queued connections, so slots run on the UI
thread. Pictures cross as owning QImages (see ``images``). Live analysis hands its newest frame over in
a one-slot mailbox: when the UI falls behind it paints the newest frame, never a backlog.
Every worker stops on ``stop()`` and is joined by the window before it closes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QImage

from app.classifier import Classifier
from app.errors import InputError
from app.gui.frames import FrameReader
from app.gui.images import bgr_image
from app.gui.live_session import LiveSession
from app.gui.records import Batch, EventView, FrameRecord, ProgressInfo, default_display_spec
from app.pipeline import EventResult, FrameResult, Pipeline, PipelineOptions
from app.sources import VideoSource
from app.spotting import SpotSample

EMIT_INTERVAL_S = 0.1  # recorded videos: results are batched this often


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"


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
            self.failed.emit(_describe(exc))
            return
        self.succeeded.emit(result)


@dataclass(frozen=True)
class ShownFrame:
    image: QImage
    record: FrameRecord


class Mailbox:
    """One slot: ``put`` replaces what the reader has not taken yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: ShownFrame | None = None

    def put(self, item: ShownFrame) -> None:
        with self._lock:
            self._item = item

    def take(self) -> ShownFrame | None:
        with self._lock:
            item, self._item = self._item, None
            return item


@dataclass(frozen=True)
class AnalysisRequest:
    open_source: Callable[[], VideoSource]  # called in the worker thread: opening decodes
    live: bool  # drop stale frames and show every analysed frame
    options: PipelineOptions
    classifier: Classifier | None
    path: str | None = None  # a recording, which the player re-decodes for review
    session: LiveSession | None = None  # live: recorded into the library by this thread


class AnalysisWorker(QThread):
    opened = Signal(object)  # SourceInfo
    recording = Signal(object)  # the LiveSession, once its session exists in the library
    results = Signal(object)  # Batch
    failed = Signal(str)

    def __init__(self, request: AnalysisRequest, parent: QObject | None = None):
        super().__init__(parent)
        self.request = request
        self.frames = Mailbox()  # live only
        self._stop = threading.Event()
        self._cancelled = False

    def stop(self) -> None:
        self._cancelled = True
        self._stop.set()

    def run(self) -> None:
        req = self.request
        try:
            source = req.open_source()
        except Exception as exc:
            self.failed.emit(_describe(exc))
            return
        try:
            with source:
                self.opened.emit(source.info)
                if req.session is not None:
                    req.session.start(source.info, req.classifier)
                    self.recording.emit(req.session)
                with Pipeline(source.info.fps, req.options, req.classifier) as pipeline:
                    self._analyse(source, pipeline)
        except Exception as exc:  # camera unplugged, corrupt file mid-way: what was found stays
            self.failed.emit(_describe(exc))

    def _analyse(self, source: VideoSource, pipeline: Pipeline) -> None:
        live = self.request.live
        spec = default_display_spec(pipeline.spec, self.request.options.flow_method)
        batch, last_emit = Batch(), time.perf_counter()
        finished: deque[float] = deque(maxlen=30)
        latency = 0.0
        latest: FrameRecord | None = None
        session = self.request.session
        for result in pipeline.run(source, self._stop, live=live):
            if session is not None:
                session.feed(result)
            if isinstance(result, FrameResult):
                record = latest = FrameRecord.from_result(result)
                batch.frames.append(record)
                finished.append(time.perf_counter())
                latency = record.latency_ms if not latency else 0.9 * latency + 0.1 * record.latency_ms
                if live:
                    self.frames.put(ShownFrame(bgr_image(result.frame.image), record))
            elif isinstance(result, SpotSample):
                batch.samples.append(result)
            elif isinstance(result, EventResult):
                found_at = latest.timestamp if live and latest is not None else None
                batch.events.append(EventView.from_result(result, spec, found_at))
            now = time.perf_counter()
            if (live and isinstance(result, FrameResult)) or now - last_emit >= EMIT_INTERVAL_S:
                batch.progress = self._progress(pipeline, finished, latency, done=False)
                self.results.emit(batch)
                batch, last_emit = Batch(), now
        batch.progress = self._progress(pipeline, finished, latency, done=not self._cancelled)
        self.results.emit(batch)

    @staticmethod
    def _progress(pipeline: Pipeline, finished: deque[float], latency: float, done: bool) -> ProgressInfo:
        span = finished[-1] - finished[0] if len(finished) > 1 else 0.0
        fps = (len(finished) - 1) / span if span > 0 else 0.0
        s = pipeline.stats
        return ProgressInfo(s.processed, s.dropped, fps, latency, done)


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
            self.failed.emit(_describe(exc))
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
