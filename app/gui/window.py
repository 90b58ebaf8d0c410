"""The main window: wires sources, workers, the player and the panels together.

Two modes share every panel. Live (camera, or a recording paced like one): the analysis thread drops
stale frames and the view paints the newest analysed frame. Review (a recorded video): every frame is
analysed in the background as fast as the machine allows, while a player thread re-decodes whatever
frame the user scrubs or plays to; only what has already been analysed can be reached.

Every live analysis is recorded as a session of the library (``LiveSession``, fed by the analysis
thread): Pause stops the analysis and keeps the session open, Resume continues it, Stop finishes it.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QSlider, QSplitter, QStyle, QToolBar, QVBoxLayout, QWidget)

from app.classifier import DEFAULT_MODEL, Classifier
from app.demo import DEMO_CLIP
from app.gui.events_panel import EventsPanel
from app.gui.evidence_panel import EvidencePanel
from app.gui.export import export_store
from app.gui.live_session import LiveSession
from app.gui.records import LIVE_EVENTS, AnalysisStore, Batch, FrameRecord
from app.gui.settings import AppSettings, SettingsDialog, load_settings, save_settings
from app.gui.timeline import Timeline
from app.gui.video_view import VideoView
from app.gui.player import ReviewPlayer
from app.gui.sessions_window import SessionsWindow
from app.gui.window_sessions import SessionControls
from app.gui.workers import AnalysisRequest, AnalysisWorker, Task
from app.pipeline import PipelineOptions
from app.sessions import Library, Marker
from app.sources import CameraSource, FileSource, RealTimeSource, SourceInfo, list_cameras, open_source
from app.spotting import SpottingOptions

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
REPLAY_SPEED = 0.25  # selecting an event replays it this slowly
REPLAY_TAIL_S = 0.5  # ... until this long after its offset
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg);;All files (*)"


class MainWindow(SessionControls, QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("EPIR Live")
        self.resize(1400, 900)
        self.settings = load_settings()
        self.classifier: Classifier | None = None
        self.model_status = "loading model…"
        self.model_loading = False
        self._model_request = 0  # the latest model load asked for; older ones finishing are ignored
        self.cameras: list[int] | None = None  # found by the last probe (Camera action); None: not probed
        self.mode = "idle"  # "live" | "review"
        self.source_info: SourceInfo | None = None
        self.source_path: str | None = None
        self.store: AnalysisStore | None = None
        self.analysis: AnalysisWorker | None = None
        self.player: ReviewPlayer | None = None  # review only
        self.tasks: set[Task] = set()
        self._after_model: list = []  # analyses waiting for the model to load
        self._timeline_dirty = False
        self._latest_time: float | None = None  # live: source time of the newest frame shown
        self.library: Library | None = None  # opened on first use (UI thread: listing, notes, deleting)
        self.session: LiveSession | None = None  # the live session being recorded (or paused)
        self.last_session_id: int | None = None  # the latest session recorded here, for "Export report"
        self.sessions_window: SessionsWindow | None = None
        self._paused_opener = None  # the source to reopen on Resume
        self._noted: Marker | None = None  # the marker whose note is being typed
        self._build()
        self._apply_overlays()
        self.load_model()

    # ---------------------------------------------------------------- layout

    def _build(self) -> None:
        self.view = VideoView()
        self.timeline = Timeline()
        self.timeline.seek_requested.connect(self.seek_time)
        self.events_panel = EventsPanel()
        self.events_panel.event_selected.connect(self.select_event)
        self.evidence = EvidencePanel()

        style = self.style()
        self.play_button = QPushButton(style.standardIcon(QStyle.SP_MediaPlay), "")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(self.toggle_play)
        back = QPushButton(style.standardIcon(QStyle.SP_MediaSeekBackward), "")
        back.setToolTip("Previous frame (←)")
        back.clicked.connect(lambda: self.step(-1))
        forward = QPushButton(style.standardIcon(QStyle.SP_MediaSeekForward), "")
        forward.setToolTip("Next frame (→)")
        forward.clicked.connect(lambda: self.step(1))
        self.speed_box = QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(self._set_speed)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.sliderMoved.connect(self.seek)
        self.time_label = QLabel("—")
        self.transport = QWidget()
        row = QHBoxLayout(self.transport)
        row.setContentsMargins(4, 0, 4, 0)
        for w in (back, self.play_button, forward, self.speed_box):
            w.setFocusPolicy(Qt.NoFocus)
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.time_label)

        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.view, 1)
        col.addWidget(self.transport)
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.evidence)
        right.addWidget(self.events_panel)
        right.setStretchFactor(1, 1)
        top = QSplitter(Qt.Horizontal)
        top.addWidget(left)
        top.addWidget(right)
        top.setStretchFactor(0, 1)
        top.setSizes([980, 420])
        main = QSplitter(Qt.Vertical)
        main.addWidget(top)
        main.addWidget(self.timeline)
        main.setStretchFactor(0, 1)
        main.setSizes([680, 200])
        self.setCentralWidget(main)

        self.timeline_timer = QTimer(self)
        self.timeline_timer.timeout.connect(self._refresh_timeline)
        self.timeline_timer.start(100)

        self._build_actions()
        self._build_status()
        self._set_transport_enabled(False)

    def _action(self, text: str, slot, shortcut=None, tip: str | None = None) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.WindowShortcut)  # not in dialogs: arrows edit there
        if tip:
            action.setToolTip(tip)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        open_video = self._action("Open video…", self.choose_video, QKeySequence.Open, "Analyse a recorded video")
        open_folder = self._action("Open frame folder…", self.choose_folder, None,
                                   "Analyse a folder of numbered frames (CASME II, SAMM… layout)")
        camera = self._action("Camera", self.open_camera, "Ctrl+K", "Live analysis of the camera chosen in Settings")
        demo = self._action("Demo clip (live)", self.start_demo, "Ctrl+D", "Play the bundled demo clip as a camera")
        stop = self._action("Stop", self.stop_analysis, "Ctrl+.", "Stop the analysis (and finish the session)")
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
        self._action("Mark", self.mark, Qt.Key_M)
        full = self._action("Full screen", self.toggle_full_screen, Qt.Key_F11)
        quit_ = self._action("Quit", self.close, QKeySequence.Quit)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for a in (open_video, open_folder, camera, demo, self.pause_action, stop, None, self.export_action,
                  self.report_action, settings, None, quit_):
            file_menu.addSeparator() if a is None else file_menu.addAction(a)
        session_menu = menu.addMenu("&Sessions")
        for a in (sessions, self.report_action):
            session_menu.addAction(a)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(full)
        bar = QToolBar("Main")
        bar.setObjectName("main-toolbar")
        bar.setMovable(False)
        for a in (open_video, camera, demo, self.pause_action, stop, self.export_action, settings):
            bar.addAction(a)
        bar.addSeparator()
        self.session_label = QLineEdit()
        self.session_label.setPlaceholderText("session label (optional)")
        self.session_label.setToolTip("Free text saved with the live session, e.g. “interview 3”; no personal data "
                                      "is needed. Editable while recording.")
        self.session_label.setMaximumWidth(240)
        self.session_label.editingFinished.connect(self._rename_session)
        bar.addWidget(self.session_label)
        bar.addAction(sessions)
        self.addToolBar(bar)

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("analysed %p%")
        self.progress.hide()
        self.provider_label = QLabel()
        self.fps_label = QLabel("— fps")
        self.latency_label = QLabel("— ms")
        self.dropped_label = QLabel("dropped 0")
        self.model_label = QLabel()
        self.marker_note = QLineEdit()  # typed after M without stopping anything; Enter saves it
        self.marker_note.setMaximumWidth(320)
        self.marker_note.returnPressed.connect(self._save_marker_note)
        self.marker_note.hide()
        self.rec_badge = QLabel()
        self.rec_badge.hide()
        for w in (self.marker_note, self.rec_badge, self.progress, self.fps_label, self.latency_label,
                  self.dropped_label, self.provider_label, self.model_label):
            bar.addPermanentWidget(w)
        self._show_model_status()

    # ---------------------------------------------------------------- model and settings

    def load_model(self) -> None:
        """(Re)load the classifier in a thread; analyses started meanwhile wait for it."""
        path = Path(self.settings.model_path) if self.settings.model_path else DEFAULT_MODEL
        provider = self.settings.provider
        # Settings can change again while a model loads: only the latest request may land.
        self._model_request += 1
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

    @Slot(object)
    def _model_loaded(self, classifier: Classifier | None) -> None:
        self.classifier = classifier
        self.model_loading = False
        self.model_status = "ok" if classifier else "no model installed"
        self._show_model_status()
        for start in self._after_model:
            start()
        self._after_model.clear()

    @Slot(str)
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
            return
        self.provider_label.setText(f"provider: {c.provider_label}")
        self.provider_label.setToolTip("ONNX Runtime providers in use: " + ", ".join(c.providers))
        text = f"model: {c.card.name} {c.card.version}"
        if c.card.synthetic:
            text += " (synthetic training data)"
        self.model_label.setText(text)
        self.model_label.setToolTip(c.card.honesty_note)
        self.model_label.setStyleSheet("color: #daaa3f;" if c.card.synthetic else "")
        self.view.honesty = c.card.honesty_note if c.card.synthetic else None

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self.cameras, self)
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
        analysis_changed = (old.model_path, old.provider, old.flow_method, old.sensitivity) != (
            new.model_path, new.provider, new.flow_method, new.sensitivity)
        if analysis_changed and self.mode == "review":
            self.statusBar().showMessage("New analysis settings apply when a video is opened again", 5000)
        elif analysis_changed and self.mode == "live" and self.analysis is not None:
            self._when_model_ready(self._restart_live)

    def _apply_overlays(self) -> None:
        s = self.settings
        self.view.show_box, self.view.show_landmarks, self.view.show_attention = (
            s.show_box, s.show_landmarks, s.show_attention)
        self.view.update()

    def _options(self) -> PipelineOptions:
        s = self.settings
        return PipelineOptions(spotting=SpottingOptions(sensitivity=s.sensitivity), flow_method=s.flow_method or None)

    # ---------------------------------------------------------------- opening sources

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", VIDEO_FILTER)
        if path:
            self.open_video(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open frame folder")
        if path:
            self.open_video(path)

    def open_video(self, path: str | Path) -> None:
        """Review a recording: analyse every frame in the background and let the user scrub it."""
        path = str(path)
        self._start(AnalysisRequest(lambda: open_source(path), False, self._options(), None, path))

    def open_camera(self) -> None:
        self.statusBar().showMessage("Looking for cameras…")
        self._run_task(list_cameras, self._cameras_found, self._camera_failed)

    @Slot(str)
    def _camera_failed(self, message: str) -> None:
        self._error("Camera", message)

    @Slot(object)
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
        index = self.settings.camera if self.settings.camera in cameras else cameras[0]
        self.start_live(self._camera_opener(index))

    def _camera_opener(self, index: int):
        s = self.settings
        width, height = s.resolution
        return lambda: CameraSource(index, width, height, s.camera_fps or None)

    def start_demo(self) -> None:
        if not DEMO_CLIP.is_file():
            self._error("Demo clip", f"{DEMO_CLIP}: not rendered yet (python main.py make-demo)")
            return
        self.start_live(lambda: RealTimeSource(FileSource(DEMO_CLIP), loop=True))

    def start_live(self, opener) -> None:
        """Live analysis of a camera (or anything paced like one), recorded as a new library session."""
        self._start(AnalysisRequest(opener, True, self._options(), None))

    def _restart_live(self) -> None:
        if self.analysis is not None and self.mode == "live":
            self.start_live(self.analysis.request.open_source)

    def _when_model_ready(self, start) -> None:
        if self.model_loading:
            self._after_model.append(start)
        else:
            start()

    def _start(self, request: AnalysisRequest) -> None:
        def start() -> None:
            self._stop_worker()
            if request.session is None or request.session is not self.session:  # not a Resume
                self._end_session()
            session = request.session or (self._new_session() if request.live else None)
            self.session = session
            worker = AnalysisWorker(replace(request, classifier=self.classifier, options=self._options(),
                                            session=session), self)
            worker.opened.connect(self._opened)
            worker.recording.connect(self._show_badge)
            worker.results.connect(self._results)
            worker.failed.connect(self._analysis_failed)
            worker.finished.connect(self._analysis_finished)
            self.analysis = worker
            self.statusBar().showMessage("Opening…")
            worker.start()

        self._when_model_ready(start)

    @Slot(object)
    def _opened(self, info: SourceInfo) -> None:
        if self.sender() is not self.analysis:
            return
        self._stop_player()
        live = self.analysis.request.live
        self.mode, self.source_info, self.source_path = ("live" if live else "review"), info, self.analysis.request.path
        self.store = AnalysisStore(info.fps, live)
        self.setWindowTitle(f"EPIR Live — {info.name}")
        self.statusBar().showMessage(f"{info.name}: {info.width}×{info.height}, {info.fps:.2f} fps"
                                     + ("" if self.classifier else " — no model installed: spotting only"), 8000)
        duration = info.frame_count / info.fps if info.frame_count else None
        self.timeline.reset(live, duration)
        self.events_panel.reset(LIVE_EVENTS if live else None)
        self.evidence.clear()
        self.view.clear("Analysing…")
        self._latest_time = None
        self.progress.setVisible(not live)
        self.progress.setRange(0, info.frame_count or 0)
        self.progress.setValue(0)
        self.slider.setRange(0, max((info.frame_count or 1) - 1, 0))
        self._set_transport_enabled(not live)
        if not live:
            self.player = ReviewPlayer(self.source_path, info.fps, self)
            self.player.frame_ready.connect(self._frame_decoded)
            self.player.moved.connect(self._player_moved)
            self.player.changed.connect(self._player_changed)
            self.player.failed.connect(self._player_failed)
            self._player_changed()

    @Slot(object)
    def _results(self, batch: Batch) -> None:
        if self.sender() is not self.analysis or self.store is None:
            return
        store = self.store
        store.add(batch)
        for view in batch.events:
            self.events_panel.add(view)
            self.timeline.add_event(view.event)
            if self.mode == "live":
                self.evidence.show_event(view, self.view.honesty)
        if batch.samples or batch.events:
            self._timeline_dirty = True
        self._show_progress(batch)
        if self.mode == "live":
            shown = self.analysis.frames.take()
            if shown is not None:
                rec = shown.record
                visible = store.visible_events(rec.timestamp)
                self.view.show_frame(shown.image, rec.index, rec, visible, self._state(rec, store.candidate(), visible))
                self._latest_time = rec.timestamp
        elif self.player is not None:
            self.player.set_reachable(len(store.frames), batch.progress.done)
            if self.player.position < 0 and store.frames:
                self.player.seek(0)

    def _show_progress(self, batch: Batch) -> None:
        p = batch.progress
        self.fps_label.setText(f"{p.fps:.1f} fps")
        self.latency_label.setText(f"latency {p.latency_ms:.0f} ms")
        self.dropped_label.setText(f"dropped {p.dropped}")
        if self.mode == "review":
            self.progress.setValue(p.processed)
            if p.done:
                self.progress.setFormat("analysed")
                self.statusBar().showMessage(
                    f"Analysis finished: {p.processed} frames, {len(self.store.events)} events", 8000)

    @Slot(str)
    def _analysis_failed(self, message: str) -> None:
        if self.sender() is not self.analysis:
            return
        kept = f"\n\nThe {len(self.store.events)} events found so far are kept." if self.store and self.store.events else ""
        if self.session is not None and self.session.session_id is not None:
            kept += f"\n\nSession {self.session.session_id} is saved as interrupted."
        self._stop_worker()
        self._end_session("interrupted")
        self._error("Analysis stopped", message + kept)

    @Slot()
    def _analysis_finished(self) -> None:
        if self.sender() is self.analysis and self.mode == "live":  # the source ended by itself
            self.view.placeholder = "Live analysis stopped"
            self._stop_worker()
            self._end_session()

    def stop_analysis(self) -> None:
        """Stop the analysis; a live session (even a paused one) is finished and kept in the library."""
        self._stop_worker()
        self._end_session()

    def _stop_worker(self) -> None:
        worker, self.analysis = self.analysis, None
        if worker is not None:
            worker.stop()
            worker.wait()

    def _stop_player(self) -> None:
        player, self.player = self.player, None
        if player is not None:
            player.stop()

    # ---------------------------------------------------------------- review player

    def _set_transport_enabled(self, enabled: bool) -> None:
        """The player's controls exist only for recordings (hidden while live)."""
        self.transport.setEnabled(enabled)
        self.transport.setVisible(enabled or self.mode == "idle")

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
        self.timeline.set_playhead(rec.timestamp)
        if not self.slider.isSliderDown():
            self.slider.setValue(index)
        info = self.source_info
        total = info.frame_count / info.fps if info.frame_count else 0
        self.time_label.setText(f"{rec.timestamp:6.2f} / {total:.2f} s   frame {index}")

    @Slot()
    def _player_changed(self) -> None:
        player = self.player
        if player is None:
            return
        icon = QStyle.SP_MediaPause if player.playing else QStyle.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.speed_box.blockSignals(True)
        self.speed_box.setCurrentIndex(SPEEDS.index(player.speed))
        self.speed_box.blockSignals(False)

    def _set_speed(self, index: int) -> None:
        if self.player is not None:
            self.player.set_speed(SPEEDS[index])

    @Slot(int, QImage)
    def _frame_decoded(self, index: int, image: QImage) -> None:
        if self.sender() is not self.player or image.isNull():  # null: past the decodable end
            return
        rec = self.store.record(index)
        visible = self.store.visible_events(rec.timestamp) if rec else []
        sample = self.store.sample_at(index)
        candidate = sample is not None and sample.value > sample.threshold
        self.view.show_frame(image, index, rec, visible, self._state(rec, candidate, visible))

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

    # ---------------------------------------------------------------- marks, export, window

    def mark(self) -> None:
        if self.store is None:
            return
        if self.player is not None:
            rec = self.store.record(self.player.position)
            seconds = rec.timestamp if rec else None
        else:
            seconds = self._latest_time
        if seconds is None:
            return
        self.store.marks.append(seconds)
        session = self.session
        if self.mode == "live" and session is not None and session.status == "recording":
            marker = session.add_marker()
            self.timeline.add_mark(seconds, marker.label)
            self._noted = marker
            self.marker_note.setPlaceholderText(f"note for {marker.label} at {marker.t:.1f} s (Enter)")
            self.marker_note.show()
            self.marker_note.setFocus()
        else:
            self.timeline.add_mark(seconds)
        self.statusBar().showMessage(f"Marked {seconds:.2f} s", 3000)

    def _refresh_timeline(self) -> None:
        if self.store is None:
            return
        if self._timeline_dirty:
            self.timeline.set_signal(*self.store.signal_arrays())
            self._timeline_dirty = False
        if self.mode == "live" and self._latest_time is not None:
            self.timeline.follow(self._latest_time)

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
        header = {
            "source": {"path": info.name, "kind": info.kind, "fps": info.fps, "width": info.width,
                       "height": info.height},
            "model": None if c is None else {
                "name": c.card.name, "version": c.card.version, "path": str(c.path), "provider": c.provider_label,
                "synthetic": c.card.synthetic, "caveat": c.card.honesty_note},
            "spotting": asdict(self._options().spotting),
        }
        try:
            out = export_store(self.store, folder, header, c.card.classes if c else ())
        except OSError as exc:
            self._error("Export", f"{folder}: {exc.strerror or exc}")
            raise
        self.statusBar().showMessage(f"Exported {len(self.store.events)} events to {out}", 8000)
        return out

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def _run_task(self, fn, on_done, on_fail) -> None:
        task = Task(fn, self)
        task.succeeded.connect(on_done)
        task.failed.connect(on_fail)
        task.finished.connect(self._task_finished)
        self.tasks.add(task)
        task.start()

    @Slot()
    def _task_finished(self) -> None:
        self.tasks.discard(self.sender())

    @Slot(str)
    def _player_failed(self, message: str) -> None:
        self._error("Player", message)

    def _error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message.splitlines()[0], 10000)
        QMessageBox.warning(self, title, message)

    def closeEvent(self, event) -> None:
        """Stop and join every thread before the window goes."""
        self.timeline_timer.stop()
        self._after_model.clear()
        if self.sessions_window is not None:
            self.sessions_window.close()
        self.stop_analysis()
        if self.library is not None:
            self.library.close()
        self._stop_player()
        for task in list(self.tasks):
            task.wait()
        self.tasks.clear()
        super().closeEvent(event)
