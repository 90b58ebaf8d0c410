"""The spotting signal over time, its threshold, and each event as a span coloured by its label.

With several faces, one signal (and threshold) per face, in its id's colour.

Live: the last ``LIVE_WINDOW_S`` seconds scroll by. Review: the whole video, with a draggable playhead.

Live, a scroll costs the same at minute 1 and hour 2: only the seconds in view are handed to the curves
(the history kept for a paused or stopped session is drawn once, when following stops), and x and y are
set in one step, so a scroll is one repaint (pyqtgraph's y auto-range would add a second one).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from app.events import Event
from app.face_tracks import face_hex
from app.gui.records import LIVE_SIGNAL_S, Gap
from app.gui.theme import label_colour

LIVE_WINDOW_S = 10.0
GAP_LABEL_SPACING_S = 1.5  # a gap's reason is written inside it unless another label is this close


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
        # connect="finite": a NaN breaks the line, so where there is no signal nothing is drawn through
        self.signal = self.plot([], [], pen=pg.mkPen("#58a6ff", width=1.5), name="spotting signal", connect="finite")
        self.threshold = self.plot([], [], pen=pg.mkPen("#f0883e", width=1, style=Qt.DashLine), name="threshold",
                                   connect="finite")
        self._faces: dict[int, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {0: (self.signal, self.threshold)}
        self.playhead = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen("#e6edf3", width=1))
        self.playhead.sigPositionChangeFinished.connect(lambda line: self.seek_requested.emit(float(line.value())))
        self.addItem(self.playhead)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.spans: list[pg.LinearRegionItem] = []
        self.marks: list[pg.InfiniteLine] = []
        self.gaps: list[pg.LinearRegionItem] = []
        self._gaps_shown: list[Gap] = []
        self._data: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # per face, with its line breaks
        self.following = False  # live: the view scrolls with the newest time and draws only what is in view
        self.live = False
        self.fps = 30.0
        self.setXRange(0, LIVE_WINDOW_S, padding=0)  # idle: an empty 10 s axis, not pyqtgraph's ±0.4
        self.setYRange(0, 1, padding=0)

    def reset(self, live: bool, duration: float | None, fps: float = 30.0) -> None:
        for item in self.spans + self.marks + self.gaps:
            self.removeItem(item)
        self.spans, self.marks, self.gaps, self._gaps_shown = [], [], [], []
        self.fps = fps
        for face_id in [i for i in self._faces if i]:
            for item in self._faces.pop(face_id):
                self.removeItem(item)
        self.signal.setPen(pg.mkPen("#58a6ff", width=1.5))
        self.threshold.setPen(pg.mkPen("#f0883e", width=1, style=Qt.DashLine))
        self.signal.setData([], [])
        self.threshold.setData([], [])
        self._data, self.following = {}, False
        self.live = live
        self.playhead.setMovable(not live)
        self.playhead.setVisible(not live)
        self.enableAutoRange(axis="y")
        self.setXRange(0, duration or LIVE_WINDOW_S, padding=0.01 if duration else 0)

    def set_signal(self, times: np.ndarray, values: np.ndarray, thresholds: np.ndarray,
                   max_step_s: float | None = None, face_id: int = 0) -> None:
        """A face's signal, broken (NaN) wherever samples are further apart than ``max_step_s`` (default
        2.5 frames; live analysis drops frames, so the window passes its own)."""
        signal, threshold = self._curves(face_id)
        step = max_step_s or 2.5 / self.fps
        if len(times) > 1:
            breaks = np.flatnonzero(np.diff(times) > step) + 1
            times = np.insert(times, breaks, times[breaks - 1] + 0.5 / self.fps)
            values = np.insert(values, breaks, np.nan)
            thresholds = np.insert(thresholds, breaks, np.nan)
        self._data[face_id] = (times, values, thresholds)
        if not self.following:  # following, ``follow`` draws the part in view
            signal.setData(times, values)
            threshold.setData(times, thresholds)
            self.enableAutoRange(axis="y")

    def _curves(self, face_id: int) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        """A face's signal and threshold curves; from the second face on, every face's in its id's colour."""
        if face_id not in self._faces:
            colour = face_hex(face_id)
            self._faces[face_id] = (
                self.plot([], [], pen=pg.mkPen(colour, width=1.5), name=f"face {face_id}", connect="finite"),
                self.plot([], [], pen=pg.mkPen(colour, width=1, style=Qt.DashLine), connect="finite"))
            self.signal.setPen(pg.mkPen(face_hex(0), width=1.5))
            self.threshold.setPen(pg.mkPen(face_hex(0), width=1, style=Qt.DashLine))
        return self._faces[face_id]

    def set_gaps(self, gaps: list[Gap]) -> None:
        """Shade each stretch without a signal and say why (hover, and a label inside). Unchanged gaps
        are left as they are (the live timeline asks ten times a second)."""
        if gaps == self._gaps_shown:
            return
        self._gaps_shown = list(gaps)
        for item in self.gaps:
            self.removeItem(item)
        self.gaps = []
        labelled: float | None = None
        for gap in gaps:
            region = pg.LinearRegionItem((gap.start, gap.end), movable=False, brush=QColor(139, 148, 158, 45),
                                         pen=pg.mkPen(None))
            region.setZValue(-20)
            region.setToolTip(f"no signal {gap.start:.2f}–{gap.end:.2f} s: {gap.reason}")
            region.reason = gap.reason
            if labelled is None or gap.start - labelled > GAP_LABEL_SPACING_S:  # close gaps: one label
                region.label = pg.InfLineLabel(region.lines[0], gap.reason, position=0.6, anchor=(0, 0.5),
                                               color="#8b949e")
                labelled = gap.start
            self.addItem(region)
            self.gaps.append(region)

    def add_event(self, e: Event) -> None:
        colour = QColor(label_colour(e.label))
        colour.setAlpha(90)
        span = pg.LinearRegionItem((e.onset_time, e.offset_time), movable=False, brush=colour,
                                   pen=pg.mkPen(label_colour(e.label)))
        span.setToolTip(f"#{e.event_id} face {e.face_id}: {e.label or 'unlabelled'} {e.kind_text}")
        self.addItem(span)
        self.spans.append(span)

    def add_mark(self, seconds: float, label: str = "M", tip: str = "", colour: str = "#daaa3f",
                 height: float = 0.08) -> None:
        """A marker line; its label sits low on the plot (at ``height``), clear of the legend in the top corner."""
        line = pg.InfiniteLine(seconds, angle=90, movable=False, pen=pg.mkPen(colour, width=1, style=Qt.DotLine),
                               label=label or None, labelOpts={"color": colour, "position": height})
        line.setToolTip(tip or label)
        self.addItem(line)
        self.marks.append(line)

    def follow(self, now: float) -> None:
        """Live: show the last seconds, drawing only them, and forget spans and marks that scrolled out of
        the history. The y range spans the whole kept history, as auto-range did, so it does not jump."""
        self.following = True
        x0, x1 = max(0.0, now - LIVE_WINDOW_S), max(now, LIVE_WINDOW_S)
        low, high = np.inf, -np.inf
        for face_id, (times, values, thresholds) in self._data.items():
            signal, threshold = self._curves(face_id)
            first = max(int(np.searchsorted(times, x0)) - 1, 0)  # one sample left of the view: the line enters it
            signal.setData(times[first:], values[first:])
            threshold.setData(times[first:], thresholds[first:])
            for series in (values, thresholds):
                finite = series[np.isfinite(series)]
                if finite.size:
                    low, high = min(low, float(finite.min())), max(high, float(finite.max()))
        y_range = None
        if np.isfinite(low):
            pad = (high - low) * self.plotItem.vb.suggestPadding(1) if high > low else 0.5
            y_range = (low - pad, high + pad)
        self.setRange(xRange=(x0, x1), yRange=y_range, padding=0)
        self.plotItem.vb.updateMatrix()  # now, not while painting: items that move then ask for a second paint
        horizon = now - LIVE_SIGNAL_S
        for items in (self.spans, self.marks, self.gaps):
            while items and _right(items[0]) < horizon:
                self.removeItem(items.pop(0))

    def show_history(self) -> None:
        """Live analysis paused or stopped: draw the whole kept history, to pan through."""
        if not self.following:
            return
        self.following = False
        for face_id, (times, values, thresholds) in self._data.items():
            signal, threshold = self._curves(face_id)
            signal.setData(times, values)
            threshold.setData(times, thresholds)
        self.enableAutoRange(axis="y")

    def set_playhead(self, seconds: float) -> None:
        self.playhead.setValue(seconds)

    def _clicked(self, event) -> None:
        if self.live or event.button() != Qt.LeftButton:
            return
        point = self.plotItem.vb.mapSceneToView(event.scenePos())
        self.seek_requested.emit(float(point.x()))


def _right(item) -> float:
    return item.getRegion()[1] if isinstance(item, pg.LinearRegionItem) else float(item.value())
