"""A dark Fusion palette and the colours that mean the same thing in every panel (one per label)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.labels import UNLABELLED_COLOUR, label_hex

STATE_COLOURS = {"no face": "#8b949e", "tracking": "#57ab5a", "candidate": "#daaa3f", "classified": "#e5534b",
                 "spotted": UNLABELLED_COLOUR, "idle": "#8b949e",
                 "paused": "#daaa3f"}


def label_colour(label: str | None) -> QColor:
    return QColor(label_hex(label))


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    base, window, text = QColor("#0d1117"), QColor("#161b22"), QColor("#e6edf3")
    for role, colour in (
        (QPalette.Window, window), (QPalette.WindowText, text), (QPalette.Base, base),
        (QPalette.AlternateBase, QColor("#1c2128")), (QPalette.ToolTipBase, window), (QPalette.ToolTipText, text),
        (QPalette.Text, text), (QPalette.Button, QColor("#21262d")), (QPalette.ButtonText, text),
        (QPalette.BrightText, QColor("#ff7b72")), (QPalette.Highlight, QColor("#1f6feb")),
        (QPalette.HighlightedText, QColor("#ffffff")), (QPalette.Link, QColor("#58a6ff")),
        (QPalette.PlaceholderText, QColor("#8b949e")),
    ):
        p.setColor(role, colour)
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        p.setColor(QPalette.Disabled, role, QColor("#6e7681"))
    app.setPalette(p)
    app.setStyleSheet("QToolTip { color: #e6edf3; background: #161b22; border: 1px solid #30363d; }"
                      "QStatusBar QLabel { padding: 0 6px; }")
