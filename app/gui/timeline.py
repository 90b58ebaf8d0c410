"""The spotting signal over time, its threshold, and each event as a span coloured by its label.

Live: the last ``LIVE_WINDOW_S`` seconds scroll by. Review: the whole video, with a draggable playhead.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from app.events import Event
from app.gui.records import LIVE_SIGNAL_S
from app.gui.theme import label_colour

LIVE_WINDOW_S = 10.0


class Timeline(pg.PlotWidget):
    seek_requested = Signal(float)  # seconds on the source clock

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background="#0d1117")
        self.setMinimumHeight(150)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=True, y=False)
        self.showGrid(x=True, y=True, alpha=0.15)
        self.setLabel("bottom", "time", units="s")
        self.setLabel("left", "motion", units="px")
        self.getAxis("left").enableAutoSIPrefix(False)
        self.addLegend(offset=(-10, 5), labelTextColor="#e6edf3")
        self.signal = self.plot([], [], pen=pg.mkPen("#58a6ff", width=1.5), name="spotting signal")
        self.threshold = self.plot([], [], pen=pg.mkPen("#f0883e", width=1, style=Qt.DashLine), name="threshold")
        self.playhead = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen("#e6edf3", width=1))
        self.playhead.sigPositionChangeFinished.connect(lambda line: self.seek_requested.emit(float(line.value())))
        self.addItem(self.playhead)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.spans: list[pg.LinearRegionItem] = []
        self.marks: list[pg.InfiniteLine] = []
        self.live = False

    def reset(self, live: bool, duration: float | None) -> None:
        for item in self.spans + self.marks:
            self.removeItem(item)
        self.spans, self.marks = [], []
        self.signal.setData([], [])
        self.threshold.setData([], [])
        self.live = live
        self.playhead.setMovable(not live)
        self.playhead.setVisible(not live)
        self.enableAutoRange(axis="y")
        if duration:
            self.setXRange(0, duration, padding=0.01)

    def set_signal(self, times: np.ndarray, values: np.ndarray, thresholds: np.ndarray) -> None:
        self.signal.setData(times, values)
        self.threshold.setData(times, thresholds)

    def add_event(self, e: Event) -> None:
        colour = QColor(label_colour(e.label))
        colour.setAlpha(90)
        span = pg.LinearRegionItem((e.onset_time, e.offset_time), movable=False, brush=colour,
                                   pen=pg.mkPen(label_colour(e.label)))
        span.setToolTip(f"#{e.event_id} {e.label or 'unlabelled'} {e.kind}")
        self.addItem(span)
        self.spans.append(span)

    def add_mark(self, seconds: float, label: str = "M", tip: str = "") -> None:
        line = pg.InfiniteLine(seconds, angle=90, movable=False, pen=pg.mkPen("#daaa3f", width=1, style=Qt.DotLine),
                               label=label, labelOpts={"color": "#daaa3f", "position": 0.95})
        line.setToolTip(tip or label)
        self.addItem(line)
        self.marks.append(line)

    def follow(self, now: float) -> None:
        """Live: show the last seconds and forget spans and marks that scrolled out of the history."""
        self.setXRange(max(0.0, now - LIVE_WINDOW_S), max(now, LIVE_WINDOW_S), padding=0)
        horizon = now - LIVE_SIGNAL_S
        for items in (self.spans, self.marks):
            while items and _right(items[0]) < horizon:
                self.removeItem(items.pop(0))

    def set_playhead(self, seconds: float) -> None:
        self.playhead.setValue(seconds)

    def _clicked(self, event) -> None:
        if self.live or event.button() != Qt.LeftButton:
            return
        point = self.plotItem.vb.mapSceneToView(event.scenePos())
        self.seek_requested.emit(float(point.x()))


def _right(item) -> float:
    return item.getRegion()[1] if isinstance(item, pg.LinearRegionItem) else float(item.value())
