"""The app's state and session lifecycle, without Qt: what the window binds its widgets to.

One ``Controller`` holds the state (idle / live / paused / reviewing), the source being analysed, what
has been found (``AnalysisStore``), the live session being recorded and the analysis thread. It never
touches a widget: the window gives it ``post`` (run a call on the UI thread) and a ``View`` to tell.
It lives in ``app.gui`` because it serves only the desktop app and uses the app's Qt-free records; it
imports no Qt (a test proves it), so it is tested without a window.

Stopping never blocks the caller. The analysis thread owns its source (``OwnedSource``: whichever thread
reads frames closes it, after its last read), a user's Stop or Pause skips the pipeline's final flush,
and the session is closed by a background thread once the analysis that feeds it has ended. Pause keeps
the source's position and the session's clock: Resume continues both (``Continued``), so the screen, the
library and the report show the same times.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from app.classifier import Classifier
from app.errors import InputError
from app.gui.feeds import Continued, Feed, OwnedSource
from app.gui.live_session import LiveSession
from app.gui.records import AnalysisStore, Batch, EventView, FrameRecord, ProgressInfo, default_display_spec
from app.pipeline import EventResult, FrameResult, Pipeline, PipelineOptions
from app.sessions import Library
from app.sources import SourceInfo, VideoSource, open_source
from app.spotting import SpotSample

log = logging.getLogger("epir.gui")

EMIT_INTERVAL_S = 0.1  # recorded videos: results are batched this often


class State(Enum):
    IDLE = "idle"
    LIVE = "live"
    PAUSED = "paused"
    REVIEWING = "reviewing"


def describe(exc: BaseException) -> str:
    """The one line a user reads: an input problem as it is, anything else with its type."""
    return str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"


# --- the analysis thread -------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownFrame:
    image: Any  # what the window paints (a QImage, made in the analysis thread by ``picture``)
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
class Failure:
    message: str  # one line for the user
    detail: str  # the traceback, for the log


class Run:
    """One analysis of one source in its own thread; what it finds is posted to the controller."""

    def __init__(self, controller: "Controller", open_source: Callable[[], VideoSource], live: bool,
                 options: PipelineOptions, classifier: Classifier | None, session: LiveSession | None,
                 after: threading.Thread | None):
        self.controller, self.open_source, self.live = controller, open_source, live
        self.options, self.classifier, self.session, self.after = options, classifier, session, after
        self.frames = Mailbox()  # live: the newest analysed frame
        self.stopped = threading.Event()  # the user's Stop or Pause: no final flush, nothing more recorded
        self.source: VideoSource | None = None
        self.last: tuple[int, float] | None = None  # newest analysed frame (index, time)
        self.thread = threading.Thread(target=self._main, name="epir-analysis", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def _post(self, what: str, *args) -> None:
        self.controller.post(lambda: self.controller._deliver(self, what, *args))

    def _main(self) -> None:
        if self.after is not None:  # the previous analysis must have let go of its source (a camera)
            self.after.join()
        try:
            source = self.open_source()
        except Exception as exc:
            self._fail(exc)
            self._post("ended")
            return
        self.source = owned = OwnedSource(source)
        try:
            with owned:
                self._post("opened", source.info)
                if self.session is not None and not self.stopped.is_set():
                    self.session.start(source.info, self.classifier)
                    self._post("recording")
                with Pipeline(source.info.fps, self.options, self.classifier) as pipeline:
                    self._analyse(owned, pipeline)
        except Exception as exc:  # camera unplugged, corrupt file mid-way: what was found stays
            self._fail(exc)
        self._post("ended")

    def _fail(self, exc: BaseException) -> None:
        detail = "".join(traceback.format_exception(exc))
        log.error("analysis stopped: %s", describe(exc), exc_info=exc)
        self._post("failed", Failure(describe(exc), detail))

    def _analyse(self, source: VideoSource, pipeline: Pipeline) -> None:
        live, session = self.live, self.session
        spec = default_display_spec(pipeline.spec, self.options.flow_method)
        batch, last_emit = Batch(), time.perf_counter()
        finished: deque[float] = deque(maxlen=30)
        latency = 0.0
        latest: FrameRecord | None = None
        results = pipeline.run(source, live=live)
        try:
            for result in results:
                if self.stopped.is_set():  # before the pipeline's final flush: a user's Stop skips it
                    break
                if session is not None:
                    session.feed(result)
                if isinstance(result, FrameResult):
                    record = latest = FrameRecord.from_result(result, keep_rows=not live)
                    self.last = (record.index, record.timestamp)
                    batch.frames.append(record)
                    finished.append(time.perf_counter())
                    waited = (time.perf_counter() - result.arrived) * 1000  # arrival → result, across the stages
                    latency = waited if not latency else 0.9 * latency + 0.1 * waited
                    if live:
                        self.frames.put(ShownFrame(self.controller.picture(result.frame.image), record))
                elif isinstance(result, SpotSample):
                    batch.samples.append(result)
                elif isinstance(result, EventResult):
                    found_at = latest.timestamp if live and latest is not None else None
                    batch.events.append(EventView.from_result(result, spec, found_at))
                now = time.perf_counter()
                if (live and isinstance(result, FrameResult)) or now - last_emit >= EMIT_INTERVAL_S:
                    batch.progress = self._progress(pipeline, finished, latency, done=False)
                    self._post("results", batch)
                    batch, last_emit = Batch(), now
        finally:
            results.close()
        batch.progress = self._progress(pipeline, finished, latency, done=not self.stopped.is_set())
        self._post("results", batch)

    @staticmethod
    def _progress(pipeline: Pipeline, finished: deque[float], latency: float, done: bool) -> ProgressInfo:
        span = finished[-1] - finished[0] if len(finished) > 1 else 0.0
        fps = (len(finished) - 1) / span if span > 0 else 0.0
        s = pipeline.stats
        return ProgressInfo(s.processed, s.dropped, fps, latency, done, s.no_face, s.live.label_delay.percentile(95))


# --- the controller ------------------------------------------------------------------------------


class View(Protocol):
    """What the controller tells the window (always on the UI thread, through ``post``)."""

    def state_changed(self, state: State) -> None: ...
    def opened(self, info: SourceInfo, resumed: bool) -> None: ...
    def results(self, batch: Batch, shown: ShownFrame | None) -> None: ...
    def recording_changed(self) -> None: ...
    def session_saved(self, session_id: int, status: str) -> None: ...
    def failed(self, title: str, message: str) -> None: ...


class Controller:
    """State, session lifecycle and pipeline wiring of the desktop app. Call it from one thread (the UI
    thread); its analysis and closing threads report back through ``post``."""

    def __init__(self, post: Callable[[Callable[[], None]], None], view: View,
                 picture: Callable[[Any], Any] = lambda image: image):
        """``post`` runs a call on the UI thread; ``picture`` turns a BGR frame into what the view paints
        (called in the analysis thread)."""
        self._post, self.view, self.picture = post, view, picture
        self.state = State.IDLE
        self.classifier: Classifier | None = None
        self.options = PipelineOptions()
        self.source_info: SourceInfo | None = None
        self.source_path: str | None = None  # a recording under review (the player re-decodes it)
        self.store: AnalysisStore | None = None
        self.session: LiveSession | None = None  # the live session being recorded (or paused)
        self.last_session_id: int | None = None
        self.run: Run | None = None
        self._feed: Feed | None = None  # live: to reopen on Resume
        self._pending: threading.Thread | None = None  # the newest thread a next run must wait for
        self._paused: Run | None = None  # the run Pause stopped: Resume continues where it got to
        self._retired: Run | None = None  # the run last stopped: what it found before the user's click still lands
        self._resumed = False  # the next "opened" continues the paused analysis
        self._pause_at: float | None = None  # live: the time of the last frame before Pause, until Resume
        self._base = ProgressInfo()  # counts of the runs before a Resume: the status bar goes on from them
        self._next_path: str | None = None
        self._threads: list[threading.Thread] = []

    def post(self, fn: Callable[[], None]) -> None:
        """Hand a call to the UI thread; once the window is gone (its queue deleted) there is no one to tell."""
        try:
            self._post(fn)
        except RuntimeError:
            log.debug("UI gone; a report from a worker thread was dropped")

    # --- starting ----------------------------------------------------------------------------------

    def start_live(self, feed: Feed, session: LiveSession | None) -> None:
        """Analyse a live feed, recorded into ``session`` (None: not recorded)."""
        self.stop()
        self._feed, self._pause_at, self._base = feed, None, ProgressInfo()
        self.session = session
        self._start(lambda: Continued(feed.open(0.0), None, 0.0), live=True, path=None)
        self._set_state(State.LIVE)

    def start_review(self, path: str | Path, fps: float | None = None) -> None:
        """Analyse a recording (a video file or a frame folder) as fast as the machine allows."""
        self.stop()
        self._start(lambda: open_source(path, fps), live=False, path=str(path))

    def _start(self, open_source: Callable[[], VideoSource], live: bool, path: str | None) -> None:
        self.run = Run(self, open_source, live, self.options, self.classifier, self.session if live else None,
                       self._pending)
        self._pending = self.run.thread
        self._threads.append(self.run.thread)
        self._next_path = path
        self.run.start()

    # --- live controls -----------------------------------------------------------------------------

    def toggle_pause(self) -> None:
        if self.state is State.LIVE:
            self.pause()
        elif self.state is State.PAUSED:
            self.resume()

    def pause(self) -> None:
        """The analysis stops (in the background), the session stays open, the screen keeps everything."""
        if self.state is not State.LIVE or self.run is None:
            return
        run, self.run = self.run, None
        run.stop()
        if self.session is not None:
            self.session.pause()
        self._paused = self._retired = run
        self._set_state(State.PAUSED)

    def resume(self) -> None:
        """The same feed from where it was, feeding the same session on the same clock."""
        if self.state is not State.PAUSED or self._feed is None:
            return
        paused, feed = self._paused, self._feed

        def reopen() -> VideoSource:  # in the new run's thread, after the paused one has ended
            source = paused.source
            media = source.inner.media_time if isinstance(source, OwnedSource) and isinstance(
                source.inner, Continued) else 0.0
            return Continued(feed.open(media), paused.last, media)

        self._start(reopen, live=True, path=None)
        self._resumed = True
        self._set_state(State.LIVE)

    def stop(self) -> None:
        """Stop the analysis and finish the live session (even a paused one), without waiting for either."""
        run, self.run = self.run, None
        if run is not None:
            run.stop()
            self._retired = run
        session, self.session = self.session, None
        self._feed = None
        if session is not None:
            self._close_session(session, "finished", self._pending)
        if self.state in (State.LIVE, State.PAUSED):
            self._set_state(State.IDLE)

    def _close_session(self, session: LiveSession, status: str, after: threading.Thread | None) -> None:
        def close() -> None:
            if after is not None:
                after.join()
            try:
                session.close(status)
            except Exception as exc:
                log.error("closing session %s failed", session.session_id, exc_info=exc)
            if session.session_id is not None:
                self.post(lambda: self._saved(session.session_id, status))

        closer = threading.Thread(target=close, name="epir-session-close", daemon=True)
        self._pending = closer
        self._threads.append(closer)
        closer.start()

    def _saved(self, session_id: int, status: str) -> None:
        self.last_session_id = session_id
        self.view.session_saved(session_id, status)

    def rename(self, label: str) -> bool:
        if self.session is None or label == self.session.label:
            return False
        self.session.rename(label)
        return True

    def mark(self, seconds: float | None):
        """A marker at ``seconds`` (source clock); recorded in the live session when there is one.
        Returns the session's Marker, True for an unrecorded mark, None when there is nothing to mark."""
        if self.store is None or seconds is None:
            return None
        self.store.marks.append(seconds)
        session = self.session
        if self.state is State.LIVE and session is not None and session.status == "recording":
            return session.add_marker() or True
        return True

    def shutdown(self) -> None:
        """Stop everything and wait for every thread (the app is closing)."""
        self.stop()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    # --- what the threads report (UI thread) -------------------------------------------------------

    def _deliver(self, run: Run, what: str, *args) -> None:
        if what == "ended":
            self._threads = [t for t in self._threads if t.is_alive() and t is not run.thread]
            if run is self.run and run.live and self.state is State.LIVE:  # the source ended by itself
                self.stop()
            elif run is self.run and not run.live:
                self.run = None
            return
        if what == "results" and run is self._retired and self.store is not None:
            # Posted before the user's Pause or Stop but handled after it (the UI thread is behind): still
            # shown, into the same store (the next run opens only once this one has ended).
            self.view.results(self._take(args[0]), None)
            return
        if run is not self.run:
            return
        if what == "opened":
            info: SourceInfo = args[0]
            resumed = self._resumed and self.store is not None
            self._resumed = False
            if resumed:  # everything the paused run found has landed: the new counts and clock go on from it
                self._base = replace(self.store.progress, fps=0.0, latency_ms=0.0)
                self._pause_at = self.store.last_time
            else:
                self.source_info, self.source_path = info, self._next_path
                self.store = AnalysisStore(info.fps, run.live, run.options.max_faces)
                if not run.live:
                    self._set_state(State.REVIEWING)
            self.view.opened(info, resumed)
        elif what == "results":
            if self.store is not None:
                self.view.results(self._take(args[0]), run.frames.take() if run.live else None)
        elif what == "recording":
            self.view.recording_changed()
        elif what == "failed":
            failure: Failure = args[0]
            kept = ""
            if self.store is not None and self.store.events:
                kept += f"\n\nThe {len(self.store.events)} events found so far are kept."
            session = self.session
            if session is not None and session.session_id is not None:
                kept += f"\n\nSession {session.session_id} is saved as interrupted."
            self.run = None
            run.stop()
            self.session = None
            if session is not None:
                self._close_session(session, "interrupted", run.thread)
            if self.state in (State.LIVE, State.PAUSED):
                self._set_state(State.IDLE)
            self.view.failed("Analysis stopped", failure.message + kept)

    def _take(self, batch: Batch) -> Batch:
        """Add a batch to the store, its counts going on from the runs before a Resume."""
        b, p = self._base, batch.progress
        batch.progress = replace(p, processed=p.processed + b.processed, dropped=p.dropped + b.dropped,
                                 no_face=p.no_face + b.no_face)
        if self._pause_at is not None and batch.frames:  # the first frame after Resume
            self.store.pauses.append((self._pause_at, batch.frames[0].timestamp))
            self._pause_at = None
        self.store.add(batch)
        return batch

    def _set_state(self, state: State) -> None:
        self.state = state
        self.view.state_changed(state)


def library_or_error(path: Path) -> tuple[Library | None, str | None]:
    """The library at ``path``, or why it cannot be used."""
    try:
        return Library(path), None
    except (InputError, OSError) as exc:
        return None, str(exc)


def latest_session(library: Library) -> int | None:
    """The newest session of a library (for "Export report" in a fresh app)."""
    infos = library.sessions()
    return infos[0].id if infos else None

