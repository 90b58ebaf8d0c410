"""The app with two faces (issue 12): each face's box in its id's colour, one timeline signal per face,
a click on a face picks the subject a session records, export with one row per face per frame."""

from __future__ import annotations

import csv
from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from tests.gui_fixtures import isolated_settings, qapp, window  # noqa: F401  (fixtures are found by name)

from app.face_tracks import face_hex  # noqa: E402
from models.synth.pairs import two_people  # noqa: E402
from tests.conftest import write_video  # noqa: E402

FPS = 30.0


@pytest.fixture(scope="module")
def two_people_clip(tmp_path_factory):
    frames = two_people(("obama", []), ("biden", []), FPS, 2.0)
    return write_video(tmp_path_factory.mktemp("faces") / "two.avi", frames, FPS)


def test_two_faces_boxes_signals_subject_and_export(qtbot, window, two_people_clip, tmp_path):
    win = window
    win.apply_settings(replace(win.settings, max_faces=2, model_path="", show_attention=False))
    win.open_video(two_people_clip)
    qtbot.waitUntil(lambda: win.store is not None and win.store.progress.done, timeout=60_000)
    assert win.store.face_ids == {0, 1}

    def curves() -> dict:
        return {i: c[0].getData()[0] for i, c in win.timeline._faces.items()}

    qtbot.waitUntil(lambda: set(curves()) == {0, 1} and all(x is not None and len(x) > 20 for x in curves().values()),
                    timeout=5_000)  # the timeline is refreshed ten times a second
    qtbot.waitUntil(lambda: win.view.record is not None and len(win.view.record.faces) == 2, timeout=10_000)
    rec, view = win.view.record, win.view
    picture = view.grab().toImage()
    scale, ox, oy = view._placement()
    for face in rec.faces:  # the box's top edge, in its id's colour
        x, y, w, _ = face.bbox
        pixel = picture.pixelColor(round(ox + (x + w / 2) * scale), round(oy + y * scale))
        assert abs(pixel.hue() - QColor(face_hex(face.face_id)).hue()) <= 12, (face.face_id, pixel.name())
    right = max(rec.faces, key=lambda f: f.bbox[0])
    x, y, w, h = right.bbox
    qtbot.mouseClick(view, Qt.LeftButton, pos=QPoint(round(ox + (x + w / 2) * scale), round(oy + (y + h / 2) * scale)))
    assert view.subject == right.face_id and f"face {right.face_id} only" in win.statusBar().currentMessage()
    session = win._new_session()
    assert session is not None and session.subject == right.face_id  # the next session records that face
    qtbot.mouseClick(view, Qt.LeftButton, pos=QPoint(2, 2))  # beside every face: record all
    assert view.subject is None
    assert win.events_panel.several_faces
    out = win.export(tmp_path / "export")
    with open(out / "frames.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["face_id"] for r in rows} == {"0", "1"} and len(rows) == 2 * 60
    assert all(r["face_w"] and float(r["face_w"]) > 50 for r in rows)
