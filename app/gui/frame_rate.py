"""Asks the frame rate of a folder of frames: a folder has no clock, and micro-expression datasets are
filmed fast (CASME II and SAMM at 200 fps, SMIC-HS at 100): assuming 30 fps would stretch every window
6.7 times and turn micro-expressions into macro ones. The answer is remembered per folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from app.gui.settings import remember_value, remembered_value

PRESETS = (("CASME II (200 fps)", 200.0), ("SAMM (200 fps)", 200.0), ("SMIC-HS (100 fps)", 100.0),
           ("SMIC-VIS / NIR (25 fps)", 25.0), ("CAS(ME)³ (30 fps)", 30.0), ("other…", 0.0))
DEFAULT_FPS = 30.0


def _key(folder: str | Path) -> str:
    return "folder_fps/" + str(Path(folder).resolve()).replace("/", "|")


class FrameRateDialog(QDialog):
    def __init__(self, folder: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Frame rate of the frames")
        self.folder = str(folder)
        note = QLabel(f"At what frame rate were the frames in <b>{Path(folder).name}</b> filmed? Spotting and event "
                      "durations depend on it; a wrong rate turns micro-expressions into macro ones.")
        note.setWordWrap(True)
        self.preset = QComboBox()
        for name, fps in PRESETS:
            self.preset.addItem(name, fps)
        self.rate = QDoubleSpinBox()
        self.rate.setRange(1.0, 1000.0)
        self.rate.setDecimals(2)
        self.rate.setSuffix(" fps")
        known = self.remembered(folder)
        self.rate.setValue(known or DEFAULT_FPS)
        match = next((i for i, (_, fps) in enumerate(PRESETS) if known and fps == known), len(PRESETS) - 1)
        self.preset.setCurrentIndex(match if known else 0)
        if not known:
            self.rate.setValue(PRESETS[0][1])
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(note)
        form.addRow("Dataset", self.preset)
        form.addRow("Frame rate", self.rate)
        form.addRow(buttons)

    def _preset_chosen(self) -> None:
        fps = float(self.preset.currentData())
        if fps:
            self.rate.setValue(fps)

    def fps(self) -> float:
        return float(self.rate.value())

    def accept(self) -> None:
        remember_value(_key(self.folder), f"{self.fps():g}")
        super().accept()

    @staticmethod
    def remembered(folder: str | Path) -> float | None:
        raw = remembered_value(_key(folder))
        try:
            return float(raw) if raw else None
        except ValueError:
            return None
