"""The desktop app, driven through its real window with the real pipeline (pytest-qt, offscreen).

One recorded clip with one micro-expression is analysed once per session's first test; the tests
check what a user sees: events in the list and on the timeline, seeking, export in the ``analyze``
format, settings that persist, bad input reported in a message box, and no thread left running.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from tests.gui_fixtures import (  # noqa: F401  (fixtures are found by name)
    isolated_settings, qapp, record_message_boxes, tiny_model, window, write_bump_clip,
)

from app.events import EVENT_CSV_FIELDS, FRAME_CSV_FIELDS  # noqa: E402
from app.gui import window as window_module  # noqa: E402
from app.gui.settings import AppSettings, SettingsDialog, load_settings  # noqa: E402
from app.gui.controller import State  # noqa: E402
from app.gui.window import REPLAY_SPEED, MainWindow  # noqa: E402
from app.sources import FileSource, RealTimeSource  # noqa: E402

FPS = 30.0
APEX_S = 2.5


@pytest.fixture(scope="session")
def clip(astronaut_bgr, tmp_path_factory) -> Path:
    """5 s of a real face; around 2.5 s a cheek region moves by 1.5 px for ~200 ms."""
    return write_bump_clip(tmp_path_factory.mktemp("gui") / "clip.avi", astronaut_bgr, (APEX_S,), 5.0, FPS)


@pytest.fixture
def messages(monkeypatch) -> list[tuple[str, str]]:
    return record_message_boxes(monkeypatch, QMessageBox.No)


def _use_model(qtbot, win: MainWindow, model: Path, provider: str = "auto") -> None:
    win.apply_settings(replace(win.settings, model_path=str(model), provider=provider))
    qtbot.waitUntil(lambda: win.classifier is not None and win.classifier.path == Path(model), timeout=10_000)


def _analyse(qtbot, win: MainWindow, clip: Path) -> None:
    win.open_video(clip)
    qtbot.waitUntil(lambda: win.store is not None and win.store.progress.done, timeout=60_000)


def test_review_a_recording(qtbot, window, clip, tiny_model, messages, tmp_path):
    _use_model(qtbot, window, tiny_model)
    _analyse(qtbot, window, clip)
    store = window.store
    assert store.progress.processed == 150 and len(store.frames) == 150
    assert window.progress.value() == 150
    assert len(store.events) >= 1
    assert window.events_panel.rowCount() == len(store.events)
    assert len(window.timeline.spans) == len(store.events)
    times, values, thresholds = store.signal_arrays()
    assert len(times) > 50 and window.timeline.signal.getData()[0] is not None
    event = max(store.events, key=lambda v: v.event.spot_score).event
    assert event.onset_time <= APEX_S + 0.1 and event.offset_time >= APEX_S - 0.1
    if tiny_model is not None:
        assert event.model_label in ("negative", "positive", "surprise")
        assert event.label in ("negative", "positive", "surprise", "uncertain", "none")
        assert set(event.probabilities) == {"negative", "positive", "surprise"}
        assert "synthetic" in window.model_label.text()

    row = [v.event for v in window.events_panel.views].index(event)
    window.events_panel.selectRow(row)
    player = window.player
    assert player.position == event.onset_frame  # the player went to the onset...
    assert player.speed == REPLAY_SPEED and player.playing  # ...and replays it slowly
    qtbot.waitUntil(lambda: event.onset_frame <= window.view.index <= event.offset_frame + 30, timeout=5_000)
    assert window.evidence.caption.text().startswith(f"#{event.event_id}")
    assert f"face: {event.evidence_text}" in window.evidence.caption.text()  # the plain-words readout

    player.pause()
    at = player.position
    qtbot.keyClick(window, Qt.Key_Right)  # step one frame
    assert player.position == min(at + 1, player.reachable - 1)
    window.seek_time(1.0)
    qtbot.waitUntil(lambda: window.view.index == 30, timeout=5_000)

    out = window.export(tmp_path / "export")
    payload = json.loads((out / "events.json").read_text())
    assert [e["event_id"] for e in payload["events"]] == [v.event.event_id for v in store.events]
    assert set(payload["events"][0]) == set(event.to_json())
    with open(out / "events.csv") as f:
        header = next(csv.reader(f))
    assert header[:len(EVENT_CSV_FIELDS)] == EVENT_CSV_FIELDS
    with open(out / "frames.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == FRAME_CSV_FIELDS and len(rows) == 151

    # A bad video afterwards: a message, the app goes on, the events found stay.
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video")
    found = window.events_panel.rowCount()
    window.open_video(bad)
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert "broken.mp4" in messages[0][1]
    assert window.events_panel.rowCount() == found and window.isVisible()
    assert not messages[1:]


def test_provider_setting_applies_and_persists(qtbot, window, tiny_model):
    _use_model(qtbot, window, tiny_model, provider="auto")
    window.apply_settings(replace(window.settings, provider="cpu"))
    qtbot.waitUntil(lambda: window.classifier is not None and window.classifier.requested == ["CPUExecutionProvider"],
                    timeout=10_000)
    assert window.provider_label.text() == "provider: CPU"
    assert load_settings().provider == "cpu"


def test_settings_dialog_round_trip(qtbot, qapp):
    dialog = SettingsDialog(AppSettings(), cameras=[0, 2])
    qtbot.addWidget(dialog)
    dialog.provider.setCurrentText("cpu")
    dialog.sensitivity.setValue(3.5)
    dialog.show_landmarks.setChecked(True)
    result = dialog.result_settings()
    assert (result.provider, result.sensitivity, result.show_landmarks) == ("cpu", 3.5, True)


def test_bad_model_file_is_reported_and_the_app_keeps_running(qtbot, window, messages, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    window.apply_settings(replace(window.settings, model_path=str(bad)))
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert "bad.onnx" in messages[0][1]
    assert window.classifier is None and window.model_label.text() == "model failed to load"


def test_live_analysis_paints_frames_and_stops_cleanly(qtbot, window, clip, messages):
    painted: list[int] = []
    window.view.painted.connect(painted.append)
    window.start_live(lambda: RealTimeSource(FileSource(clip), loop=True))
    qtbot.waitUntil(lambda: len(painted) >= 20, timeout=20_000)
    assert window.controller.state is State.LIVE and window.store.live
    assert painted == sorted(painted)  # newest frames only, never out of order
    assert window.view.state in ("tracking", "candidate", "spotted", "classified")
    qtbot.keyClick(window, "m")
    qtbot.waitUntil(lambda: len(window.store.marks) == 1, timeout=2_000)
    # the spotted event's label delay reaches the window (the app's live measurement prints it)
    qtbot.waitUntil(lambda: window.store.progress.label_delay_p95_ms is not None, timeout=20_000)
    assert window.store.events and 0 < window.store.progress.label_delay_p95_ms < 10_000
    assert not messages
    window.stop_analysis()


def test_no_camera_offers_the_demo_clip(qtbot, window, messages, monkeypatch):
    monkeypatch.setattr(window_module, "list_cameras", lambda: [])
    window.open_camera()
    qtbot.waitUntil(lambda: bool(messages), timeout=5_000)
    assert "No camera" in messages[0][1]
    assert window.controller.run is None  # declined: nothing started
