"""One stored session, as the reviewer sees it: timeline, events, markers, notes, counts and a plot.

Everything shown comes from ``app.sessions`` (``Library.load`` and the ``review`` queries); nothing is
recomputed here. Selecting two markers summarises the events between them; one marker, the events up to
the next marker (or the end).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QPushButton, QSplitter, QVBoxLayout, QWidget)

from app.gui.events_panel import EventsPanel
from app.gui.records import LIVE_MAX_STEP_S
from app.gui.theme import label_colour
from app.gui.timeline import Timeline
from app.sessions import Marker, Session, StoredEvent
from app.sessions.review import between, events_over_time, label_counts

PLOT_BINS = 20  # the events-over-time plot has about this many bars


def _local(moment) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "—"


def span_text(session: Session, markers: list[Marker]) -> str:
    """What happened between two markers (or from one to the next / the end), in one line."""
    user = [m for m in session.markers if m.kind == "user"]
    if len(markers) == 1:
        later = [m for m in user if m.t > markers[0].t]
        markers = [markers[0]] + later[:1]
    span = between(session, *markers[:2]) if len(markers) >= 2 else between(session, markers[0])
    names = " → ".join(m.label or f"{m.t:.1f} s" for m in markers[:2]) + ("" if len(markers) > 1 else " → end")
    counts = ", ".join(f"{label} {n}" for label, n in span.counts.items() if n) or "none"
    return (f"{names}: {span.seconds:.1f} s, {len(span.events)} events ({span.micro} micro, {span.macro} macro; "
            f"{span.per_minute:.1f}/min) — {counts}")


class SessionReview(QWidget):
    """Shows a loaded ``Session``; notes typed here are added through ``note_added``."""

    note_added = Signal(int, str)  # session id, text
    play_video = Signal(str)  # path of the recorded video

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: Session | None = None
        self.header = QLabel("Open a session from the list.")
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.RichText)
        self.video_label = QLabel()
        self.video_button = QPushButton("Review the recorded video")
        self.video_button.clicked.connect(lambda: self.play_video.emit(str(self.session.info.video_path)))
        video_row = QHBoxLayout()
        video_row.addWidget(self.video_label, 1)
        video_row.addWidget(self.video_button)

        self.timeline = Timeline()
        self.events = EventsPanel()
        self.events.event_selected.connect(self._event_selected)
        self.evidence = QLabel()
        self.evidence.setAlignment(Qt.AlignCenter)
        self.evidence.setMinimumHeight(120)

        self.markers = QListWidget()
        self.markers.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.markers.itemSelectionChanged.connect(self._markers_selected)
        self.span = QLabel("One marker: its events up to the next one.")
        self.span.setWordWrap(True)
        self.notes = QListWidget()
        self.notes.setWordWrap(True)
        self.markers.setWordWrap(True)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("Add a note and press Enter")
        self.note_edit.returnPressed.connect(self._add_note)

        self.counts = QLabel()
        self.counts.setTextFormat(Qt.RichText)
        self.plot = pg.PlotWidget(background="#0d1117")
        self.plot.setMinimumHeight(120)
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.setLabel("left", "events")

        events_column = QSplitter(Qt.Vertical)
        events_column.addWidget(self.events)
        events_column.addWidget(self.evidence)
        events_column.setStretchFactor(0, 1)
        side = QWidget()  # counts, plot, markers and notes: all in view at once
        col = QVBoxLayout(side)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.counts)
        col.addWidget(self.plot, 1)
        col.addWidget(QLabel("Markers (select two to summarise between them)"))
        col.addWidget(self.markers, 1)
        col.addWidget(self.span)
        col.addWidget(QLabel("Notes"))
        col.addWidget(self.notes, 1)
        col.addWidget(self.note_edit)
        bottom = QSplitter(Qt.Horizontal)
        bottom.addWidget(events_column)
        bottom.addWidget(side)
        bottom.setSizes([480, 400])

        body = QSplitter(Qt.Vertical)
        body.addWidget(self.timeline)
        body.addWidget(bottom)
        body.setSizes([220, 420])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addLayout(video_row)
        layout.addWidget(body, 1)
        self.show_session(None)

    def show_session(self, session: Session | None) -> None:
        self.session = session
        self.events.reset(None)
        self.markers.clear()
        self.notes.clear()
        self.evidence.clear()
        self.plot.clear()
        self.counts.clear()
        self.note_edit.setEnabled(session is not None)
        self.video_button.setVisible(False)
        if session is None:
            self.header.setText("Open a session from the list.")
            self.video_label.clear()
            self.timeline.reset(False, None)
            return
        info, sig = session.info, session.signal
        end = info.last_timestamp or 0.0
        self.timeline.reset(False, max(end, 1.0))
        for face_id in sig.face_ids:  # one signal per face
            one = sig.of(face_id)
            ok = np.isfinite(one.value) & np.isfinite(one.threshold)
            self.timeline.set_signal(one.timestamp[ok], one.value[ok], one.threshold[ok], LIVE_MAX_STEP_S, face_id)
        self.timeline.playhead.setVisible(False)
        for stored in session.events:
            self.events.add_stored(stored)
            self.timeline.add_event(stored.event)
        last_pause = None
        for m in session.markers:
            if m.kind == "user":
                self._add_marker(m)
            elif m.kind == "pause":  # written by the recorder; a resume follows on the session's clock
                last_pause = m.t
                self.timeline.add_mark(m.t, "❚❚ pause", f"paused at {m.t:.1f} s", "#8b949e", height=0.22)
            else:  # its line only, when it would write over its pause's label
                near = last_pause is not None and m.t - last_pause < 0.08 * max(end, 1.0)
                self.timeline.add_mark(m.t, "" if near else "▶ resume", f"resumed at {m.t:.1f} s", "#8b949e",
                                       height=0.22)
        for note in session.notes:
            self.notes.addItem(f"{_local(note.created_at)}  {note.text}")
        model = info.model
        model_text = f"{model.name} {model.version} ({model.provider})" if model else "no model (spotting only)"
        status_colour = {"finished": "#57ab5a", "interrupted": "#e5534b"}.get(info.status, "#daaa3f")
        self.header.setText(
            f"<b>{info.label or '(no label)'}</b> — session {info.id}, "
            f"<span style='color:{status_colour}'>{info.status}</span><br>"
            f"{_local(info.started_at)} → {_local(info.ended_at)}, {end:.1f} s of {info.source.name} "
            f"({info.source.kind}); model: {model_text}")
        if info.video_path is not None and info.video_path.is_file():
            self.video_label.setText(f"Video: {info.video_path}")
            self.video_button.setVisible(True)
        else:
            self.video_label.setText("The video was not recorded for this session (Settings → Session library).")
        self._show_summary(session)

    def _add_marker(self, m: Marker) -> None:
        text = f"{m.t:7.2f} s  {m.label}" + (f" — {m.note}" if m.note else "")
        item = QListWidgetItem(text)
        item.setData(Qt.UserRole, m)
        self.markers.addItem(item)
        self.timeline.add_mark(m.t, m.label or "M", text)

    def _show_summary(self, session: Session) -> None:
        events = [s.event for s in session.events]
        counts = label_counts(events, session.info.classes)
        self.counts.setText("  ".join(f"<span style='color:{label_colour(None if k == 'unlabelled' else k).name()}'>"
                                      f"■</span> {k}: <b>{n}</b>" for k, n in counts.items()) or "no events")
        duration = max(session.info.last_timestamp or 0.0, 1.0)
        over = events_over_time(session, bin_s=max(1.0, np.ceil(duration / PLOT_BINS)))
        width = over.edges[1] - over.edges[0]
        bottom = np.zeros(len(over.edges) - 1)
        for label, n in over.counts.items():
            if n.any():
                colour = label_colour(None if label == "unlabelled" else label)
                self.plot.addItem(pg.BarGraphItem(x0=over.edges[:-1], width=width * 0.9, y0=bottom, height=n,
                                                  brush=colour, pen=colour))
                bottom = bottom + n
        top = max(1.0, float(bottom.max()))
        self.plot.setYRange(0, top)
        step = max(1, int(np.ceil(top / 4)))  # whole events only
        self.plot.getAxis("left").setTickSpacing(step, step)

    def _event_selected(self, stored: StoredEvent) -> None:
        e = stored.event
        self.timeline.set_playhead(e.apex_time)
        self.timeline.playhead.setVisible(True)
        pixmaps = [QPixmap.fromImage(QImage.fromData(png)).scaled(112, 112, Qt.KeepAspectRatio)
                   for png in (stored.onset_png, stored.attention_png) if png]
        if not pixmaps:
            self.evidence.setText("No pictures were stored for this event.")
            return
        canvas = QPixmap(sum(p.width() + 8 for p in pixmaps), max(p.height() for p in pixmaps))
        canvas.fill(Qt.transparent)
        painter = QPainter(canvas)
        x = 0
        for p in pixmaps:
            painter.drawPixmap(x, 0, p)
            x += p.width() + 8
        painter.end()
        self.evidence.setPixmap(canvas)
        self.evidence.setToolTip(f"event {e.event_id}: onset face and attention map")

    def _markers_selected(self) -> None:
        picked = sorted((i.data(Qt.UserRole) for i in self.markers.selectedItems()), key=lambda m: m.t)
        if self.session is None or not picked:
            return
        self.span.setText(span_text(self.session, picked))

    def _add_note(self) -> None:
        text = self.note_edit.text().strip()
        if text and self.session is not None:
            self.note_edit.clear()
            self.note_added.emit(self.session.info.id, text)
