"""The main window's live-session controls: the library, the REC badge, Pause/Resume, marker notes,
the Sessions window and report export.

A mixin of ``MainWindow``: it works on the window's own state (``settings``, ``session``, ``analysis``,
the badge and note widgets built in ``MainWindow._build``), kept apart so that the window module stays
about wiring sources, workers, the player and the panels.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFileDialog

from app.errors import InputError
from app.gui.live_session import LiveSession
from app.gui.library_access import open_private_library
from app.gui.sessions_window import DEIDENTIFIED_FILTER, SessionsWindow, export_report, report_filter
from app.gui.workers import AnalysisRequest
from app.sessions import Library
from app.sessions.analysis import pipeline_settings


class SessionControls:
    def open_library(self) -> Library | None:
        """The library of the settings; a foreign or damaged one is reported (and left untouched)."""
        path = self.settings.library
        if self.library is not None and self.library.path == path:
            return self.library
        try:
            self.library = open_private_library(self, path, self.settings.encrypt_library, self.settings.retention_days)
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
        return LiveSession(library.path, self.session_label.text().strip(), pipeline_settings(self._options()),
                           self.settings.record_video)

    def _end_session(self, status: str = "finished") -> None:
        """Finish the live session (its analysis thread has stopped): everything is already committed."""
        session, self.session = self.session, None
        self._paused_opener = None
        self.pause_action.setText("Pause")
        self._hide_marker_note()
        if session is None:
            return
        session.close(status)
        if session.session_id is not None:
            self.last_session_id = session.session_id
            self.statusBar().showMessage(f"Session {session.session_id} saved ({status})", 8000)
        self._show_badge()
        if self.sessions_window is not None:
            self.sessions_window.refresh()

    @Slot()
    def _show_badge(self) -> None:
        """Says plainly whether (and what) is being recorded."""
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
        badge.setText(text)
        badge.setToolTip(f"Recorded into {session.library_path}" + (
            f"; the video goes to {session.video.path}" if session.video is not None else "; video not recorded"))
        badge.setStyleSheet("color: white; font-weight: bold; border-radius: 3px; background: "
                            + ("#9e6a03;" if paused else "#b62324;"))
        badge.show()

    def toggle_pause(self) -> None:
        """Pause: the analysis stops, the session stays open. Resume: the same source, the same session."""
        if self._paused_opener is not None:
            opener, self._paused_opener = self._paused_opener, None
            self.pause_action.setText("Pause")
            self._start(AnalysisRequest(opener, True, self._options(), None, session=self.session))
            return
        if self.mode != "live" or self.analysis is None:
            return
        self._paused_opener = self.analysis.request.open_source
        self._stop_worker()
        if self.session is not None:
            self.session.pause()
        self.pause_action.setText("Resume")
        self.view.clear("Paused — Resume (Ctrl+P) to continue the session")
        self._show_badge()

    def _rename_session(self) -> None:
        label = self.session_label.text().strip()
        if self.session is not None and label != self.session.label:
            self.session.rename(label)
            self._show_badge()

    def _save_marker_note(self) -> None:
        marker, note = self._noted, self.marker_note.text().strip()
        if marker is not None and note and self.session is not None:
            self.session.set_note(marker, note)
            self.statusBar().showMessage(f"Note saved with {marker.label}", 3000)
        self._hide_marker_note()

    def _hide_marker_note(self) -> None:
        self._noted = None
        self.marker_note.clear()
        self.marker_note.hide()
        self.setFocus()

    def open_sessions(self) -> SessionsWindow | None:
        library = self.open_library()
        if library is None:
            return None
        if self.sessions_window is None:
            self.sessions_window = SessionsWindow(library, self)
            self.sessions_window.play_video.connect(self._play_session_video)
        else:
            self.sessions_window.refresh()
        self.sessions_window.show()
        self.sessions_window.raise_()
        return self.sessions_window

    def _play_session_video(self, path: str) -> None:
        """A session's recorded video; in an encrypted library, a decrypted private copy of it."""
        if self.library is not None:
            try:
                path = self.library.playable_video(Path(path))
            except InputError as exc:
                self._error("Session video", str(exc))
                return
        self.open_video(path)

    def choose_report(self) -> None:
        session_id = self.session.session_id if self.session is not None else None
        session_id = session_id or self.last_session_id
        if session_id is None or self.open_library() is None:
            self._error("Export report", "No session recorded yet: start live analysis (Camera or Demo clip), "
                        "or pick a saved session in Sessions… and export it from there.")
            return
        path, chosen = QFileDialog.getSaveFileName(self, "Export report", f"session-{session_id}-report.html",
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
