"""The main window: widgets, and their bindings to the Qt-free ``Controller``.

The controller holds the state (idle / live / paused / reviewing), the session and the analysis thread;
the window turns clicks and keys into its calls and paints what it reports. Two modes share every panel.
Live (camera, or a recording paced like one): the view paints the newest analysed frame. Review (a
recorded video): every frame is analysed in the background while a player thread re-decodes whatever
frame the user scrubs or plays to; only what has already been analysed can be reached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QLabel, QLineEdit, QMainWindow, QMessageBox, QProgressBar, QSlider,
                               QSplitter, QToolBar, QVBoxLayout, QWidget)

from app.classifier import DEFAULT_MODEL, Classifier
from app.demo import DEMO_CLIP
from app.gui.controller import Controller, State
from app.gui.feeds import Feed, camera_feed, clip_feed
from app.gui.events_panel import EventsPanel
from app.gui.evidence_panel import EvidencePanel
from app.gui.export import export_store
from app.gui.frame_rate import FrameRateDialog
from app.gui.images import bgr_image
from app.gui.live_session import LiveSession
from app.gui.player import ReviewPlayer
from app.gui.records import LIVE_EVENTS, Batch, FrameRecord
from app.gui.session_actions import SessionActions
from app.gui.sessions_window import SessionsWindow
from app.gui.settings import (AppSettings, SettingsDialog, load_layout, load_settings, save_layout, save_settings)
from app.gui.timeline import Timeline
from app.gui.transport import Transport
from app.gui.video_view import VideoView
from app.gui.workers import Task
from app.errors import InputError
from app.pipeline import PipelineOptions
from app.sinks import run_header
from app.sessions import Library, Marker
from app.sources import SourceInfo, VideoSource, list_cameras
from app.spotting import SpottingOptions

REPLAY_SPEED = 0.25  # selecting an event replays it this slowly
REPLAY_TAIL_S = 0.5  # ... until this long after its offset
EVIDENCE_MIN_HEIGHT = 260  # three 128-px pictures, their titles and a four-line caption
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg);;All files (*)"
TIMELINE_REFRESH_MS = 250  # how often the timeline takes new data and scrolls (see MainWindow.__init__)


class _Bridge(QObject):
    """Runs calls posted from any thread on the UI thread (a queued signal)."""

    call = Signal(object)


class MainWindow(SessionActions, QMainWindow):
    """The window. What is recorded (the library, sessions, markers, reports) is in ``SessionActions``.

    The review player's handlers stay here: PySide6's ``sender()`` answers None in a slot that a mixin
    defines, and ``_frame_decoded`` needs it to ignore the frames of a player already replaced."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("EPIR Live")
        self.resize(1400, 900)
        self.settings = load_settings()
        self._bridge = _Bridge(self)
        self._bridge.call.connect(self._invoke, Qt.QueuedConnection)
        self.controller = Controller(self._bridge.call.emit, self, bgr_image)
        self.model_status = "loading model…"
        self.model_loading = False
        self._model_request = 0  # the latest model load asked for; older ones finishing are ignored
        self._after_model: list[Callable[[], None]] = []  # analyses waiting for the model to load
        self.cameras: list[int] | None = None  # found by the last probe (Camera action); None: not probed
        self.player: ReviewPlayer | None = None  # review only
        self.tasks: set[Task] = set()
        self.library: Library | None = None  # opened on first use (UI thread: listing, notes, deleting)
        self.sessions_window: SessionsWindow | None = None
        self.frame_rate_dialog: FrameRateDialog | None = None
        self.latest_time: float | None = None  # live: source time of the newest frame shown
        self._timeline_dirty = False
        self._noted: Marker | None = None  # the marker whose note is being typed
        self._closed = False
        self._build()
        self._apply_overlays()
        self._restore_layout()
        self.state_changed(State.IDLE)
        self.load_model()

    # ---------------------------------------------------------------- what the controller holds

    @property
    def classifier(self) -> Classifier | None:
        return self.controller.classifier

    @property
    def store(self):
        return self.controller.store

    @property
    def session(self) -> LiveSession | None:
        return self.controller.session

    @property
    def source_info(self) -> SourceInfo | None:
        return self.controller.source_info

    @Slot(object)
    def _invoke(self, fn) -> None:
        if not self._closed:  # what the threads posted after the window closed is of no use to anyone
            fn()

    # ---------------------------------------------------------------- layout

    def _build(self) -> None:
        self.view = VideoView()
        self.view.setFocusPolicy(Qt.StrongFocus)  # where Enter/Escape in a text field send the focus back
        self.view.face_clicked.connect(self.choose_subject)
        self.banner = QLabel()  # the model's caveat: always whole, never drawn over the face
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("color: #daaa3f; background: #2d2410; padding: 3px 8px;")
        self.banner.hide()
        self.timeline = Timeline()
        self.timeline.seek_requested.connect(self.seek_time)
        self.events_panel = EventsPanel()
        self.events_panel.event_selected.connect(self.select_event)
        self.events_note = QLabel()  # "no face found in N of M frames" and the like
        self.events_note.setWordWrap(True)
        self.events_note.setStyleSheet("color: #daaa3f;")
        self.events_note.hide()
        self.evidence = EvidencePanel()

        self.transport = Transport()
        self.transport.play_clicked.connect(self.toggle_play)
        self.transport.step_requested.connect(self.step)
        self.transport.speed_chosen.connect(self._set_speed)
        self.transport.seek_requested.connect(self.seek)

        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        col.addWidget(self.banner)
        col.addWidget(self.view, 1)
        col.addWidget(self.transport)
        events = QWidget()
        events_col = QVBoxLayout(events)
        events_col.setContentsMargins(0, 0, 0, 0)
        events_col.addWidget(self.events_note)
        events_col.addWidget(self.events_panel, 1)
        self.evidence.setMinimumHeight(EVIDENCE_MIN_HEIGHT)  # the pictures never overlap their wrapped caption
        self.side_split = QSplitter(Qt.Vertical)
        self.side_split.addWidget(self.evidence)
        self.side_split.addWidget(events)
        self.side_split.setStretchFactor(1, 1)
        self.side_split.setSizes([EVIDENCE_MIN_HEIGHT, 600])
        self.top_split = QSplitter(Qt.Horizontal)
        self.top_split.addWidget(left)
        self.top_split.addWidget(self.side_split)
        self.top_split.setStretchFactor(0, 1)
        self.top_split.setSizes([980, 420])
        self.main_split = QSplitter(Qt.Vertical)
        self.main_split.addWidget(self.top_split)
        self.main_split.addWidget(self.timeline)
        self.main_split.setStretchFactor(0, 1)
        self.main_split.setSizes([680, 200])
        self.setCentralWidget(self.main_split)

        # 4 Hz: each scroll of the live timeline repaints pyqtgraph's axes (about 25 ms of the UI thread on
        # this 2-core machine); at 10 Hz the app dropped 18 % of live frames at load 1, at 4 Hz none. The
        # rates in the status bar follow the same clock (set per frame, they were repainted 30 times a second).
        self.timeline_timer = QTimer(self)
        self.timeline_timer.timeout.connect(self._refresh_timeline)
        self.timeline_timer.timeout.connect(self._show_rates)
        self.timeline_timer.start(TIMELINE_REFRESH_MS)

        self._build_actions()
        self._build_status()

    def _action(self, text: str, slot, shortcut=None, tip: str | None = None,
                context: Qt.ShortcutContext = Qt.WindowShortcut) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(context)  # window-wide by default: not in dialogs, where arrows edit
        if tip:
            action.setToolTip(tip)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        open_video = self._action("Open video…", self.choose_video, QKeySequence.Open, "Analyse a recorded video")
        open_folder = self._action("Open frame folder…", self.choose_folder, None,
                                   "Analyse a folder of numbered frames (CASME II, SAMM… layout) at its frame rate")
        camera = self._action("Camera", self.open_camera, "Ctrl+K", "Live analysis of the camera chosen in Settings")
        demo = self._action("Demo clip (live)", self.start_demo, "Ctrl+D", "Play the bundled demo clip as a camera")
        self.stop_action = self._action("Stop", self.stop_analysis, "Ctrl+.",
                                        "Stop the analysis (and finish the session)")
        self.pause_action = self._action("Pause", self.toggle_pause, "Ctrl+P",
                                         "Pause the live analysis; the session stays open until Stop")
        sessions = self._action("Sessions…", self.open_sessions, "Ctrl+L", "Review, search and delete saved sessions")
        self.report_action = self._action("Export report…", self.choose_report, "Ctrl+R",
                                          "HTML (or PDF) report of the current or latest session")
        self.export_action = self._action("Export events…", self.choose_export, "Ctrl+E",
                                          "events.json, events.csv and frames.csv, as `analyze` writes them")
        settings = self._action("Settings…", self.edit_settings, QKeySequence.Preferences)
        self._action("Play / pause", self.toggle_play, Qt.Key_Space)
        self._action("Previous frame", lambda: self.step(-1), Qt.Key_Left)
        self._action("Next frame", lambda: self.step(1), Qt.Key_Right)
        # Application-wide: M marks wherever the focus is (a text field still takes the letter; Ctrl+M never).
        self.mark_action = self._action("Mark", self.mark, ["M", "Ctrl+M"],
                                        "Mark this moment (M, or Ctrl+M while typing)", Qt.ApplicationShortcut)
        self.overlays_action = self._action("Overlays on the face", self.toggle_overlays, "O",
                                            "Face box, heat map and label over the video (O)")
        self.overlays_action.setCheckable(True)
        self.overlays_action.setChecked(True)
        full = self._action("Full screen", self.toggle_full_screen, Qt.Key_F11)
        quit_ = self._action("Quit", self.close, QKeySequence.Quit)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for a in (open_video, open_folder, camera, demo, self.pause_action, self.stop_action, None,
                  self.export_action, self.report_action, settings, None, quit_):
            file_menu.addSeparator() if a is None else file_menu.addAction(a)
        session_menu = menu.addMenu("&Sessions")
        for a in (sessions, self.report_action, self.mark_action):
            session_menu.addAction(a)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.overlays_action)
        view_menu.addAction(full)
        bar = QToolBar("Main")
        bar.setObjectName("main-toolbar")
        bar.setMovable(False)
        for a in (open_video, camera, demo, self.pause_action, self.stop_action, self.export_action, settings):
            bar.addAction(a)
        bar.addSeparator()
        self.session_label = QLineEdit()
        self.session_label.setPlaceholderText("session label (optional)")
        self.session_label.setToolTip("Free text saved with the live session, e.g. “interview 3”; no personal data "
                                      "is needed. Editable while recording; Enter or Escape returns to the video.")
        self.session_label.setMaximumWidth(240)
        self.session_label.editingFinished.connect(self._rename_session)
        self.session_label.returnPressed.connect(self.view.setFocus)
        self._escape_returns_focus(self.session_label)
        bar.addWidget(self.session_label)
        bar.addAction(sessions)
        bar.addSeparator()
        bar.addAction(self.overlays_action)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setMaximumWidth(110)
        self.opacity.setFocusPolicy(Qt.NoFocus)
        self.opacity.setToolTip("Opacity of the attention heat map on the face")
        self.opacity.valueChanged.connect(self._set_opacity)
        bar.addWidget(QLabel(" heat map "))
        bar.addWidget(self.opacity)
        self.addToolBar(bar)

    def _escape_returns_focus(self, field: QLineEdit) -> None:
        escape = QAction(field)
        escape.setShortcut(QKeySequence(Qt.Key_Escape))
        escape.setShortcutContext(Qt.WidgetShortcut)
        escape.triggered.connect(self.view.setFocus)
        field.addAction(escape)

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.provider_label = QLabel()
        self.fps_label = QLabel("— fps")
        self.latency_label = QLabel("— ms")
        self.dropped_label = QLabel("dropped 0")
        self.model_label = QLabel()
        self.marker_note = QLineEdit()  # typed after M without stopping anything; Enter saves it
        self.marker_note.setMaximumWidth(320)
        self.marker_note.returnPressed.connect(self._save_marker_note)
        self._escape_returns_focus(self.marker_note)
        self.marker_note.hide()
        self.rec_badge = QLabel()
        self.rec_badge.hide()
        for w in (self.marker_note, self.rec_badge, self.progress, self.fps_label, self.latency_label,
                  self.dropped_label, self.provider_label, self.model_label):
            bar.addPermanentWidget(w)
        self._show_model_status()

    def _restore_layout(self) -> None:
        size, *splits = load_layout()
        if len(size) == 2:
            self.resize(*size)
        for split, sizes in zip((self.main_split, self.top_split, self.side_split), splits):
            if sizes and len(sizes) == split.count():
                split.setSizes(sizes)

    # ---------------------------------------------------------------- model and settings

    def load_model(self) -> None:
        """(Re)load the classifier in a thread; analyses started meanwhile wait for it."""
        path = Path(self.settings.model_path) if self.settings.model_path else DEFAULT_MODEL
        provider = self.settings.provider
        self._model_request += 1  # settings can change again while a model loads: only the latest lands
        request = self._model_request
        if not self.settings.model_path and not DEFAULT_MODEL.is_file():
            self._model_loaded(None)
            return
        self.model_loading = True
        self.model_status = "loading model…"
        self._show_model_status()

        def latest(handler):
            return lambda result: handler(result) if request == self._model_request else None

        self._run_task(lambda: Classifier(path, provider), latest(self._model_loaded), latest(self._model_failed))

    def _model_loaded(self, classifier: Classifier | None) -> None:
        self.controller.classifier = classifier
        self.model_loading = False
        self.model_status = "ok" if classifier else "no model installed"
        self._show_model_status()
        for start in self._after_model:
            start()
        self._after_model.clear()

    def _model_failed(self, message: str) -> None:
        self._model_loaded(None)
        self.model_status = "model failed to load"
        self._show_model_status()
        self._error("Model not loaded", f"{message}\n\nThe app goes on spotting events without labels; "
                    "choose another model file in Settings.")

    def _show_model_status(self) -> None:
        c = self.classifier
        if c is None:
            self.provider_label.setText("provider: —")
            self.model_label.setText(self.model_status)
            self.model_label.setStyleSheet("color: #daaa3f;")
            self.view.honesty = None
            self.banner.hide()
            return
        self.provider_label.setText(f"provider: {c.provider_label}")
        self.provider_label.setToolTip("ONNX Runtime providers in use: " + ", ".join(c.providers))
        # the file's name too: the synthetic and the real-data model share the card's name and version
        text = f"model: {c.card.name} {c.card.version}, {c.path.name}"
        if c.card.synthetic:
            text += " (synthetic training data)"
        elif c.card.training.get("research_use_only"):
            text += " (real data, research use only)"
        self.model_label.setText(text)
        self.model_label.setToolTip(c.card.honesty_note)
        self.model_label.setStyleSheet("color: #daaa3f;" if c.card.synthetic else "")
        self.view.honesty = c.card.honesty_note if c.card.synthetic else None
        self.banner.setText(f"Labels by {c.card.name}: {c.card.honesty_note}.")
        # synthetic training data, or research-use-only data (the default real-data model): say so whole
        self.banner.setVisible(c.card.synthetic or bool(c.card.training.get("research_use_only")))

    def edit_settings(self) -> None:
        model_flow = self.classifier.card.input.flow_method if self.classifier else None
        dialog = SettingsDialog(self.settings, self.cameras, self, model_flow)
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, new: AppSettings) -> None:
        old, self.settings = self.settings, new
        save_settings(new)
        if (old.library, old.encrypt_library, old.retention_days) != (new.library, new.encrypt_library,
                                                                      new.retention_days):
            self._switch_library()
        self._apply_overlays()
        if (old.model_path, old.provider) != (new.model_path, new.provider):
            self.load_model()
        self.controller.options = self._options()
        analysis_changed = (old.model_path, old.provider, old.flow_method, old.sensitivity, old.max_faces) != (
            new.model_path, new.provider, new.flow_method, new.sensitivity, new.max_faces)
        state = self.controller.state
        if analysis_changed and state is State.REVIEWING:
            self.statusBar().showMessage("New analysis settings apply when a video is opened again", 5000)
        elif analysis_changed and state is State.LIVE:
            self.statusBar().showMessage("New analysis settings apply to the next live analysis", 5000)

    def _apply_overlays(self) -> None:
        s = self.settings
        v = self.view
        v.show_box, v.show_landmarks, v.show_attention = s.show_box, s.show_landmarks, s.show_attention
        v.heat_opacity = s.attention_opacity
        v.several_faces = self.events_panel.several_faces = s.max_faces > 1
        self.opacity.blockSignals(True)
        self.opacity.setValue(round(s.attention_opacity * 100))
        self.opacity.blockSignals(False)
        v.update()

    def toggle_overlays(self) -> None:
        self.view.show_overlays = not self.view.show_overlays
        self.overlays_action.setChecked(self.view.show_overlays)
        self.view.update()
        self.statusBar().showMessage("Overlays " + ("shown" if self.view.show_overlays else "hidden (O)"), 3000)

    def _set_opacity(self, value: int) -> None:
        self.settings = replace(self.settings, attention_opacity=value / 100)
        save_settings(self.settings)
        self.view.heat_opacity = value / 100
        self.view.update()

    def _options(self) -> PipelineOptions:
        s = self.settings
        return PipelineOptions(spotting=SpottingOptions(sensitivity=s.sensitivity), flow_method=s.flow_method or None,
                               max_faces=s.max_faces)

    # ---------------------------------------------------------------- opening sources

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", VIDEO_FILTER)
        if path:
            self.open_video(path)

    def choose_folder(self) -> None:
        """A frame folder, at the frame rate its dataset was filmed at (asked; remembered per folder)."""
        path = QFileDialog.getExistingDirectory(self, "Open frame folder")
        if not path:
            return
        self.frame_rate_dialog = dialog = FrameRateDialog(path, self)
        dialog.accepted.connect(lambda: self.open_video(path, dialog.fps()))
        dialog.open()

    def open_video(self, path: str | Path, fps: float | None = None) -> None:
        """Review a recording: analyse every frame in the background and let the user scrub it."""
        path = str(path)
        if fps is None and Path(path).is_dir():
            fps = FrameRateDialog.remembered(path)
        if Path(path).is_dir() and fps is None:
            self.statusBar().showMessage(f"{Path(path).name}: frame folder without a frame rate; assuming 30 fps "
                                         "(Open frame folder… asks for it)", 10000)
        self._when_model_ready(lambda: self._start_review(path, fps))

    def _start_review(self, path: str, fps: float | None) -> None:
        self.controller.options = self._options()
        self.controller.start_review(path, fps)
        self.statusBar().showMessage("Opening…")

    def open_camera(self) -> None:
        self.statusBar().showMessage("Looking for cameras…")
        self._run_task(list_cameras, self._cameras_found, lambda message: self._error("Camera", message))

    def _cameras_found(self, cameras: list[int]) -> None:
        self.cameras = cameras
        self.statusBar().clearMessage()
        if not cameras:
            demo = DEMO_CLIP.is_file()
            text = "No camera was found." + (" Play the bundled demo clip instead, as if it came from a camera?"
                                             if demo else " The demo clip is not rendered either "
                                             "(python main.py make-demo).")
            buttons = QMessageBox.Yes | QMessageBox.No if demo else QMessageBox.Ok
            if QMessageBox.question(self, "No camera", text, buttons) == QMessageBox.Yes:
                self.start_demo()
            return
        self.start_camera(self.settings.camera if self.settings.camera in cameras else cameras[0])

    def start_camera(self, index: int) -> None:
        s = self.settings
        width, height = s.resolution
        self.start_live(camera_feed(index, width, height, s.camera_fps or None))

    def start_demo(self) -> None:
        if not DEMO_CLIP.is_file():
            self._error("Demo clip", f"{DEMO_CLIP}: not rendered yet (python main.py make-demo)")
            return
        self.start_live(clip_feed(DEMO_CLIP, loop=True))

    def start_live(self, feed: Feed | Callable[[], VideoSource]) -> None:
        """Live analysis of a camera (or anything paced like one), recorded as a new library session."""
        if not isinstance(feed, Feed):
            opener = feed
            feed = Feed(lambda _at: opener(), "live source")
        self._when_model_ready(lambda: self._start_live(feed))

    def _start_live(self, feed: Feed) -> None:
        self.controller.options = self._options()
        self.controller.start_live(feed, self._new_session())
        self.statusBar().showMessage("Opening…")

    def _when_model_ready(self, start: Callable[[], None]) -> None:
        if self.model_loading:
            self._after_model.append(start)
        else:
            start()

    def stop_analysis(self) -> None:
        """Stop the analysis; a live session (even a paused one) is finished and kept in the library."""
        self.controller.stop()
        self._hide_marker_note()

    def toggle_pause(self) -> None:
        """Pause: the analysis stops, the session stays open. Resume: the same source, the same session."""
        self.controller.toggle_pause()

    # ---------------------------------------------------------------- the controller's reports

    def state_changed(self, state: State) -> None:
        live = state in (State.LIVE, State.PAUSED)
        self.pause_action.setEnabled(live)
        self.pause_action.setText("Resume" if state is State.PAUSED else "Pause")
        self.stop_action.setEnabled(live or self.controller.run is not None)
        self.export_action.setEnabled(self.store is not None)
        self._set_transport_enabled(state is State.REVIEWING)
        if state in (State.PAUSED, State.IDLE):
            self.timeline.show_history()  # live no longer scrolls: the whole kept history can be panned
        if state is State.PAUSED:
            self.view.state = "paused"
            self.view.update()
            self.statusBar().showMessage("Paused — Resume (Ctrl+P) continues the session where it was", 8000)
        if state is State.IDLE:
            self._hide_marker_note()
            if self.store is not None and self.store.live:
                self.view.clear("Live analysis stopped")
        self.recording_changed()

    def opened(self, info: SourceInfo, resumed: bool) -> None:
        self.stop_action.setEnabled(True)
        if resumed:
            self.statusBar().showMessage("Resumed", 3000)
            return
        self._stop_player()
        live = self.store.live
        self.setWindowTitle(f"EPIR Live — {Path(info.name).name}")
        fps_note = ""
        if info.kind == "folder" and not FrameRateDialog.remembered(info.name):
            fps_note = f" — frame rate not given: assuming {info.fps:g} fps"
        self.statusBar().showMessage(f"{info.name}: {info.width}×{info.height}, {info.fps:.2f} fps{fps_note}"
                                     + ("" if self.classifier else " — no model installed: spotting only"), 8000)
        duration = info.frame_count / info.fps if info.frame_count else None
        self.timeline.reset(live, duration, info.fps)
        self.events_panel.reset(LIVE_EVENTS if live else None)
        self.events_note.hide()
        self.evidence.clear()
        self.view.clear("Analysing…")
        self.latest_time = None
        self.progress.setVisible(not live)
        self.progress.setRange(0, info.frame_count or 0)
        self.progress.setValue(0)
        self.progress.setFormat("analysed %p%")
        self.transport.set_length(info.frame_count or 1)
        self.export_action.setEnabled(True)
        self._set_transport_enabled(not live)
        if not live:
            self.player = ReviewPlayer(self.controller.source_path, info.fps, self)
            self.player.frame_ready.connect(self._frame_decoded)
            self.player.moved.connect(self._player_moved)
            self.player.changed.connect(self._player_changed)
            self.player.failed.connect(lambda message: self._error("Player", message))
            self._player_changed()

    def results(self, batch: Batch, shown) -> None:
        store = self.store
        live = store.live
        for view in batch.events:
            self.events_panel.add(view)
            self.timeline.add_event(view.event)
            if live:
                self.evidence.show_event(view, self.view.honesty)
        if not live and batch.events and not self.events_panel.selectionModel().hasSelection():
            self.evidence.prompt(len(self.events_panel.views))
        if batch.samples or batch.events or batch.frames:
            self._timeline_dirty = True
        self._show_progress(batch)
        if live:
            if shown is not None:
                rec = shown.record
                visible = store.visible_events(rec.timestamp)
                self.view.show_frame(shown.image, rec.index, rec, visible, self._state(rec, store.candidate(), visible))
                self.latest_time = rec.timestamp
        elif self.player is not None:
            self.player.set_reachable(len(store.frames), batch.progress.done)
            if self.player.position < 0 and store.frames:
                self.player.seek(0)

    def _show_rates(self) -> None:
        if self.store is None:
            return
        p = self.store.progress
        self.fps_label.setText(f"{p.fps:.1f} fps")
        self.latency_label.setText(f"latency {p.latency_ms:.0f} ms")
        self.dropped_label.setText(f"dropped {p.dropped}")

    def _show_progress(self, batch: Batch) -> None:
        p = self.store.progress
        if not self.store.live:
            self.progress.setValue(p.processed)
            if p.done:
                self.stop_action.setEnabled(False)  # nothing left to stop
                self.progress.setFormat("analysed")
                no_face = f"no face found in {p.no_face} of {p.processed} frames" if p.no_face else ""
                self.statusBar().showMessage(f"Analysis finished: {p.processed} frames, {len(self.store.events)} "
                                             f"events" + (f"; {no_face}" if no_face else ""), 15000)
                if no_face:
                    nothing = " — nothing could be analysed there" if p.no_face == p.processed else ""
                    self.events_note.setText(no_face[0].upper() + no_face[1:] + nothing + ".")
                    self.events_note.show()

    def session_saved(self, session_id: int, status: str) -> None:
        self.statusBar().showMessage(f"Session {session_id} saved ({status})", 8000)
        self.recording_changed()
        if self.sessions_window is not None:
            self.sessions_window.refresh()

    def failed(self, title: str, message: str) -> None:
        self._error(title, message)

    # ---------------------------------------------------------------- review player

    def _set_transport_enabled(self, enabled: bool) -> None:
        """The player's controls exist only for recordings (hidden while live)."""
        self.transport.setEnabled(enabled)
        self.transport.setVisible(enabled or self.controller.state is State.IDLE)

    def toggle_play(self) -> None:
        if self.player is not None:
            self.player.toggle()

    def step(self, delta: int) -> None:
        if self.player is not None:
            self.player.step(delta)

    def seek(self, index: int) -> None:
        if self.player is not None:
            self.player.seek(index)

    @Slot(float)
    def seek_time(self, seconds: float) -> None:
        if self.player is not None:
            self.player.seek(self.store.index_at(seconds))

    @Slot(int)
    def _player_moved(self, index: int) -> None:
        rec = self.store.record(index)
        if rec is None:
            return
        self.timeline.set_playhead(rec.timestamp)
        info = self.source_info
        self.transport.show_position(index, rec.timestamp, info.frame_count / info.fps if info.frame_count else 0)

    @Slot()
    def _player_changed(self) -> None:
        player = self.player
        if player is None:
            return
        self.transport.show_playing(player.playing, player.speed)

    def _set_speed(self, speed: float) -> None:
        if self.player is not None:
            self.player.set_speed(speed)

    @Slot(int, QImage)
    def _frame_decoded(self, index: int, image: QImage) -> None:
        if self.sender() is not self.player or image.isNull() or self.store is None:  # null: past the end
            return
        rec = self.store.record(index)
        visible = self.store.visible_events(rec.timestamp) if rec else []
        samples = [self.store.sample_at(index, f.face_id) for f in rec.faces] if rec else []
        candidate = any(s is not None and s.value > s.threshold for s in samples)
        self.view.show_frame(image, index, rec, visible, self._state(rec, candidate, visible))

    def _stop_player(self) -> None:
        player, self.player = self.player, None
        if player is not None:
            player.stop()

    @staticmethod
    def _state(rec: FrameRecord | None, candidate: bool, visible) -> str:
        if rec is None or not rec.face:
            return "no face"
        if visible:
            return "classified" if visible[-1][0].event.label else "spotted"
        return "candidate" if candidate else "tracking"

    @Slot(object)
    def select_event(self, view) -> None:
        """Show the event's evidence; in a recording, go to its onset and replay it slowly."""
        self.evidence.show_event(view, self.view.honesty)
        if self.player is not None:
            e = view.event
            self.player.replay(e.onset_frame, self.store.index_at(e.offset_time + REPLAY_TAIL_S), REPLAY_SPEED)

    # ---------------------------------------------------------------- timeline, export, window

    def _refresh_timeline(self) -> None:
        store = self.store
        if store is None:
            return
        if self._timeline_dirty:
            for face_id in sorted(store.face_ids) or [0]:
                self.timeline.set_signal(*store.signal_arrays(face_id), store.max_step_s, face_id)
            self.timeline.set_gaps(store.gaps())
            self._timeline_dirty = False
        if store.live and self.latest_time is not None and self.controller.state is State.LIVE:
            self.timeline.follow(self.latest_time)

    def choose_export(self) -> None:
        if self.store is None or not self.store.events and not self.store.frames:
            self._error("Export", "Nothing to export yet: open a video or a camera first.")
            return
        folder = QFileDialog.getExistingDirectory(self, "Export events to folder")
        if folder:
            self.export(folder)

    def export(self, folder: str | Path) -> Path:
        """Write the current results in the ``analyze`` format (events.json, events.csv, frames.csv)."""
        assert self.store is not None and self.source_info is not None
        info, c = self.source_info, self.classifier
        header = run_header(info, c, self._options().spotting)
        try:
            out = export_store(self.store, folder, header, c.card.classes if c else ())
        except InputError as exc:  # OutputError: read-only, full disk, a file in the way, another export running
            self._error("Export", str(exc))
            raise
        self.statusBar().showMessage(f"Exported {len(self.store.events)} events to {out}", 8000)
        return out

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def _run_task(self, fn, on_done, on_fail) -> None:
        task = Task(fn, self)
        task.succeeded.connect(on_done)
        task.failed.connect(on_fail)
        task.finished.connect(lambda: self.tasks.discard(task))
        self.tasks.add(task)
        task.start()

    def _error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message.splitlines()[0], 10000)
        QMessageBox.warning(self, title, message)

    def closeEvent(self, event) -> None:
        """Ask before ending a recording; then stop and join every thread before the window goes."""
        session = self.session
        if session is not None and session.session_id is not None:
            answer = QMessageBox.question(
                self, "Quit", f"Session {session.session_id} is being recorded. Quit and finish it? Everything "
                "recorded so far is kept.", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                event.ignore()
                return
        if not (self.isFullScreen() or self.isMaximized()):
            save_layout([[self.width(), self.height()]]
                        + [s.sizes() for s in (self.main_split, self.top_split, self.side_split)])
        self.timeline_timer.stop()
        self._after_model.clear()
        if self.sessions_window is not None:
            self.sessions_window.close()
        if self.frame_rate_dialog is not None:
            self.frame_rate_dialog.close()
        self.controller.shutdown()
        self._closed = True
        if self.library is not None:
            self.library.close()
        self._stop_player()
        for task in list(self.tasks):
            task.wait()
        self.tasks.clear()
        super().closeEvent(event)
