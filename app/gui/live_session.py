"""A live session being recorded into the library: the recorder, and optionally the video, without Qt.

The analysis worker starts it once its source is open (the session needs the source's details) and feeds
it every result, so SQLite writes and video encoding happen in that thread, never in the UI thread. The
window adds markers, pauses, resumes and closes it. One session can outlive several workers: pausing
stops the analysis, resuming starts a new one that feeds the same session (the recorder continues its
frame numbering and clock).
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2

from app.classifier import Classifier
from app.pipeline import FrameResult, Result
from app.private_files import touch_private
from app.sessions import Library, Marker, Recorder
from app.sources import SourceInfo

VIDEO_NAME = "video.avi"
VIDEO_FOURCC = "MJPG"  # in every OpenCV build; mp4v is not


class SessionVideo:
    """The analysed frames written to the session folder, paced by their timestamps: a frame the live
    pipeline dropped is filled with the previous one, so video time stays the session's time."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        self.path, self.fps = path, fps
        touch_private(path)  # 0600 from the start: the writer truncates it and keeps its mode
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*VIDEO_FOURCC), fps, size)
        if not self._writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot write {VIDEO_FOURCC} video here")
        self.written = 0
        self._origin: tuple[int, float] | None = None  # (frames written, feed time) when this feed began

    def restart_clock(self) -> None:
        """A new feed (after a pause) starts its own clock: continue from the frames already written."""
        self._origin = None

    def write(self, image, timestamp: float) -> None:
        if self._origin is None:
            self._origin = (self.written, timestamp)
        base, t0 = self._origin
        due = base + int((timestamp - t0) * self.fps) + 1
        while self.written < due:
            self._writer.write(image)
            self.written += 1

    def close(self) -> None:
        self._writer.release()


class LiveSession:
    """One live session: started by the analysis thread, fed by it, controlled by the window."""

    def __init__(self, library: Path, label: str, settings: dict, record_video: bool):
        self.library_path, self.label, self.settings, self.record_video = library, label, settings, record_video
        self.recorder: Recorder | None = None
        self.subject: int | None = None  # the face whose results are recorded (None: every face)
        self.video: SessionVideo | None = None
        self._library: Library | None = None
        self._markers = 0
        self._lock = threading.Lock()

    # --- the analysis thread ---------------------------------------------------------------------

    def start(self, source: SourceInfo, classifier: Classifier | None) -> None:
        """Create the session on first use; later calls (a resumed analysis) continue it."""
        with self._lock:
            if self.recorder is not None:
                self.recorder.resume()
                if self.video is not None:
                    self.video.restart_clock()
                return
            self._library = Library(self.library_path)
            self.recorder = self._library.start_session(self.label, source, self.settings, classifier)
            self.recorder.subject = self.subject
            if self.record_video:
                self.video = SessionVideo(self.recorder.folder / VIDEO_NAME, source.fps, (source.width, source.height))

    def feed(self, result: Result) -> None:
        recorder = self.recorder
        if recorder is None or recorder.status != "recording":
            return
        recorder.feed(result)
        if self.video is not None and isinstance(result, FrameResult):
            self.video.write(result.frame.image, result.frame.timestamp)

    # --- the window ------------------------------------------------------------------------------

    @property
    def session_id(self) -> int | None:
        return None if self.recorder is None else self.recorder.session_id

    @property
    def status(self) -> str:
        return "starting" if self.recorder is None else self.recorder.status

    def add_marker(self, note: str = "") -> Marker | None:
        """A marker at the newest recorded frame, named M1, M2… in this session."""
        if self.recorder is None:
            return None
        self._markers += 1
        return self.recorder.add_marker(None, f"M{self._markers}", note)

    def set_note(self, marker: Marker, note: str) -> None:
        if self._library is not None:
            self._library.update_marker(marker.id, marker.label, note)

    def rename(self, label: str) -> None:
        """Under the lock: a rename while ``start`` creates the session lands in it, never before it."""
        with self._lock:
            self.label = label
            if self._library is not None and self.recorder is not None:
                self._library.rename(self.recorder.session_id, label)

    def choose_subject(self, face_id: int | None) -> None:
        """From now on record only this face's rows, signal and events (None: every face's)."""
        with self._lock:
            self.subject = face_id
            if self.recorder is not None:
                self.recorder.subject = face_id

    def pause(self) -> None:
        if self.recorder is not None:
            self.recorder.pause()

    def close(self, status: str = "finished") -> None:
        """Finish the session (call once its analysis thread has stopped): video closed and linked."""
        with self._lock:
            if self.video is not None:
                self.video.close()
                if self.video.written and self._library is not None:
                    self._library.set_video(self.recorder.session_id, self.video.path)
            if self.recorder is not None:
                self.recorder.finish(status)
            if self._library is not None:
                self._library.close()
            self.video, self._library = None, None
