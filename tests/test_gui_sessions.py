"""Sessions in the desktop app, through the real window, the real pipeline and a real SQLite library in tmp.

A live session (a short clip paced like a camera) is recorded with two markers, a pause and the video;
the library then lists it as finished with what the window saw; the session window reopens it; its report
names every event; a foreign database is reported and left byte for byte; closing stops every thread.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import cv2
import pytest

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.gui.window import MainWindow
from app.sessions import LIBRARY_ENV, Library
from app.sources import FileSource, RealTimeSource
from tests.gui_fixtures import (  # noqa: F401  (fixtures are found by name)
    isolated_settings, qapp, record_message_boxes, tiny_model, window, write_bump_clip,
)

FPS = 30.0
BUMPS_S = (1.2, 2.6)  # two facial movements of ~200 ms


@pytest.fixture(scope="module")
def clip(astronaut_bgr, tmp_path_factory) -> Path:
    """4 s of a real face with a cheek movement at each of BUMPS_S."""
    return write_bump_clip(tmp_path_factory.mktemp("sessions-gui") / "clip.avi", astronaut_bgr, BUMPS_S, 4.0, FPS,
                           seed=1)


@pytest.fixture
def library_dir() -> Path:
    """The private library every test gets (tests/conftest.py): the user's own is never touched."""
    return Path(os.environ[LIBRARY_ENV])


@pytest.fixture
def messages(monkeypatch) -> list[tuple[str, str]]:
    return record_message_boxes(monkeypatch, QMessageBox.Yes)


def _record_session(qtbot, win: MainWindow, clip: Path, tiny_model: Path | None) -> int:
    """Live session of ``clip`` with the video: marker with a note, pause, resume, marker, end of the clip."""
    settings = replace(win.settings, record_video=True, model_path=str(tiny_model) if tiny_model else "")
    win.apply_settings(settings)
    qtbot.waitUntil(lambda: not win.model_loading, timeout=10_000)
    win.session_label.setText("interview 3")
    win.start_live(lambda: RealTimeSource(FileSource(clip)))
    qtbot.waitUntil(lambda: win.rec_badge.isVisible() and (win.latest_time or 0) > 0.8, timeout=20_000)
    assert "REC" in win.rec_badge.text() and "VIDEO" in win.rec_badge.text() and "interview 3" in win.rec_badge.text()
    session_id = win.session.session_id

    qtbot.keyClick(win, Qt.Key_M)
    assert win.marker_note.isVisible() and win.controller.run is not None  # the note does not stop the analysis
    qtbot.keyClicks(win.marker_note, "question 1 asked")
    qtbot.keyClick(win.marker_note, Qt.Key_Return)
    assert not win.marker_note.isVisible()

    win.toggle_pause()
    assert "PAUSED" in win.rec_badge.text() and win.controller.run is None
    with Library(win.settings.library) as lib:
        assert lib.info(session_id).status == "paused"
    win.toggle_pause()  # resume: the clip is opened again and feeds the same session
    qtbot.waitUntil(lambda: win.session is not None and win.session.status == "recording"
                    and (win.latest_time or 0) > 0.5, timeout=20_000)
    qtbot.keyClick(win, Qt.Key_M)
    qtbot.waitUntil(lambda: win.session is None, timeout=30_000)  # the clip ended: the session is finished
    assert not win.rec_badge.isVisible()

    def finished() -> bool:  # written by the controller's closing thread: the UI does not wait for it
        with Library(win.settings.library) as lib:
            return lib.info(session_id).status == "finished"
    qtbot.waitUntil(finished, timeout=30_000)
    return session_id


def test_live_session_is_recorded_reviewed_and_reported(qtbot, window, clip, tiny_model, messages, tmp_path):
    session_id = _record_session(qtbot, window, clip, tiny_model)
    seen = [v.event for v in window.store.events]  # what the window showed after Resume

    with Library(window.settings.library) as lib:
        [info] = lib.sessions(search="interview")
        assert info.id == session_id and info.status == "finished" and info.label == "interview 3"
        assert info.marker_count == 2
        session = lib.load(session_id)
    user = [m for m in session.markers if m.kind == "user"]
    assert [(m.label, m.note) for m in user] == [("M1", "question 1 asked"), ("M2", "")]
    assert [m.kind for m in session.markers if m.kind != "user"] == ["pause", "resume"]
    assert len(session.events) >= len(seen) >= 1  # events from before the pause are kept too
    assert info.video_path is not None and info.video_path.is_file()
    video = cv2.VideoCapture(str(info.video_path))
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) > FPS  # paced by timestamps, dropped frames filled in
    video.release()

    sessions = window.open_sessions()
    assert [sessions.table.item(r, 0).text() for r in range(sessions.table.rowCount())] == [str(session_id)]
    sessions.select(session_id)
    qtbot.waitUntil(lambda: sessions.review.session is not None, timeout=10_000)
    review = sessions.review
    assert review.events.rowCount() == len(session.events)
    assert all(not review.events.item(r, 0).icon().isNull() for r in range(review.events.rowCount()))
    assert len(review.timeline.spans) == len(session.events)
    assert [m.label.textItem.toPlainText() if getattr(m, "label", None) else "" for m in review.timeline.marks] == [
        "M1", "❚❚ pause", "", "M2"]  # the resume line at the pause carries no label over it
    assert review.video_button.isVisibleTo(review)
    review.markers.item(0).setSelected(True)
    review.markers.item(1).setSelected(True)
    assert review.span.text().startswith("M1 → M2:")

    out = tmp_path / "report.html"
    sessions.export(session_id, out)
    qtbot.waitUntil(lambda: out.is_file(), timeout=20_000)
    page = out.read_text(encoding="utf-8")
    assert all(f"<tr id='event-{s.event.event_id}'>" in page for s in session.events)
    assert "question 1 asked" in page
    window.export_report(session_id, tmp_path / "from-main-window.html")  # File → Export report…
    qtbot.waitUntil(lambda: (tmp_path / "from-main-window.html").is_file(), timeout=20_000)

    sessions.confirm_delete()  # confirmed (the fixture answers Yes)
    assert sessions.table.rowCount() == 0 and not info.folder.exists()
    assert [title for title, _ in messages] == ["Delete session"]  # the confirmation, nothing else


def test_foreign_library_is_reported_and_left_untouched(qtbot, window, library_dir, clip, messages):
    import sqlite3

    library_dir.mkdir()
    foreign = library_dir / "library.sqlite3"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.commit()
    conn.close()
    before = {p.name: p.read_bytes() for p in library_dir.iterdir()}

    assert window.open_sessions() is None
    assert messages and "another program" in messages[0][1]
    window.start_live(lambda: RealTimeSource(FileSource(clip)))  # analysis still runs, unrecorded
    qtbot.waitUntil(lambda: window.store is not None and window.store.latest is not None, timeout=20_000)
    assert window.session is None and not window.rec_badge.isVisible()
    window.stop_analysis()
    assert {p.name: p.read_bytes() for p in library_dir.iterdir()} == before
