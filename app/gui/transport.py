"""The review player's controls: a frame back and forward, play/pause, speed, the position slider and time.

It only shows and asks: the window owns the player and answers the signals (the same calls its keyboard
shortcuts make), and tells the controls where the player is.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QStyle, QWidget

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def _icon(style: QStyle, which: QStyle.StandardPixmap) -> QIcon:
    """A standard icon whose disabled form stays visible on the dark theme (Fusion's fades to nothing)."""
    icon = style.standardIcon(which)
    normal = icon.pixmap(32, 32)
    faded = QPixmap(normal.size())
    faded.fill(Qt.transparent)
    painter = QPainter(faded)
    painter.setOpacity(0.45)
    painter.drawPixmap(0, 0, normal)
    painter.end()
    result = QIcon(normal)
    result.addPixmap(faded, QIcon.Disabled)
    return result


class Transport(QWidget):
    play_clicked = Signal()
    step_requested = Signal(int)  # frames: -1 back, +1 forward
    speed_chosen = Signal(float)
    seek_requested = Signal(int)  # frame index

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style = self.style()
        self.play_button = QPushButton(_icon(style, QStyle.SP_MediaPlay), "")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.play_clicked)
        self.back_button = QPushButton(_icon(style, QStyle.SP_MediaSeekBackward), "")
        self.back_button.setToolTip("Previous frame (←)")
        self.back_button.clicked.connect(lambda: self.step_requested.emit(-1))
        self.forward_button = QPushButton(_icon(style, QStyle.SP_MediaSeekForward), "")
        self.forward_button.setToolTip("Next frame (→)")
        self.forward_button.clicked.connect(lambda: self.step_requested.emit(1))
        self.speed_box = QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(lambda i: self.speed_chosen.emit(SPEEDS[i]))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.sliderMoved.connect(self.seek_requested)
        self.time_label = QLabel("—")
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        for w in (self.back_button, self.play_button, self.forward_button, self.speed_box):
            w.setFocusPolicy(Qt.NoFocus)
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.time_label)

    def set_length(self, frames: int) -> None:
        self.slider.setRange(0, max(frames - 1, 0))

    def show_position(self, index: int, seconds: float, total_s: float) -> None:
        """Where the player is (the slider stays where the user is dragging it)."""
        if not self.slider.isSliderDown():
            self.slider.setValue(index)
        self.time_label.setText(f"{seconds:6.2f} / {total_s:.2f} s   frame {index}")

    def show_playing(self, playing: bool, speed: float) -> None:
        self.play_button.setIcon(_icon(self.style(), QStyle.SP_MediaPause if playing else QStyle.SP_MediaPlay))
        self.speed_box.blockSignals(True)
        self.speed_box.setCurrentIndex(SPEEDS.index(speed))
        self.speed_box.blockSignals(False)
