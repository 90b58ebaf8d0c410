"""The synthetic benchmark: AU fields, emotion rules, timing, determinism, dataset layout, and that
MediaPipe still sees the rendered faces."""

from __future__ import annotations

import csv
import json
from argparse import Namespace
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.demo import DEMO_CLIP, DEMO_TRUTH
from app.face import FaceTracker, FaceTrackerOptions, RunningMode
from models.synth import ExpressionEvent, NuisanceOptions, classify_aus, face_canvas, render_sequence, write_video
from models.synth import cli
from models.synth.aus import ACTION_UNITS, MICRO_UNIT, controls, face_frame, smooth_field
from models.synth.clips import ANNOTATION_COLUMNS
from models.synth.events import macro_event, micro_timing
from models.synth.long_videos import GROUND_TRUTH_COLUMNS
from models.synth.subjects import PROTOTYPES, make_subjects, prepare_subject

REQUIRED_AUS = {1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26, 45}
FOREHEAD = (10, 151, 9)
MOUTH_CORNERS = (61, 291)


@pytest.fixture(scope="module")
def face():
    return face_canvas("astronaut")


@pytest.fixture(scope="module")
def tracker():
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE)) as t:
        yield t


def test_every_required_action_unit_is_defined():
    assert REQUIRED_AUS <= set(ACTION_UNITS)


def test_au12_moves_mouth_corners_up_and_out_by_the_micro_unit(face):
    shift = face.landmark_shift("12")
    frame = face_frame(face.landmarks)
    expected = MICRO_UNIT * frame.unit * np.hypot(0.7, 0.7)
    for index, outward in zip(MOUTH_CORNERS, (-1, 1)):
        move = shift[index]
        assert np.linalg.norm(move) == pytest.approx(expected, rel=0.15)
        assert move @ frame.y_axis < 0  # up
        assert outward * (move @ frame.x_axis) > 0  # away from the midline
    assert np.abs(shift[list(FOREHEAD)]).max() < 1e-3  # the forehead stays still


def test_au4_lowers_the_brows_and_leaves_the_mouth_still(face):
    shift = face.landmark_shift("4")
    frame = face_frame(face.landmarks)
    assert (shift[[107, 336]] @ frame.y_axis > 0.5 * MICRO_UNIT * frame.unit).all()
    assert np.abs(shift[list(MOUTH_CORNERS)]).max() < 1e-3


def test_one_sided_code_moves_one_side_only(face):
    shift = face.landmark_shift("R14")  # subject's right = image left
    assert np.linalg.norm(shift[61]) > 0.5 * MICRO_UNIT * face_frame(face.landmarks).unit
    assert np.linalg.norm(shift[291]) < 1e-3


def test_dense_field_matches_the_landmark_shift(face):
    local = face.field("12")
    rows, cols = local.box
    x, y = np.round(face.landmarks[61]).astype(int)
    dense = local.values[y - rows.start, x - cols.start]
    exact = smooth_field(np.array([[x, y]], np.float32), controls("12", face.landmarks))[0]
    assert np.allclose(dense, exact, atol=1e-4)


def test_pure_single_region_motion_changes_only_that_region(face):
    event = ExpressionEvent({"12": 1.0}, 0.2, 0.3, 0.5)
    frames, truth = render_sequence(face, [event], fps=30, duration_s=0.7)
    apex = truth.intervals[0].apex
    diff = np.abs(frames[apex].astype(int) - frames[0].astype(int)).max(axis=2)
    ys, xs = np.nonzero(diff)
    mouth = face.landmarks[list(MOUTH_CORNERS)]
    assert diff.max() > 0
    assert ys.min() > face.landmarks[list(FOREHEAD)][:, 1].max()  # nothing changed above the brows
    assert np.abs(xs - mouth[:, 0].mean()).max() < 2 * np.ptp(mouth[:, 0])
    moved = truth.landmarks[apex] - truth.landmarks[0]
    assert np.allclose(moved, face.landmark_shift("12"), atol=1e-3)  # truth = intensity 1 at the apex


@pytest.mark.parametrize(
    "aus, emotion, class3",
    [
        ("6+12", "happiness", "positive"), ("12+25", "happiness", "positive"),
        ("1+2", "surprise", "surprise"), ("1+2+5+26", "surprise", "surprise"),
        ("1+2+4+5+20", "fear", "negative"), ("9+10", "disgust", "negative"), ("10", "disgust", "negative"),
        ("1+4+15", "sadness", "negative"), ("4+7+23", "anger", "negative"), ("4", "anger", "negative"),
        ("R14", "contempt", "negative"), ("17+24", "repression", "negative"), ("1", "others", None),
        ("6+12+45", "happiness", "positive"),
    ],
)
def test_emotion_rules(aus, emotion, class3):
    assert classify_aus(aus.split("+")) == (emotion, class3)


def test_every_prototype_has_its_class():
    for class3, combos in PROTOTYPES.items():
        for combo in combos:
            assert classify_aus(combo.split("+"))[1] == class3, combo


def test_timing_ranges():
    rng = np.random.default_rng(0)
    for _ in range(500):
        onset, apex, offset = micro_timing(rng, 1.0)
        assert 0.040 <= apex - onset <= 0.260 and 0.150 <= offset - onset <= 0.500
        assert ExpressionEvent({"12": 1}, onset, apex, offset).kind == "micro"
        macro = macro_event(rng, {"12": 3.0}, 1.0)
        assert 0.6 <= macro.offset_s - macro.onset_s <= 3.0 and macro.kind == "macro"


def test_event_rejects_bad_timing_and_unknown_aus():
    with pytest.raises(ValueError):
        ExpressionEvent({"12": 1}, 1.0, 0.9, 1.2)
    with pytest.raises(KeyError):
        ExpressionEvent({"99": 1}, 1.0, 1.1, 1.2)


def test_profile_is_zero_at_onset_and_offset_and_one_at_apex():
    event = ExpressionEvent({"12": 1}, 1.0, 1.1, 1.3)
    assert np.allclose(event.profile(np.array([0.5, 1.0, 1.1, 1.3, 2.0])), [0, 0, 1, 0, 0])


def _synth_args(out: Path, workers: int, seed: int = 0) -> Namespace:
    return Namespace(out=out, subjects=2, clips_per_subject=3, fps=30, seed=seed, long_videos=1, long_seconds=4.0,
                     long_fps=30, long_format=".avi", workers=workers)


@pytest.fixture(scope="module")
def synth_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    runs = {}
    for name, workers, seed in (("a", 1, 0), ("b", 2, 0), ("c", 1, 1)):
        assert cli.main(_synth_args(base / name, workers, seed)) == 0
        runs[name] = base / name
    return runs


def test_synth_writes_the_dataset_layout(synth_dirs):
    out = synth_dirs["a"]
    with open(out / "annotations.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == ANNOTATION_COLUMNS and len(rows) == 6
    for row in rows:
        frames = sorted((out / "clips" / row["subject"] / row["clip"]).glob("img*.jpg"))
        numbers = [int(p.stem[3:]) for p in frames]
        assert numbers == list(range(1, len(frames) + 1))
        onset, apex, offset = int(row["onset"]), int(row["apex"]), int(row["offset"])
        assert 1 < onset < apex < offset < numbers[-1]  # neutral frames on both sides
        assert (offset - onset) / float(row["fps"]) <= 0.5 + 1 / 30
        assert classify_aus(row["aus"].split("+")) == (row["emotion"], row["class3"])
    assert {r["class3"] for r in rows} == {"negative", "positive", "surprise"}
    long_dir = out / "long"
    with open(long_dir / "ground_truth.csv") as f:
        assert tuple(csv.DictReader(f).fieldnames) == GROUND_TRUTH_COLUMNS
    (video,) = long_dir.glob("*.avi")
    truth = json.loads(video.with_suffix(".json").read_text())
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == truth["n_frames"] == 120


def test_synth_is_deterministic_and_independent_of_workers(synth_dirs):
    a, b, c = (synth_dirs[k] for k in "abc")
    assert (a / "annotations.csv").read_bytes() == (b / "annotations.csv").read_bytes()
    first = Path("clips/s01/ep01/img0001.jpg")
    assert (a / first).read_bytes() == (b / first).read_bytes()
    assert (a / "long/ground_truth.csv").read_bytes() == (b / "long/ground_truth.csv").read_bytes()
    assert (a / first).read_bytes() != (c / first).read_bytes()


def test_mediapipe_finds_every_rendered_subject(tracker):
    for subject in make_subjects(4, seed=0):
        face = prepare_subject(subject)
        event = ExpressionEvent({"6": 3.5, "12": 3.5, "25": 3.0}, 0.1, 0.3, 0.5)
        frames, truth = render_sequence(face, [event], 10, 0.5, nuisances=NuisanceOptions.realistic())
        found = tracker.detect(frames[truth.intervals[0].apex])
        assert found is not None, subject.name
        assert np.abs(found.landmarks[:, :2] - truth.landmarks[truth.intervals[0].apex]).mean() < 3.0


def test_write_video_round_trips(tmp_path, face):
    frames, _ = render_sequence(face, [ExpressionEvent({"4": 1.0}, 0.1, 0.2, 0.3)], 30, 0.4)
    for suffix in (".mp4", ".avi"):
        path = tmp_path / f"v{suffix}"
        assert write_video(frames, path, 30) == len(frames)
        cap = cv2.VideoCapture(str(path))
        ok, first = cap.read()
        assert ok and first.shape == frames[0].shape
    with pytest.raises(ValueError):
        write_video(frames, tmp_path / "v.gif", 30)


@pytest.mark.skipif(not DEMO_CLIP.exists(), reason="demo clip not rendered (python main.py make-demo)")
def test_demo_clip_decodes_and_matches_its_truth():
    truth = json.loads(DEMO_TRUTH.read_text())
    cap = cv2.VideoCapture(str(DEMO_CLIP))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == truth["n_frames"]
    assert {i["kind"] for i in truth["intervals"]} == {"micro", "macro"}
    assert DEMO_CLIP.stat().st_size < 2_000_000
