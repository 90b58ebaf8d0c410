"""The list of events: thumbnail, time, duration, kind, label and confidence; selecting one reports it.
With several faces the thumbnail's cell also names the face, in its id's colour.

Rows come from the live analysis (``add``: an EventView with its pictures) or from a stored session
(``add_stored``: the event's onset PNG); selecting a row emits whatever object the row was added with.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from app.abstention import percent
from app.events import Event
from app.face_tracks import face_hex
from app.gui.images import rgb_image
from app.gui.records import EventView
from app.sessions import StoredEvent
from app.gui.theme import label_colour

COLUMNS = ("", "onset", "duration", "kind", "label", "conf.")  # an event's time is its onset, everywhere


class EventsPanel(QTableWidget):
    event_selected = Signal(object)  # EventView, or StoredEvent in a session review

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.setIconSize(QSize(40, 40))
        self.verticalHeader().setDefaultSectionSize(44)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.views: list[EventView | StoredEvent] = []
        self.max_rows: int | None = None
        self.several_faces = False  # name each event's face (more than one face analysed)
        self.itemSelectionChanged.connect(self._selected)

    def reset(self, max_rows: int | None) -> None:
        self.setRowCount(0)
        self.views = []
        self.max_rows = max_rows

    def add(self, view: EventView) -> None:
        self._add_row(view, view.event, rgb_image(view.thumbnail))

    def add_stored(self, stored: StoredEvent) -> None:
        self._add_row(stored, stored.event, QImage.fromData(stored.onset_png) if stored.onset_png else QImage())

    def _add_row(self, view: EventView | StoredEvent, e: Event, thumbnail: QImage) -> None:
        row = self.rowCount()
        self.insertRow(row)
        thumb = QTableWidgetItem()
        if not thumbnail.isNull():
            thumb.setIcon(QIcon(QPixmap.fromImage(thumbnail)))
        if self.several_faces:
            thumb.setText(f"face {e.face_id}")
            thumb.setForeground(QColor(face_hex(e.face_id)))
        cells = [thumb, QTableWidgetItem(f"{e.onset_time:.2f} s"), QTableWidgetItem(f"{e.duration_ms:.0f} ms"),
                 QTableWidgetItem(e.kind_text), QTableWidgetItem(e.label or "—"),
                 QTableWidgetItem(percent(e.confidence) if e.confidence is not None else "—")]
        cells[4].setForeground(label_colour(e.label))
        for col, item in enumerate(cells):
            item.setToolTip(f"event {e.event_id} (face {e.face_id}): onset frame {e.onset_frame}, apex {e.apex_time:.2f} s, "
                            f"spot score {e.spot_score:.1f}\n{e.label_text}\nface: {e.evidence_text}")
            if col:
                item.setTextAlignment(Qt.AlignVCenter | (Qt.AlignLeft if col in (3, 4) else Qt.AlignRight))
            self.setItem(row, col, item)
        self.views.append(view)
        if self.max_rows is not None:  # live: bounded, newest in view unless the user picked one
            if len(self.views) > self.max_rows:
                self.removeRow(0)
                self.views.pop(0)
            if not self.selectionModel().hasSelection():
                self.scrollToBottom()

    def _selected(self) -> None:
        rows = self.selectionModel().selectedRows()
        if rows:
            self.event_selected.emit(self.views[rows[0].row()])
