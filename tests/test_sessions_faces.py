"""Sessions with several faces (issue 12): face ids stored per row and event, the subject filter, a
library of schema 2 migrated with its rows kept, and the report grouped per face."""

from __future__ import annotations

import sqlite3

from app.events import NO_FACE_ID, Event, FrameRow
from app.sessions import Library, store
from app.sessions.report import render_html
from app.sources import SourceInfo
from app.spotting import SpotSample

CAMERA = SourceInfo("camera", "camera 0", 30.0, 640, 480, None, True)


def feed(recorder, frames: int = 30) -> None:
    """Two faces (ids 0 and 1) in every frame but the last, which has none; one event each."""
    for i in range(frames):
        t = i / 30
        if i < frames - 1:
            for face_id in (0, 1):
                recorder.add_frame(FrameRow(i, t, face_id, 0.9, True, (0.0, 0.1, 0.2), 0.3,
                                            box=(100.0 + 300 * face_id, 50.0, 120.0, 150.0)))
                recorder.add_signal(SpotSample(i, t, 0.1 + face_id, 0.5, 0.1, face_id))
        else:
            recorder.add_frame(FrameRow(i, t, NO_FACE_ID, 0.0, False, None, None))
    for face_id in (0, 1):
        recorder.add_event(Event(1 + face_id, face_id, 5, 8, 12, 5 / 30, 8 / 30, 12 / 30, 233.0, "micro", 1.5,
                                 "positive", {"negative": 0.1, "positive": 0.9}))


def test_every_face_is_stored_and_the_report_is_grouped_per_face(tmp_path):
    with Library(tmp_path) as library:
        with library.start_session("interview", CAMERA) as recorder:
            feed(recorder)
        session = library.load(recorder.session_id)
        stored = library._conn.execute("SELECT face_x, face_w FROM frames WHERE face_id = 1 LIMIT 1").fetchone()
    assert tuple(stored) == (400.0, 120.0)
    assert session.signal.face_ids == [0, 1] and session.signal.frame_counts() == (30, 1)
    assert session.signal.of(1).value[:3].tolist() == [1.1, 1.1, 1.1]
    assert [s.event.face_id for s in session.events] == [0, 1]
    page = render_html(session)
    assert "Face 0: 1 event(s)" in page and "Face 1: 1 event(s)" in page
    assert "30 frames, 1 without a face" in page


def test_the_subject_face_alone_is_recorded_when_chosen(tmp_path):
    with Library(tmp_path) as library:
        with library.start_session("subject", CAMERA) as recorder:
            recorder.subject = 1
            feed(recorder)
        session = library.load(recorder.session_id)
    assert set(session.signal.face_id.tolist()) == {1, NO_FACE_ID}
    assert [s.event.face_id for s in session.events] == [1]
    assert "Face 0" not in render_html(session)


def schema_2_library(tmp_path):
    db = tmp_path / store.DB_NAME
    conn = sqlite3.connect(db, isolation_level=None)
    store.migrate(conn, 0, target=2)
    conn.execute("INSERT INTO sessions (label, started_at, status, source_kind, source_name, fps, width, height, "
                 "software) VALUES ('old', 1.7e9, 'finished', 'file', 'old.mp4', 25, 320, 240, 'epir-live 0.1')")
    conn.executemany("INSERT INTO frames (session_id, frame, timestamp, confidence, success, ear, signal, threshold) "
                     "VALUES (1, ?, ?, 0.9, ?, 0.3, ?, 0.5)", [(i, i / 25, int(i != 3), 0.01 * i) for i in range(5)])
    conn.close()
    assert store.inspect(db) == 2
    return db


def test_a_schema_2_library_is_migrated_with_its_rows_as_face_0(tmp_path):
    schema_2_library(tmp_path)
    with Library(tmp_path) as library:
        assert library._conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 3
        signal = library.load(1).signal
    assert signal.face_id.tolist() == [0] * 5 and signal.value.tolist() == [0.0, 0.01, 0.02, 0.03, 0.04]
    assert signal.success.tolist() == [True, True, True, False, True] and signal.face_ids == [0]


def test_a_read_only_schema_2_library_is_read_as_it_is(tmp_path, monkeypatch):
    """Root writes everywhere, so the folder's read-only state is what the library's own check says."""
    from app.sessions import library as library_module

    db = schema_2_library(tmp_path)
    monkeypatch.setattr(library_module, "_writable", lambda *_: False)
    with Library(tmp_path) as library:
        assert library.read_only
        signal = library.load(1).signal
    assert signal.face_id.tolist() == [0] * 5 and signal.face_ids == [0] and store.inspect(db) == 2
