"""Several faces with stable ids (issue 12): the track matcher on plain boxes, then real MediaPipe on
two public-domain portraits side by side (swapped, and one person leaving the picture for a second)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from app.cli import main as cli_main
from app.face import FaceObservation, FaceTracker, FaceTrackerOptions, RunningMode
from app.face_tracks import FaceTracks, TrackOptions
from models.synth import ExpressionEvent
from models.synth.pairs import two_people
from tests.conftest import write_video

FPS = 30.0
SMILE = ExpressionEvent({"6": 1.2, "12": 1.2}, 3.6, 3.75, 4.0)  # the left person, after the other's return
BROWS = ExpressionEvent({"1": 1.5, "2": 1.5}, 1.1, 1.25, 1.5)  # the right person, before leaving
AWAY_S = (1.9, 2.9)  # the right person leaves the picture for one second


def face(x: float, y: float, w: float = 100.0) -> FaceObservation:
    return FaceObservation(0, np.zeros((478, 3), np.float32), (x - w / 2, y - w / 2, w, w * 1.2), 0.9)


def ids(tracks: FaceTracks, t: float, *centres) -> list[int]:
    """Track ids of faces at ``centres`` (in that order) in the frame at time ``t``."""
    tagged = tracks.update(t, [face(*c) for c in centres]).faces
    by_x = {round(f.bbox[0] + f.bbox[2] / 2): f.face_id for f in tagged}
    return [by_x[round(c[0])] for c in centres]


def test_ids_follow_moving_growing_and_crossing_faces():
    tracks = FaceTracks(TrackOptions(max_faces=2))
    first = ids(tracks, 0.0, (100, 200), (500, 200))
    assert sorted(first) == [0, 1]
    for k in range(1, 61):  # 2 s: they walk towards each other, cross (one passes lower), and grow
        t, step = k / FPS, 400 * k / 60
        left, right = (100 + step, 200 + 30 * np.sin(np.pi * k / 60)), (500 - step, 200)
        tagged = tracks.update(t, [face(*right, w=100 + k), face(*left, w=100 + k)]).faces
        got = {f.face_id: f.bbox[0] + f.bbox[2] / 2 for f in tagged}
        assert got[first[0]] == pytest.approx(left[0]) and got[first[1]] == pytest.approx(right[0]), k


def test_a_face_back_within_2_s_keeps_its_id_later_gets_a_new_one():
    tracks = FaceTracks(TrackOptions(max_faces=2))
    a, b = ids(tracks, 0.0, (100, 200), (500, 200))
    gone = tracks.update(0.5, [face(100, 200)])
    assert gone.missing == (b,) and [f.face_id for f in gone.faces] == [a]
    assert ids(tracks, 1.9, (100, 200), (505, 205)) == [a, b]  # back after 1.9 s, about where it was
    assert tracks.update(2.0, [face(100, 200)]).missing == (b,)
    tracks.update(3.0, [face(100, 200)])
    later = tracks.update(4.1, [face(100, 200)])  # 2.2 s away: the track ends
    assert later.ended == (b,) and later.missing == ()
    assert ids(tracks, 4.2, (100, 200), (500, 200)) == [a, 2]  # a new person (no re-identification)
    assert ids(tracks, 4.3, (100, 200), (500, 200), (300, 400)) == [a, 2, 3]


def test_one_face_is_always_id_0_the_largest():
    tracks = FaceTracks(TrackOptions(max_faces=1))
    assert [f.face_id for f in tracks.update(0.0, [face(100, 100, 50), face(400, 100, 120)]).faces] == [0]
    assert tracks.update(0.0, [face(100, 100, 50), face(400, 100, 120)]).faces[0].bbox[2] == 120
    assert tracks.update(10.0, []).missing == (0,)
    assert tracks.update(20.0, [face(300, 300)]).faces[0].face_id == 0


@pytest.fixture(scope="module")
def people() -> list[np.ndarray]:
    """Two real portraits (Obama, Biden: public-domain official portraits) side by side, each with their
    own expression; the right one leaves the picture for a second."""
    return two_people(("obama", [SMILE]), ("biden", [BROWS]), FPS, 5.0, AWAY_S)


def test_two_faces_side_by_side_and_swapped_each_keep_their_own_blendshapes(people):
    apex, width = people[round(SMILE.apex_s * FPS)], people[0].shape[1] // 2
    smiling, neutral = apex[:, :width], people[0][:, width:]
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE, max_faces=2)) as tracker:
        for frame, smile_side in ((np.hstack([smiling, neutral]), 0), (np.hstack([neutral, smiling]), 1)):
            faces = sorted(tracker.detect_all(frame), key=lambda f: f.bbox[0])
            assert len(faces) == 2
            half = frame.shape[1] / 2
            assert faces[0].bbox[0] + faces[0].bbox[2] < half + 10 and faces[1].bbox[0] > half - 10
            smile = [float(f.blendshapes[[44, 45]].mean()) for f in faces]  # mouthSmileLeft/Right
            assert smile[smile_side] > 0.3 > smile[1 - smile_side], smile


def test_two_people_one_leaving_for_a_second(tmp_path, people):
    frames = people
    video = write_video(tmp_path / "two.avi", frames, FPS)
    assert cli_main(["analyze", str(video), "--out", str(tmp_path / "out"), "--max-faces", "2", "--no-progress"]) == 0
    with open(tmp_path / "out" / "frames.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["success"] == "1"]
    half = frames[0].shape[1] / 2
    side = {}  # face id → fraction of its rows whose box centre is on the left half
    for face_id in {r["face_id"] for r in rows}:
        centres = [float(r["face_x"]) + float(r["face_w"]) / 2 for r in rows if r["face_id"] == face_id]
        side[face_id] = np.mean(np.array(centres) < half)
    assert len(side) == 2  # exactly two ids, the returning person's among them
    on_left = next(i for i, f in side.items() if f > 0.5)
    on_right = next(i for i, f in side.items() if f <= 0.5)
    assert side[on_left] >= 0.99 and 1 - side[on_right] >= 0.99
    right_frames = {int(r["frame"]) - 1 for r in rows if r["face_id"] == on_right}
    away = set(range(round(AWAY_S[0] * FPS), round(AWAY_S[1] * FPS)))
    assert len(right_frames & away) <= 2 and len(right_frames - away) >= len(frames) - len(away) - 4
    events = json.loads((tmp_path / "out" / "events.json").read_text())["events"]
    found = {(e["face_id"], name) for e in events for name, expression in (("smile", SMILE), ("brows", BROWS))
             if e["onset_s"] - 0.2 <= expression.apex_s <= e["offset_s"] + 0.2}
    assert found == {(int(on_left), "smile"), (int(on_right), "brows")}, events  # each expression under its own id


def test_max_faces_out_of_range_is_refused_before_anything_is_written(tmp_path, capsys):
    assert cli_main(["analyze", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "out"), "--max-faces", "0"]) == 2
    assert "--max-faces 0: must be a number from 1 to 8" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
