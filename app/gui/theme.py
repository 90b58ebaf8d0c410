"""A dark Fusion palette and the colours that mean the same thing in every panel (one per label)."""

from __future__ import annotations

import zlib

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

LABEL_COLOURS = {
    "negative": "#e5534b",
    "positive": "#57ab5a",
    "surprise": "#daaa3f",
    "happiness": "#57ab5a",
    "disgust": "#986ee2",
    "repression": "#4f9bd9",
    "others": "#8b949e",
}
UNLABELLED = "#39c5cf"  # spotted, no model to classify it
_SPARE = ("#f69d50", "#dc6fa0", "#4f9bd9", "#b083f0", "#6bc46d", "#c69026")
STATE_COLOURS = {"no face": "#8b949e", "tracking": "#57ab5a", "candidate": "#daaa3f", "classified": "#e5534b",
                 "spotted": UNLABELLED, "idle": "#8b949e"}


def label_colour(label: str | None) -> QColor:
    if label is None:
        return QColor(UNLABELLED)
    known = LABEL_COLOURS.get(label.lower())
    return QColor(known or _SPARE[zlib.crc32(label.encode()) % len(_SPARE)])


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
