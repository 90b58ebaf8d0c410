"""The video with its overlays: face box, landmarks, state, label and probabilities, attention heat map.

With several faces each box is drawn in its id's colour with the id, and each face gets its own labels
and heat map; a click on a face picks it as the subject (``face_clicked``; -1: a click beside every face).

Only painting happens here. The heat map is drawn on the aligned crop's grid and placed on the frame
with the painter's transform set to the current frame's crop→frame alignment, so it stays on the face
while the head moves and costs nothing per frame to map.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.abstention import percent
from app.face_tracks import face_hex
from app.gui.images import rgb_image
from app.gui.records import EventView, FaceRecord, FrameRecord
from app.gui.theme import STATE_COLOURS, label_colour


class VideoView(QWidget):
    painted = Signal(int)  # index of the frame just painted (for latency measurement)
    face_clicked = Signal(int)  # the id of the face clicked, -1 beside every face

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(320, 240)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.image: QImage | None = None
        self.index = -1
        self.record: FrameRecord | None = None
        self.events: list[tuple[EventView, float]] = []
        self.state = "idle"
        self.honesty: str | None = None  # caveat shown with labels of a synthetic-trained model
        self.placeholder = "Open a video, a camera or the demo clip"
        self.show_box, self.show_landmarks, self.show_attention = True, False, True
        self.show_overlays = True  # O toggles everything drawn over the face at once
        self.heat_opacity = 0.5  # the attention map's strongest opacity (toolbar slider)
        self.several_faces = False  # boxes in their ids' colours, with their ids (more than one face followed)
        self.subject: int | None = None  # the face whose events a session records (None: every face)
        self._heat: dict[int, QImage] = {}

    def show_frame(self, image: QImage, index: int, record: FrameRecord | None,
                   events: list[tuple[EventView, float]], state: str) -> None:
        self.image, self.index, self.record, self.events, self.state = image, index, record, events, state
        visible = {view.event.event_id for view, _ in events}
        for event_id in [i for i in self._heat if i not in visible]:  # the cache holds visible events only
            del self._heat[event_id]
        self.update()

    def clear(self, placeholder: str) -> None:
        self.image, self.record, self.events, self.state, self.index = None, None, [], "idle", -1
        self.placeholder = placeholder
        self._heat.clear()
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#010409"))
        if self.image is None:
            p.setPen(QColor("#8b949e"))
            p.drawText(self.rect(), Qt.AlignCenter, self.placeholder)
            p.end()
            return
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        p.setRenderHint(QPainter.Antialiasing)
        iw, ih = self.image.width(), self.image.height()
        scale, ox, oy = self._placement()
        to_widget = QTransform(scale, 0, 0, scale, ox, oy)
        p.drawImage(QRectF(ox, oy, iw * scale, ih * scale), self.image)
        rec = self.record
        if rec is not None and self.show_overlays:
            for face in rec.faces:
                events = self.face_events(face.face_id)
                if self.show_attention:
                    self._draw_heat(p, face, events, to_widget)
                if self.show_landmarks:
                    p.setPen(QPen(QColor(88, 166, 255, 200), 1.5))
                    pts = face.landmarks.astype(np.float32) * scale + np.array([ox, oy], np.float32)
                    p.drawPoints([QPointF(float(x), float(y)) for x, y in pts])
                x, y, w, h = face.bbox
                box = QRectF(ox + x * scale, oy + y * scale, w * scale, h * scale)
                if self.show_box:
                    self._draw_box(p, box, face.face_id)
                self._draw_labels(p, box, events)
        self._draw_state(p)
        p.end()
        self.painted.emit(self.index)

    def _placement(self) -> tuple[float, float, float]:
        """(scale, left, top) of the picture in the widget (letterboxed)."""
        iw, ih = self.image.width(), self.image.height()
        scale = min(self.width() / iw, self.height() / ih)
        return scale, (self.width() - iw * scale) / 2, (self.height() - ih * scale) / 2

    def mousePressEvent(self, event) -> None:
        if self.record is None or self.image is None or event.button() != Qt.LeftButton:
            return super().mousePressEvent(event)
        scale, ox, oy = self._placement()
        point = event.position()
        face_id = self.record.face_at((point.x() - ox) / scale, (point.y() - oy) / scale)
        self.face_clicked.emit(-1 if face_id is None else face_id)

    def face_events(self, face_id: int) -> list[tuple[EventView, float]]:
        return [(view, opacity) for view, opacity in self.events if view.event.face_id == face_id]

    def _draw_box(self, p: QPainter, box: QRectF, face_id: int) -> None:
        """The state's colour with one face; with several, the id's colour, the id, and the subject bolder."""
        p.setBrush(Qt.NoBrush)
        if not self.several_faces:
            p.setPen(QPen(QColor(STATE_COLOURS[self.state]), 2))
            p.drawRect(box)
            return
        colour = QColor(face_hex(face_id))
        p.setPen(QPen(colour, 4 if face_id == self.subject else 2))
        p.drawRect(box)
        tag = f"face {face_id}" + (" · subject" if face_id == self.subject else "")
        fm = p.fontMetrics()
        rect = QRectF(box.left(), box.bottom() + 2, fm.horizontalAdvance(tag) + 10, fm.height() + 4)
        p.fillRect(rect, colour)
        p.setPen(QColor("#ffffff"))
        p.drawText(rect, Qt.AlignCenter, tag)

    def _draw_heat(self, p: QPainter, face: FaceRecord, events: list[tuple[EventView, float]],
                   to_widget: QTransform) -> None:
        m = face.crop_to_frame
        crop_to_frame = QTransform(m[0, 0], m[1, 0], m[0, 1], m[1, 1], m[0, 2], m[1, 2])
        for view, opacity in events:
            if view.heat is None:
                continue
            image = self._heat.get(view.event.event_id)
            if image is None:
                # premultiplied once: the format painting with an opacity needs, not converted on every paint
                image = self._heat[view.event.event_id] = rgb_image(view.heat).convertToFormat(
                    QImage.Format_ARGB32_Premultiplied)
            p.save()
            p.setTransform(crop_to_frame * to_widget)
            p.setOpacity(opacity * self.heat_opacity)
            p.drawImage(QRectF(0, 0, image.width(), image.height()), image)
            p.restore()

    def picture_height(self) -> float:
        """Height of the picture as painted (the widget minus the letterbox)."""
        if self.image is None:
            return float(self.height())
        return self.image.height() * min(self.width() / self.image.width(), self.height() / self.image.height())

    def label_font(self) -> QFont:
        """Label text that scales with the picture: readable on a projector, not huge in a small window."""
        font = QFont(self.font())
        font.setPixelSize(int(min(max(self.picture_height() / 36, 12), 30)))
        return font

    def label_lines(self, events: list[tuple[EventView, float]] | None = None) -> list[tuple[str, bool]]:
        """The newest visible event's label (of ``events``, default every face's) with its age, the face's
        evidence, EPIR's probability of every class, kind and duration. The model's caveat is not here: the window shows it whole in a
        banner above the picture."""
        events = self.events if events is None else events
        if not events:
            return []
        e = events[-1][0].event
        now = self.record.timestamp if self.record is not None else e.apex_time
        age = now - e.apex_time
        when = "now" if age < 0.25 else f"{age:.1f} s ago"
        lines = [((e.label_text if e.label or e.model_label else "event (no model: unlabelled)") + f" · {when}",
                  True)]
        if e.evidence is not None:
            lines.append((f"face: {e.evidence_text}", False))
        if e.probabilities:  # the model's own view, named as such: the label above may differ from it
            lines.append(("EPIR's probabilities:", False))
        lines += [(f"{name:<10} {percent(prob):>6}", False) for name, prob in e.probabilities.items()]
        lines.append((f"{e.kind_text}, {e.duration_ms:.0f} ms", False))
        return lines

    def _draw_labels(self, p: QPainter, box: QRectF, events: list[tuple[EventView, float]]) -> None:
        """The face's newest visible event's label and every class probability, next to the face."""
        if not events:
            return
        view, opacity = events[-1]
        e = view.event
        lines = self.label_lines(events)
        p.setFont(self.label_font())
        fm = p.fontMetrics()
        width = min(max(fm.horizontalAdvance(t) for t, _ in lines) + 24, self.width() // 2)
        height = fm.height() * len(lines) + 10
        # Beside the face, on the side with room; where neither side has room, the wider one, text elided.
        room_right, room_left = self.width() - box.right() - 16, box.left() - 16
        if width > room_right and width > room_left:
            width = max(min(max(room_right, room_left), width), 160)
        x = box.right() + 8 if width <= room_right or room_right >= room_left else max(box.left() - width - 8, 0)
        y = min(max(box.top(), 0), max(self.height() - height, 0))
        p.save()
        p.setOpacity(max(opacity, 0.6))  # the text stays readable while the heat map fades
        p.setPen(Qt.NoPen)
        p.setBrush(QColor(1, 4, 9, 200))
        p.drawRoundedRect(QRectF(x, y, width, height), 6, 6)
        colour = label_colour(e.label)
        first = 3 if e.evidence is not None else 2  # the first probability line (label, evidence, heading)
        names, probs = list(e.probabilities), list(e.probabilities.values())
        for i, (text, strong) in enumerate(lines):
            row = QRectF(x + 8, y + 5 + i * fm.height(), width - 16, fm.height())
            if first <= i < first + len(probs):  # probability bars
                p.setBrush(QColor(label_colour(names[i - first])).darker(160))
                p.drawRect(QRectF(row.left(), row.top() + 2, row.width() * probs[i - first], row.height() - 4))
            p.setPen(colour if strong else QColor("#e6edf3"))
            p.drawText(row, Qt.AlignLeft | Qt.AlignVCenter | Qt.TextSingleLine,
                       fm.elidedText(text, Qt.ElideRight, int(row.width())))
            p.setPen(Qt.NoPen)
        p.restore()

    def _draw_state(self, p: QPainter) -> None:
        text = self.state
        fm = p.fontMetrics()
        rect = QRectF(10, 10, fm.horizontalAdvance(text) + 24, fm.height() + 8)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor(1, 4, 9, 190))
        p.drawRoundedRect(rect, 4, 4)
        p.setBrush(QColor(STATE_COLOURS[self.state]))
        p.drawEllipse(QPointF(rect.left() + 10, rect.center().y()), 4, 4)
        p.setPen(QColor("#e6edf3"))
        p.drawText(rect.adjusted(18, 0, 0, 0), Qt.AlignVCenter, text)
