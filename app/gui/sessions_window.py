"""The session library window: find a session (label, date range), open it for review, add notes,
export its report, delete it.

Listing is one quick query on the UI thread; loading a session (every per-frame row) and writing a
report (plot, pictures, perhaps a PDF) run in ``Task`` threads, each with its own library connection.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDate, Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QDateEdit, QDialog, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QMessageBox, QPushButton, QSizePolicy, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from app.errors import InputError
from app.gui.session_review import SessionReview
from app.gui.workers import Task
from app.sessions import Library, Session, SessionInfo
from app.sessions.report import pdf_converter, write_report

COLUMNS = ("id", "label", "started", "length", "status", "events", "markers")
ANY_DATE = QDate(2000, 1, 1)  # the date fields' minimum, shown as "any"


def load_session(library: Path, session_id: int) -> Session:
    """Read a whole session with a connection of the calling thread."""
    with Library(library) as opened:
        return opened.load(session_id)


def export_report(library: Path, session_id: int, out: Path, faces: bool = True) -> Path:
    """Write a session's report (.html, or .pdf where a converter is installed); ``faces=False``: de-identified."""
    return write_report(load_session(library, session_id), out, faces)


DEIDENTIFIED_FILTER = "De-identified HTML report, no face pictures (*.html)"


def report_filter() -> str:
    return "HTML report (*.html)" + (";;PDF report (*.pdf)" if pdf_converter() else "") + ";;" + DEIDENTIFIED_FILTER


class SessionsWindow(QDialog):
    """Non-modal: live analysis goes on while sessions are reviewed."""

    play_video = Signal(str)

    def __init__(self, library: Library, parent: QWidget | None = None):
        super().__init__(parent)
        # A window of its own, not a dialog kept above the main window: the recorded video it opens there
        # must come to the front.
        self.setWindowFlags(Qt.Window)
        self.setWindowTitle("Session library")
        self.resize(1300, 820)
        self.library = library
        self.infos: list[SessionInfo] = []
        self.tasks: set[Task] = set()
        self._wanted: int | None = None  # the session whose load the user asked for last

        self.location = QLabel()
        self.location.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.location.setWordWrap(True)
        self.location.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search labels")
        self.search.textChanged.connect(self.refresh)
        self.since, self.until = QDateEdit(), QDateEdit()
        for edit, tip in ((self.since, "started on or after"), (self.until, "started on or before")):
            edit.setCalendarPopup(True)
            edit.setMinimumDate(ANY_DATE)
            edit.setSpecialValueText("any")
            edit.setDate(ANY_DATE)
            edit.setToolTip(tip + " (the earliest date means any)")
            edit.dateChanged.connect(self.refresh)
        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(QLabel("from"))
        filters.addWidget(self.since)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.until)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.itemSelectionChanged.connect(self._selected)
        self.report_button = QPushButton("Export report…")
        self.report_button.clicked.connect(self.choose_report)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.confirm_delete)
        for button in (self.report_button, self.delete_button):  # Enter in a text field must not press them
            button.setAutoDefault(False)
            button.setDefault(False)
        self.status = QLabel()  # what the last action did (a report written…): wraps, never widens the window
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.report_button)
        buttons.addWidget(self.delete_button)

        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.location)
        col.addLayout(filters)
        col.addWidget(self.table, 1)
        col.addLayout(buttons)
        col.addWidget(self.status)
        self.review = SessionReview()
        self.review.note_added.connect(self._add_note)
        self.review.play_video.connect(self.play_video)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(self.review)
        split.setSizes([470, 830])
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.set_library(library)

    def set_library(self, library: Library) -> None:
        self.library = library
        self.location.setText(f"Library: {library.path}")
        self.location.setToolTip("Change it in Settings → Session library")
        self.review.show_session(None)
        self.refresh()

    # --- the list --------------------------------------------------------------------------------

    def refresh(self) -> None:
        since = None if self.since.date() == ANY_DATE else self.since.date().toPython()
        until = None if self.until.date() == ANY_DATE else self.until.date().toPython()
        selected = self.selected()
        self.infos = self.library.sessions(self.search.text().strip() or None, since, until)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.infos))
        for row, info in enumerate(self.infos):
            length = f"{info.last_timestamp:.0f} s" if info.last_timestamp is not None else "—"
            cells = (str(info.id), info.label or "(no label)", info.started_at.astimezone().strftime("%Y-%m-%d %H:%M"),
                     length, info.status, str(info.event_count), str(info.marker_count))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 4 and info.status == "interrupted":
                    item.setForeground(Qt.red)
                self.table.setItem(row, col, item)
        self.table.blockSignals(False)
        if selected is not None and selected.id in [i.id for i in self.infos]:
            self.select(selected.id)
        elif self.review.session is not None and self.review.session.info.id not in [i.id for i in self.infos]:
            self._wanted = None
            self.review.show_session(None)  # no stale details of a session the search no longer shows

    def selected(self) -> SessionInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.infos[rows[0].row()] if rows else None

    def select(self, session_id: int) -> None:
        """Select (and so open) a session of the list."""
        ids = [i.id for i in self.infos]
        if session_id in ids:
            self.table.selectRow(ids.index(session_id))

    @Slot()
    def _selected(self) -> None:
        info = self.selected()
        if info is not None and (self.review.session is None or self.review.session.info.id != info.id):
            self.open_session(info.id)

    # --- one session -----------------------------------------------------------------------------

    def open_session(self, session_id: int) -> None:
        self._wanted = session_id
        self._run(lambda: load_session(self.library.path, session_id), self._loaded)

    @Slot(object)
    def _loaded(self, session: Session) -> None:
        if session.info.id == self._wanted:
            self.review.show_session(session)

    def _add_note(self, session_id: int, text: str) -> None:
        self.library.add_note(session_id, text)
        self.open_session(session_id)

    def confirm_delete(self) -> None:
        info = self.selected()
        if info is None:
            return
        answer = QMessageBox.question(
            self, "Delete session", f"Delete session {info.id} “{info.label}” with its {info.event_count} events, "
            "markers, notes and files? This cannot be undone.", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        if answer == QMessageBox.Yes:
            self.delete(info.id)

    def delete(self, session_id: int) -> None:
        try:
            self.library.delete(session_id)
        except InputError as exc:
            QMessageBox.warning(self, "Delete session", str(exc))
            return
        if self.review.session is not None and self.review.session.info.id == session_id:
            self.review.show_session(None)
        self.refresh()

    def choose_report(self) -> None:
        info = self.selected()
        if info is None:
            QMessageBox.warning(self, "Export report", "Select a session first.")
            return
        name = f"session-{info.id}-report.html"
        path, chosen = QFileDialog.getSaveFileName(self, "Export report", str(Path.home() / name), report_filter())
        if path:
            self.export(info.id, Path(path), faces=chosen != DEIDENTIFIED_FILTER)

    def export(self, session_id: int, out: Path, faces: bool = True) -> None:
        """Write the report in a thread; the library line then says where it went."""
        self._run(lambda: export_report(self.library.path, session_id, out, faces), self._exported)

    @Slot(object)
    def _exported(self, out: Path) -> None:
        self.status.setText(f"Report written to {out}")

    def _run(self, fn, on_done) -> None:
        task = Task(fn, self)
        task.succeeded.connect(on_done)
        task.failed.connect(lambda message: QMessageBox.warning(self, "Session library", message))
        task.finished.connect(lambda: self.tasks.discard(task))
        self.tasks.add(task)
        task.start()

    def wait_tasks(self) -> None:
        for task in list(self.tasks):
            task.wait()
        self.tasks.clear()

    def closeEvent(self, event) -> None:
        self.wait_tasks()
        super().closeEvent(event)
