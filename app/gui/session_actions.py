"""The main window's recording side: the session library, the live session and its REC badge, markers
with their notes, the Sessions window and session reports.

A mixin of ``MainWindow``: it uses the window's settings, controller, view, timeline and status bar, and
the session-label and marker-note fields that ``MainWindow._build`` makes. The window's own file keeps its
layout, the analysis and the review player; this one holds what is recorded.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, Slot
from PySide6.QtWidgets import QFileDialog

from app.errors import InputError
from app.gui.library_access import open_private_library
from app.gui.live_session import LiveSession
from app.gui.sessions_window import DEIDENTIFIED_FILTER, SessionsWindow, export_report, report_filter
from app.sessions import Library, Marker
from app.sessions.analysis import pipeline_settings


class SessionActions:
    """What ``MainWindow`` does about recording. Its slots are connected on the UI thread and must not call
    ``sender()``, which PySide6 answers None in a mixin's slot."""

    def recording_changed(self) -> None:
        """The REC badge says plainly whether (and what) is being recorded."""
        session, badge = self.session, self.rec_badge
        if session is None or session.session_id is None:
            badge.hide()
            return
        paused = session.status == "paused"
        text = f"{'❚❚ PAUSED' if paused else '● REC'}  session {session.session_id}"
        if session.label:
            text += f" “{session.label}”"
        if session.video is not None:
            text += "  + VIDEO"
        if session.subject is not None:
            text += f"  face {session.subject} only"
        badge.setText(text)
        badge.setToolTip(f"Recorded into {session.library_path}" + (
            f"; the video goes to {session.video.path}" if session.video is not None else "; video not recorded"))
        badge.setStyleSheet("color: white; font-weight: bold; border-radius: 3px; background: "
                            + ("#9e6a03;" if paused else "#b62324;"))
        badge.show()

    def open_library(self) -> Library | None:
        """The library of the settings; a foreign or damaged one is reported (and left untouched)."""
        path = self.settings.library
        if self.library is not None and self.library.path == path:
            return self.library
        try:
            self.library = open_private_library(self, path, self.settings.encrypt_library,
                                                self.settings.retention_days)
        except (InputError, OSError) as exc:
            self._error("Session library", f"{exc}\n\nSessions are not recorded. Choose another folder in "
                        "Settings → Session library.")
            return None
        return self.library

    def _switch_library(self) -> None:
        library, self.library = self.library, None
        if library is not None:
            library.close()
        if self.sessions_window is not None:
            opened = self.open_library()
            if opened is None:
                self.sessions_window.close()
            else:
                self.sessions_window.set_library(opened)

    def _new_session(self) -> LiveSession | None:
        library = self.open_library()
        if library is None:
            return None
        session = LiveSession(library.path, self.session_label.text().strip(), pipeline_settings(self._options()),
                              self.settings.record_video)
        session.choose_subject(self.view.subject)
        return session

    @Slot(int)
    def choose_subject(self, face_id: int) -> None:
        """Several faces: a click on a face makes it the subject whose events a session records; a click on
        it again, or beside every face, records every face."""
        if not self.view.several_faces:
            return
        subject = None if face_id < 0 or face_id == self.view.subject else face_id
        self.view.subject = subject
        if self.session is not None:
            self.session.choose_subject(subject)
        self.statusBar().showMessage("Recording every face" if subject is None else
                                     f"Recording face {subject} only (click it again to record every face)", 5000)
        self.recording_changed()
        self.view.update()

    def _rename_session(self) -> None:
        if self.controller.rename(self.session_label.text().strip()):
            self.recording_changed()

    def mark(self) -> None:
        if self.store is None:
            return
        if self.player is not None:
            rec = self.store.record(self.player.position)
            seconds = rec.timestamp if rec else None
        else:
            seconds = self.latest_time
        marker = self.controller.mark(seconds)
        if marker is None:
            return
        if isinstance(marker, Marker):
            self.timeline.add_mark(marker.t, marker.label)
            self._noted = marker
            self.marker_note.setPlaceholderText(f"note for {marker.label} at {marker.t:.1f} s (Enter)")
            self.marker_note.show()
            self.marker_note.setFocus()
        else:
            self.timeline.add_mark(seconds)
        self.statusBar().showMessage(f"Marked {seconds:.2f} s", 3000)

    def _save_marker_note(self) -> None:
        marker, note = self._noted, self.marker_note.text().strip()
        if marker is not None and note and self.session is not None:
            self.session.set_note(marker, note)
            self.statusBar().showMessage(f"Note saved with {marker.label}", 3000)
        self._hide_marker_note()

    def _hide_marker_note(self) -> None:
        self._noted = None
        self.marker_note.clear()
        if self.marker_note.isVisible():
            self.marker_note.hide()
            self.view.setFocus()

    def open_sessions(self) -> SessionsWindow | None:
        library = self.open_library()
        if library is None:
            return None
        if self.sessions_window is None:
            self.sessions_window = SessionsWindow(library, self)
            self.sessions_window.play_video.connect(self._review_session_video)
        else:
            self.sessions_window.refresh()
        self.sessions_window.show()
        self.sessions_window.raise_()
        return self.sessions_window

    def _review_session_video(self, path: str) -> None:
        """The recorded video opens in this window, brought in front of the Sessions window; in an encrypted
        library, a decrypted private copy of it."""
        if self.library is not None:
            try:
                path = str(self.library.playable_video(Path(path)))
            except InputError as exc:
                self._error("Session video", str(exc))
                return
        self.open_video(path)
        self.raise_()
        self.activateWindow()

    def choose_report(self) -> None:
        """The current session, else the last one recorded here, else the newest in the library."""
        session_id = self.session.session_id if self.session is not None else None
        session_id = session_id or self.controller.last_session_id
        library = self.open_library()
        if session_id is None and library is not None:
            newest = library.sessions()
            session_id = newest[0].id if newest else None
        if session_id is None or library is None:
            self._error("Export report", "No session recorded yet: start live analysis (Camera or Demo clip), "
                        "or pick a saved session in Sessions… and export it from there.")
            return
        folder = QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation) or str(Path.home())
        path, chosen = QFileDialog.getSaveFileName(self, "Export report",
                                                   str(Path(folder) / f"session-{session_id}-report.html"),
                                                   report_filter())
        if path:
            self.export_report(session_id, path, faces=chosen != DEIDENTIFIED_FILTER)

    def export_report(self, session_id: int, out: str | Path, faces: bool = True) -> None:
        """Write a session's report in a thread (the status bar says when it is written); ``faces=False``:
        the de-identified report."""
        library = self.settings.library
        self._run_task(lambda: export_report(library, session_id, Path(out), faces),
                       lambda written: self.statusBar().showMessage(f"Report written to {written}", 10000),
                       lambda message: self._error("Export report", message))
