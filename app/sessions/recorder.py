"""The live writer of one session: fed by the pipeline's consumer, it commits as things happen.

Events and markers are committed the moment they arrive. Per-frame rows (face, pose, spotting signal)
are batched and committed by a small flusher thread every FLUSH_S (and by the feeding thread when the
flusher falls behind on a loaded machine), so a killed process (even SIGKILL) loses at most the last half
second of frames and nothing else.

With several faces, ``subject`` (a face id; None: every face) chooses whose rows, signal and events are
recorded; it may change during a session (the app's click on a face).

Pausing stops recording (results fed while paused are ignored) and leaves a ``pause`` marker; after
``resume`` the recorder continues the session's frame numbering and clock if the feed restarted its
own (a new source or pipeline after the pause), so nothing recorded before is overwritten.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from app import strict_json
from app.events import NO_FACE_ID, Event, FrameRow
from app.pipeline import EventResult
from app.sessions import store
from app.sessions.models import Marker, Note, utc
from app.sessions.pictures import event_pictures
from app.sinks import ResultSink
from app.spotting import SpotSample

FLUSH_S = 0.25  # per-frame rows are committed this often: a killed process loses under half a second

_FRAME_SQL = """INSERT INTO frames (session_id, frame, face_id, timestamp, confidence, success, pose_rx, pose_ry,
    pose_rz, ear, face_x, face_y, face_w, face_h) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (session_id, frame, face_id) DO UPDATE SET timestamp = excluded.timestamp,
    confidence = excluded.confidence, success = excluded.success, pose_rx = excluded.pose_rx,
    pose_ry = excluded.pose_ry, pose_rz = excluded.pose_rz, ear = excluded.ear, face_x = excluded.face_x,
    face_y = excluded.face_y, face_w = excluded.face_w, face_h = excluded.face_h"""
_SIGNAL_SQL = """INSERT INTO frames (session_id, frame, face_id, timestamp, signal, threshold) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (session_id, frame, face_id) DO UPDATE SET signal = excluded.signal, threshold = excluded.threshold"""


class Recorder(ResultSink):
    """Writes one session, as a result sink. Thread-safe: the analysis thread feeds results, the UI thread adds markers.

    Use as a context manager (or call ``finish``): leaving normally finishes the session, leaving by an
    exception marks it ``interrupted``.
    """

    def __init__(self, db_path: Path, session_id: int, fps: float, folder: Path, key: bytes | None = None,
                 pictures: bool = True):
        self.session_id = session_id
        self.folder = folder
        self.fps = fps
        self.pictures = pictures  # False: no face pictures are stored (de-identified session)
        self.status = "recording"
        self.subject: int | None = None  # the face whose results are recorded; None: every face
        self._conn = store.open_connection(db_path, key)
        self._lock = threading.RLock()
        self._frames: list[tuple] = []
        self._signals: list[tuple] = []
        self._next_event_id = 1
        self._last: tuple[int, float] | None = None  # newest recorded frame (index, timestamp), session numbering
        self._offset: tuple[int, float] = (0, 0.0)  # added to the feed's frame index and timestamp
        self._rebase = False
        self._committed_at = time.monotonic()
        self._error: Exception | None = None  # a database error of the flusher
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name=f"epir-session-{session_id}", daemon=True)
        self._flusher.start()

    def close(self, summary: dict | None = None, complete: bool = True) -> None:
        """The sink's end: the session is finished, or interrupted when the run was."""
        self.finish("finished" if complete else "interrupted")

    # --- the pipeline's results (``feed`` dispatches to these) -----------------------------------

    def add_frame(self, row: FrameRow) -> None:
        with self._lock:
            if self._error is not None:
                raise self._error
            if self.status != "recording" or not self._records(row.face_id, row.success):
                return
            if self._rebase and self._last is not None and row.index + self._offset[0] <= self._last[0]:
                self._offset = (self._last[0] + 1 - row.index, self._last[1] + 1.0 / self.fps - row.timestamp)
            self._rebase = False
            index, timestamp = self._shift(row.index, row.timestamp)
            pose = row.pose or (None, None, None)
            self._frames.append((self.session_id, index, row.face_id, timestamp, row.confidence, int(row.success),
                                 *pose, row.ear, *(row.box or (None,) * 4)))
            self._last = (index, timestamp)
            if time.monotonic() - self._committed_at >= FLUSH_S:  # the flusher is late (a loaded machine)
                self.flush()

    def add_signal(self, sample: SpotSample) -> None:
        with self._lock:
            if self.status != "recording" or not self._records(sample.face_id):
                return
            index, timestamp = self._shift(sample.frame, sample.timestamp)
            self._signals.append((self.session_id, index, sample.face_id, timestamp, sample.value, sample.threshold))

    def add_event_result(self, result: EventResult) -> None:
        self.add_event(result.event, *(event_pictures(result) if self.pictures else (None, None)))

    def add_event(self, event: Event, onset_png: bytes | None = None, attention_png: bytes | None = None) -> Event:
        """Commit an event now (with the pending frames); returns it as stored (session numbering)."""
        with self._lock:
            if self.status != "recording" or not self._records(event.face_id):
                return event
            (onset, onset_t), (apex, apex_t), (offset, offset_t) = (
                self._shift(event.onset_frame, event.onset_time), self._shift(event.apex_frame, event.apex_time),
                self._shift(event.offset_frame, event.offset_time))
            stored = replace(event, event_id=self._next_event_id, onset_frame=onset, apex_frame=apex,
                             offset_frame=offset, onset_time=onset_t, apex_time=apex_t, offset_time=offset_t)
            with self._transaction():
                self._conn.execute(
                    "INSERT INTO events (session_id, event_id, apex_s, label, record) VALUES (?, ?, ?, ?, ?)",
                    (self.session_id, stored.event_id, stored.apex_time, stored.label, strict_json.dumps(stored.to_json())))
                if onset_png is not None or attention_png is not None:
                    self._conn.execute("INSERT INTO event_images VALUES (?, ?, ?, ?)",
                                       (self.session_id, stored.event_id, onset_png, attention_png))
            self._next_event_id += 1
            return stored

    # --- the interviewer's actions ---------------------------------------------------------------

    def add_marker(self, t: float | None = None, label: str = "", note: str = "") -> Marker:
        """Commit a marker now, at source time ``t`` (default: the newest recorded frame)."""
        with self._lock:
            return self._marker("user", t, label, note)

    def add_note(self, text: str) -> Note:
        with self._lock, self._transaction():
            now = time.time()
            cursor = self._conn.execute("INSERT INTO notes (session_id, created_at, text) VALUES (?, ?, ?)",
                                        (self.session_id, now, text))
        return Note(int(cursor.lastrowid), utc(now), text)

    def pause(self) -> None:
        with self._lock:
            if self.status == "recording":
                self._marker("pause", None, "", "")
                self._set_status("paused")

    def resume(self) -> None:
        with self._lock:
            if self.status == "paused":
                self._set_status("recording")
                self._marker("resume", None, "", "")
                self._rebase = True

    def finish(self, status: str = "finished") -> None:
        """Commit what is pending, close the session with ``status`` and stop the flusher."""
        with self._lock:
            if self.status in ("finished", "interrupted"):
                return
            self._set_status(status, ended=True)
        self._stop.set()
        self._flusher.join()
        self._conn.close()

    def flush(self) -> None:
        """Commit the pending per-frame rows now."""
        with self._lock, self._transaction():
            pass

    # --- internals -------------------------------------------------------------------------------

    def _records(self, face_id: int, success: bool = True) -> bool:
        """Whether this face's results go into the session: every face's, or the subject's (and the
        rows of frames in which no face is tracked)."""
        return self.subject is None or face_id == self.subject or (not success and face_id == NO_FACE_ID)

    def _shift(self, index: int, timestamp: float) -> tuple[int, float]:
        return index + self._offset[0], timestamp + self._offset[1]

    def _marker(self, kind: str, t: float | None, label: str, note: str) -> Marker:
        frame, t = self._frame_at(t)
        now = time.time()
        with self._transaction():
            cursor = self._conn.execute(
                "INSERT INTO markers (session_id, t, frame, kind, label, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.session_id, t, frame, kind, label, note, now))
        return Marker(int(cursor.lastrowid), t, frame, label, note, kind, utc(now))

    def _frame_at(self, t: float | None) -> tuple[int | None, float]:
        if self._last is None:
            return None, 0.0 if t is None else t
        index, last_t = self._last
        if t is None or t >= last_t:
            return index, last_t if t is None else t
        return max(0, index - int(round((last_t - t) * self.fps))), t

    def _set_status(self, status: str, ended: bool = False) -> None:
        with self._transaction():
            self._conn.execute("UPDATE sessions SET status = ?, ended_at = ? WHERE id = ?",
                               (status, time.time() if ended else None, self.session_id))
        self.status = status

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One commit: the pending per-frame rows and the heartbeat go with whatever the caller writes."""
        with store.transaction(self._conn):
            self._conn.executemany(_FRAME_SQL, self._frames)
            self._conn.executemany(_SIGNAL_SQL, self._signals)
            self._conn.execute("UPDATE sessions SET heartbeat_at = ? WHERE id = ?", (time.time(), self.session_id))
            yield
        self._frames.clear()
        self._signals.clear()
        self._committed_at = time.monotonic()

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_S):
            with self._lock:
                if not (self._frames or self._signals) or self.status in ("finished", "interrupted"):
                    continue
                try:
                    self.flush()
                except store.database_errors() as exc:  # e.g. disk full: raised to the feeding thread on its next call
                    self._error = exc
                    return
