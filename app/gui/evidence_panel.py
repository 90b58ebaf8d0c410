"""The latest (or selected) event's evidence: aligned face crop, onset→apex flow, attention map.

Times follow the events list: an event is named by its onset (the apex is given beside it)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from app.gui.images import rgb_image
from app.gui.records import EventView

SIDE = 128


class EvidencePanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        self.pictures: list[QLabel] = []
        for col, caption in enumerate(("face (onset)", "flow onset→apex", "attention")):
            picture = QLabel()
            picture.setFixedSize(SIDE, SIDE)
            picture.setAlignment(Qt.AlignCenter)
            picture.setStyleSheet("background: #010409; border: 1px solid #30363d; color: #6e7681;")
            title = QLabel(caption)
            title.setAlignment(Qt.AlignCenter)
            title.setStyleSheet("color: #8b949e;")
            grid.addWidget(picture, 0, col)
            grid.addWidget(title, 1, col)
            self.pictures.append(picture)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        grid.addWidget(self.caption, 2, 0, 1, 3)
        self.clear()

    def clear(self, text: str = "No event yet.") -> None:
        for picture in self.pictures:
            picture.clear()
            picture.setText("—")
        self.caption.setText(text)

    def prompt(self, events: int) -> None:
        """Events were found but none is selected (a recording): say so rather than "No event yet"."""
        self.clear(f"{events} event{'s' if events != 1 else ''} found: select one in the list to see its evidence.")

    def show_event(self, view: EventView, honesty: str | None) -> None:
        for picture, rgb in zip(self.pictures, (view.crop, view.flow, view.attention)):
            if rgb is None:
                picture.clear()
                picture.setText("no model")
            else:
                picture.setPixmap(QPixmap.fromImage(rgb_image(rgb)).scaled(
                    SIDE, SIDE, Qt.KeepAspectRatio, Qt.SmoothTransformation))
        e = view.event
        # One convention everywhere (list, timeline, report): an event's time is its onset.
        head = (f"#{e.event_id} {e.kind_text} at onset {e.onset_time:.2f} s (apex {e.apex_time:.2f} s, "
                f"{e.duration_ms:.0f} ms): ")
        head += f"<b>{html.escape(e.label_text)}</b><br>face: {html.escape(e.evidence_text)}"
        if e.motion_text:
            head += f"<br>motion: {html.escape(e.motion_text)}"
        if e.model_label and honesty:
            head += f"<br><i>{honesty}</i>"
        self.caption.setText(head)
