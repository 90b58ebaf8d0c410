"""User settings: one typed dataclass, persisted with QSettings, edited in one dialog."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from app.analyze_cmd import MAX_FACES
from app.classifier import DEFAULT_MODEL, PROVIDER_CHOICES
from app.model_card import FLOW_METHODS
from app.sessions import default_library_dir
from app.spotting import SpottingOptions

ORGANISATION = APPLICATION = "EPIR Live"
RESOLUTIONS = ("default", "640x480", "1280x720", "1920x1080")
CAMERA_FPS = (0, 15, 30, 60)  # 0: the camera's default


@dataclass
class AppSettings:
    camera: int = 0
    camera_resolution: str = "default"
    camera_fps: int = 0
    model_path: str = ""  # empty: the shipped default model, when installed
    provider: str = "auto"
    flow_method: str = ""  # empty: the model's own
    sensitivity: float = SpottingOptions.sensitivity
    max_faces: int = 1  # faces analysed at once (interviewer and interviewee: 2)
    show_box: bool = True
    show_landmarks: bool = False
    show_attention: bool = True
    attention_opacity: float = 0.5  # the heat map over the face: half transparent, the eyes stay visible
    library_path: str = ""  # empty: app.sessions.default_library_dir() ($EPIR_LIVE_LIBRARY or the data folder)
    record_video: bool = False  # also write live sessions' video into their folder
    encrypt_library: bool = False  # create the library encrypted (or offer to encrypt a plain one)
    retention_days: int = 0  # sessions older than this are offered for deletion when the library opens; 0: keep

    @property
    def library(self) -> Path:
        return Path(self.library_path).expanduser() if self.library_path else default_library_dir()

    @property
    def resolution(self) -> tuple[int | None, int | None]:
        if self.camera_resolution == "default":
            return None, None
        w, h = self.camera_resolution.split("x")
        return int(w), int(h)


def _store() -> QSettings:
    # INI format so tests can redirect it with QSettings.setPath.
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORGANISATION, APPLICATION)


def load_settings() -> AppSettings:
    """Saved settings; a value of the wrong type or out of range falls back to its default."""
    s, values = _store(), {}
    defaults = AppSettings()
    for f in fields(AppSettings):
        default = getattr(defaults, f.name)
        raw = s.value(f.name, default)
        try:
            value = (str(raw).lower() in ("true", "1")) if isinstance(default, bool) else type(default)(raw)
        except (TypeError, ValueError):
            value = default
        values[f.name] = value
    settings = AppSettings(**values)
    if settings.provider not in PROVIDER_CHOICES:
        settings.provider = defaults.provider
    if settings.flow_method and settings.flow_method not in FLOW_METHODS:
        settings.flow_method = ""
    if settings.retention_days < 0:
        settings.retention_days = 0
    if settings.camera_resolution not in RESOLUTIONS:
        settings.camera_resolution = "default"
    settings.attention_opacity = min(max(settings.attention_opacity, 0.0), 1.0)
    settings.max_faces = min(max(settings.max_faces, 1), MAX_FACES)
    return settings


def load_layout() -> list[list[int]]:
    """The main window's saved size, then its splitters' sizes (outer to inner); empty where not saved."""
    s, layout = _store(), []
    for i in range(4):
        raw = str(s.value(f"layout/{i}", "") or "")
        try:
            layout.append([int(x) for x in raw.split(",")] if raw else [])
        except ValueError:
            layout.append([])
    return layout


def save_layout(layout: list[list[int]]) -> None:
    s = _store()
    for i, sizes in enumerate(layout):
        s.setValue(f"layout/{i}", ",".join(str(x) for x in sizes))
    s.sync()


def remembered_value(key: str) -> str | None:
    value = _store().value(key)
    return None if value is None else str(value)


def remember_value(key: str, value: str) -> None:
    s = _store()
    s.setValue(key, value)
    s.sync()


def save_settings(settings: AppSettings) -> None:
    s = _store()
    for name, value in asdict(settings).items():
        s.setValue(name, value)
    s.sync()


class SettingsDialog(QDialog):
    """Edits a copy of the settings; ``result_settings()`` returns it after Accept."""

    def __init__(self, settings: AppSettings, cameras: list[int] | None, parent: QWidget | None = None,
                 model_flow: str | None = None):
        """``cameras``: the devices found by the last probe, None when not probed yet; ``model_flow``: the
        flow method the loaded model was trained on (choosing another one is warned about)."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(580)  # room for the model and library paths
        layout = QVBoxLayout(self)

        camera_box = QGroupBox("Camera")
        form = QFormLayout(camera_box)
        self.camera = QComboBox()
        for i in sorted(set(cameras or ()) | {settings.camera}):
            self.camera.addItem(f"Camera {i}" + ("" if cameras is None or i in cameras else " (not found)"), i)
        self.camera.setCurrentIndex(self.camera.findData(settings.camera))
        self.resolution = QComboBox()
        self.resolution.addItems(RESOLUTIONS)
        self.resolution.setCurrentText(settings.camera_resolution)
        self.camera_fps = QComboBox()
        for fps in CAMERA_FPS:
            self.camera_fps.addItem("default" if fps == 0 else f"{fps} fps", fps)
        self.camera_fps.setCurrentIndex(max(0, self.camera_fps.findData(settings.camera_fps)))
        form.addRow("Device", self.camera)
        form.addRow("Resolution", self.resolution)
        form.addRow("Frame rate", self.camera_fps)
        layout.addWidget(camera_box)

        model_box = QGroupBox("Model and analysis")
        form = QFormLayout(model_box)
        self.model_path = QLineEdit(settings.model_path)
        self.model_path.setPlaceholderText(f"default: {DEFAULT_MODEL.name}"
                                           + ("" if DEFAULT_MODEL.is_file() else " (not installed)"))
        form.addRow("Model file", _with_browse(self.model_path, self._browse))
        self.provider = QComboBox()
        self.provider.addItems(PROVIDER_CHOICES)
        self.provider.setCurrentText(settings.provider)
        form.addRow("Execution provider", self.provider)
        self.flow_method = QComboBox()
        self.flow_method.addItem("the model's own", "")
        for method in FLOW_METHODS:
            self.flow_method.addItem(method, method)
        self.flow_method.setCurrentIndex(max(0, self.flow_method.findData(settings.flow_method)))
        form.addRow("Flow method", self.flow_method)
        self.model_flow = model_flow
        self.flow_warning = QLabel()
        self.flow_warning.setWordWrap(True)
        self.flow_warning.setStyleSheet("color: #daaa3f;")
        form.addRow("", self.flow_warning)
        self.flow_method.currentIndexChanged.connect(self._warn_flow)
        self._warn_flow()
        self.sensitivity = QDoubleSpinBox()
        self.sensitivity.setRange(1.0, 20.0)
        self.sensitivity.setSingleStep(0.5)
        self.sensitivity.setSuffix(" SD")
        self.sensitivity.setValue(settings.sensitivity)
        self.sensitivity.setToolTip("How far above its baseline (in robust standard deviations) the motion signal "
                                    "must rise to count as an event: higher finds fewer events, lower finds more "
                                    "(and more false ones)")
        form.addRow("Spotting threshold (higher: fewer events)", self.sensitivity)
        self.max_faces = QSpinBox()
        self.max_faces.setRange(1, MAX_FACES)
        self.max_faces.setValue(settings.max_faces)
        self.max_faces.setToolTip("How many faces are analysed at once, each with its own id, labels and signal "
                                  "(each face costs about as much as the first). Click a face in the video to "
                                  "record only its events in the session; click beside the faces to record all.")
        form.addRow("Faces analysed at once", self.max_faces)
        layout.addWidget(model_box)

        overlay_box = QGroupBox("Overlays")
        row = QHBoxLayout(overlay_box)
        self.show_box = QCheckBox("Face box")
        self.show_landmarks = QCheckBox("Landmarks")
        self.show_attention = QCheckBox("Attention heat map")
        for box, value in ((self.show_box, settings.show_box), (self.show_landmarks, settings.show_landmarks),
                           (self.show_attention, settings.show_attention)):
            box.setChecked(value)
            row.addWidget(box)
        layout.addWidget(overlay_box)
        self.attention_opacity = settings.attention_opacity  # set with the slider in the toolbar

        sessions_box = QGroupBox("Session library")
        form = QFormLayout(sessions_box)
        self.library_path = QLineEdit(settings.library_path)
        self.library_path.setPlaceholderText(f"default: {default_library_dir()}")
        self.library_path.setToolTip("Live sessions are saved here (SQLite + one folder per session); "
                                     "nothing leaves this computer")
        form.addRow("Folder", _with_browse(self.library_path, self._browse_library))
        self.record_video = QCheckBox("Also record the video into the session folder")
        self.record_video.setChecked(settings.record_video)
        form.addRow("", self.record_video)
        self.encrypt_library = QCheckBox("Encrypt the library (database and videos; asks for a passphrase)")
        self.encrypt_library.setChecked(settings.encrypt_library)
        form.addRow("", self.encrypt_library)
        self.retention_days = QSpinBox()
        self.retention_days.setRange(0, 36500)
        self.retention_days.setSpecialValueText("for ever")
        self.retention_days.setSuffix(" days")
        self.retention_days.setValue(settings.retention_days)
        self.retention_days.setToolTip("Older sessions are listed for deletion when the library is opened")
        form.addRow("Keep sessions", self.retention_days)
        layout.addWidget(sessions_box)

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _warn_flow(self) -> None:
        chosen = str(self.flow_method.currentData())
        wrong = bool(chosen and self.model_flow and chosen != self.model_flow)
        self.flow_warning.setText(f"The model was trained on “{self.model_flow}” flow; with “{chosen}” its labels "
                                  "may be wrong (faster, but not what it learned from)." if wrong else "")
        self.flow_warning.setVisible(wrong)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "EPIR model", str(DEFAULT_MODEL.parent), "ONNX models (*.onnx)")
        if path:
            self.model_path.setText(path)

    def _browse_library(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Session library folder", str(default_library_dir().parent))
        if path:
            self.library_path.setText(path)

    def result_settings(self) -> AppSettings:
        return AppSettings(
            camera=int(self.camera.currentData()), camera_resolution=self.resolution.currentText(),
            camera_fps=int(self.camera_fps.currentData()), model_path=self.model_path.text().strip(),
            provider=self.provider.currentText(), flow_method=str(self.flow_method.currentData()),
            sensitivity=float(self.sensitivity.value()), max_faces=int(self.max_faces.value()),
            show_box=self.show_box.isChecked(),
            show_landmarks=self.show_landmarks.isChecked(), show_attention=self.show_attention.isChecked(),
            attention_opacity=self.attention_opacity,
            library_path=self.library_path.text().strip(), record_video=self.record_video.isChecked(),
            encrypt_library=self.encrypt_library.isChecked(), retention_days=int(self.retention_days.value()),
        )


def _with_browse(field: QLineEdit, browse) -> QHBoxLayout:
    """A path field with its Browse… button."""
    button = QPushButton("Browse…")
    button.clicked.connect(browse)
    row = QHBoxLayout()
    row.addWidget(field)
    row.addWidget(button)
    return row
