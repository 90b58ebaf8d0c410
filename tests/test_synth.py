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
from models.synth.aus import ACTION_UNITS, BLINK, MICRO_UNIT, controls, face_frame, macro_intensity, smooth_field
from models.synth.clips import ANNOTATION_COLUMNS
from models.synth.events import macro_event, micro_timing
from models.synth.long_videos import GROUND_TRUTH_COLUMNS
from models.datasets import load_dataset
from models.synth.distractors import Distractor
from models.synth.heldout import label_scores, matched_labels
from models.synth.long_videos import timeline
from models.synth.photos import PHOTO_NAMES, PHOTOS, REPO_ROOT, load_photo, sha256
from models.synth.real_motion import CHANNELS as REAL_CHANNELS
from models.synth.real_motion import load_tracks
from models.synth.render import iter_frames, plan_sequence, source_map
from models.synth.subjects import PROTOTYPES, derived_rng, make_subjects, prepare_subject

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


def landmark_shift(face, code: str) -> np.ndarray:
    """(478, 2) field of AU ``code`` at intensity 1 at the face's landmarks (what ``moved_landmarks`` carries)."""
    return smooth_field(face.landmarks, face.controls(code))


def test_every_required_action_unit_is_defined():
    assert REQUIRED_AUS <= set(ACTION_UNITS)


def test_au12_moves_mouth_corners_up_and_out_by_the_micro_unit(face):
    shift = landmark_shift(face, "12")
    frame = face_frame(face.landmarks)
    expected = MICRO_UNIT * frame.unit * np.hypot(0.7, 0.7)
    for index, outward in zip(MOUTH_CORNERS, (-1, 1)):
        move = shift[index]
        assert np.linalg.norm(move) == pytest.approx(expected, rel=0.15)
        assert move @ frame.y_axis < 0  # up
        assert outward * (move @ frame.x_axis) > 0  # away from the midline
    assert np.abs(shift[list(FOREHEAD)]).max() < 0.01 * expected  # the forehead stays still


def test_au4_lowers_the_brows_and_leaves_the_mouth_still(face):
    shift = landmark_shift(face, "4")
    frame = face_frame(face.landmarks)
    assert (shift[[107, 336]] @ frame.y_axis > 0.5 * MICRO_UNIT * frame.unit).all()
    assert np.abs(shift[list(MOUTH_CORNERS)]).max() < 1e-3


def test_au10_raises_the_upper_lip_and_leaves_the_mouth_corners_still(face):
    """A lifted corner is a smile to MediaPipe: the first AU10 carried the corners half as far up as AU12 does."""
    shift = landmark_shift(face, "10")
    frame = face_frame(face.landmarks)
    assert (shift[[37, 267, 0]] @ frame.y_axis < -0.5 * MICRO_UNIT * frame.unit).all()
    assert np.abs(shift[list(MOUTH_CORNERS)]).max() < 0.1 * MICRO_UNIT * frame.unit


def test_one_sided_code_moves_one_side_only(face):
    shift = landmark_shift(face, "R14")  # subject's right = image left
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
    # truth = the landmarks carried by the field at intensity 1 (``flow``): the field itself to within 10 %
    assert np.allclose(moved, face.moved_landmarks({"12": np.array([1.0])})[0] - face.landmarks, atol=1e-3)
    assert np.abs(moved - landmark_shift(face, "12")).max() < 0.1 * np.abs(landmark_shift(face, "12")).max()


def test_no_action_unit_folds_the_image_at_its_strongest(face):
    """The frame's sampling map keeps its orientation (Jacobian determinant > 0 on every pixel) for every
    AU at 1.25 x its full macro intensity (the strongest a subject's style renders), and the truth
    landmarks do not cross: the map a single displacement gave folded at 4 for most AUs."""
    height, width = face.image.shape[:2]
    grid = np.mgrid[0:height, 0:width].astype(np.float32)[::-1]
    for number, au in ACTION_UNITS.items():
        k = 1.0 if number == BLINK else 1.25 * au.macro  # blinks are capped at 1 (shut)
        map_x, map_y = source_map(face, {str(number): k}, np.eye(2, 3), (grid[0], grid[1]))
        (xy, xx), (yy, yx) = np.gradient(map_x), np.gradient(map_y)
        det = xx * yy - xy * yx
        assert det.min() > 0, (number, float(det.min()))
        moved = face.moved_landmarks({str(number): np.array([k])})[0]
        upper, lower = moved[[159, 386]], moved[[145, 374]]
        assert (lower[:, 1] - upper[:, 1] > 0).all(), number  # the upper lid never passes the lower one


def test_parted_lips_open_onto_the_mouth_and_a_raised_lid_onto_a_still_eye():
    """A warp cannot part touching lips (it stretched them shut) nor show the white above an iris (it
    stretched the iris up with the lid); the renderer opens what the moved landmarks open
    (``models.synth.mouth``, ``models.synth.eyes``): at a full jaw drop the truth's inner lips are apart and
    the pixel between them is the dark cavity; at a full lid raise the iris stays where it was; a smile,
    whose lips stay together, is rendered by the warp alone."""
    face = face_canvas("grace_hopper")  # lips closed in the photograph
    smile = plan_sequence(face, [ExpressionEvent({"6": 4.0, "12": macro_intensity("12")}, 0.1, 0.3, 0.6)], 30, 0.7)
    assert smile.openings == ()
    plan = plan_sequence(face, [ExpressionEvent({"5": macro_intensity("5"), "26": macro_intensity("26")},
                                                0.1, 0.3, 0.6, hold_s=0.1)], 30, 0.8)
    apex = plan.truth.intervals[0].apex
    assert plan.openings[0] == () and sorted(type(o).__name__ for o in plan.openings[apex]) == \
        ["EyeOpening", "EyeOpening", "MouthOpening"]
    frames = list(iter_frames(face, plan))
    points = plan.truth.landmarks[apex]
    unit = face_frame(points).unit
    assert (points[14, 1] - points[13, 1]) / unit > 0.2  # the inner lips are apart
    x, y = np.round((points[13] + points[14]) / 2).astype(int)
    lip = frames[0][tuple(np.round(face.landmarks[17, ::-1]).astype(int))].mean()
    assert frames[apex][y, x].mean() < 0.5 * lip
    assert np.allclose(points[468:478], face.landmarks[468:478], atol=1e-3)  # irises still (no head motion)
    assert (points[[159, 386], 1] < face.landmarks[[159, 386], 1] - 0.04 * unit).all()  # the lids rose


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


def _synth_args(out: Path, workers: int, seed: int = 0, **extra) -> Namespace:
    values = dict(out=out, subjects=2, clips_per_subject=3, fps=30, seed=seed, long_videos=1, long_seconds=4.0,
                  long_fps=30, long_format=".avi", workers=workers, photos=("astronaut", "grace_hopper"), life=False)
    return Namespace(**{**values, **extra})


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
    first = Path("clips/astronaut/s01_ep01/img0001.jpg")
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


# --- the people, distractors from real motion, the `none` class, the held-out scoring ---------------


def test_photo_manifest_names_twelve_or_more_people_with_source_licence_and_hashes():
    people = {p.person for p in PHOTOS.values()}
    assert len(PHOTOS) >= 12 and len(people) == len(PHOTOS)
    licences = (REPO_ROOT / "assets/faces/LICENSES.md").read_text()
    for photo in PHOTOS.values():
        assert photo.source and photo.path and photo.licence and len(photo.source_sha256) == 64, photo.name
        if photo.file:  # a vendored crop: the bytes are the ones recorded, its licence is written down
            assert sha256(photo.vendored_path) == photo.sha256, photo.name
            assert photo.vendored_path.name in licences
    assert {p.name for p in PHOTOS.values() if p.file is None} == {"astronaut", "grace_hopper"}


def test_mediapipe_finds_the_face_in_every_photo_and_its_mirror():
    for name in PHOTO_NAMES:
        for mirrored in (False, True):
            photo = load_photo(name, mirrored)  # raises when MediaPipe finds no face
            left, right = photo.landmarks[468], photo.landmarks[473]
            assert np.linalg.norm(left - right) > 30, (name, mirrored)


def test_real_motion_track_is_a_talking_face():
    (track,) = load_tracks()
    assert track.values.shape[1] == len(REAL_CHANNELS) and 10 < track.fps < 31
    assert track.channel("mouth_open").max() > 0.1  # lips part by a tenth of an eye distance when speaking
    assert np.abs(track.channel("tx")).max() > 0.2  # the head turns
    replay = track.resample(30, 0.0, 2000)  # longer than the recording: replayed back and forth, no jump
    assert np.abs(np.diff(replay, axis=0)).max() <= np.abs(np.diff(track.values, axis=0)).max() + 1e-6


def test_distractors_move_the_face_as_they_should(face):
    speech, head, hand = (Distractor("speech", 0.2, 1.4, 1.0, 1.0), Distractor("head", 0.2, 1.4, 1.0, 3.0),
                          Distractor("hand", 0.2, 1.4, 1.0, 0.0, 1, 0.8))
    for d in (speech, head, hand):
        frames, truth = render_sequence(face, [], 20, 1.6, distractors=[d])
        (interval,) = truth.others
        assert interval.kind == d.kind and truth.intervals == [] and "distractors" in truth.to_json()
        moved = np.abs(truth.landmarks[interval.apex] - truth.landmarks[0])
        if d.kind == "speech":
            lips = np.linalg.norm(truth.landmarks[:, 13] - truth.landmarks[:, 14], axis=1)
            assert lips.max() - lips[0] > 1.0 and moved[FOREHEAD, :].max() < moved[[13, 14]].max()
        elif d.kind == "head":
            assert moved.mean() > 1.0  # the whole face moves
        else:  # the hand changes pixels on the face, the face itself stays
            assert moved.max() < 0.5
            change = np.abs(frames[interval.apex].astype(int) - frames[0].astype(int)).mean(2)
            assert (change > 40).mean() > 0.02
        assert np.abs(truth.landmarks[-1] - truth.landmarks[0]).max() < 1.0  # back where it started


def test_life_benchmark_has_a_none_class_and_one_subject_per_person(tmp_path):
    out = tmp_path / "life"
    args = _synth_args(out, 1, seed=5, subjects=3, clips_per_subject=4, long_videos=0, life=True,
                       photos=("obama", "takeo_kanade"))
    assert cli.main(args) == 0
    data = load_dataset("synthetic", out)
    assert data.classes == ("negative", "positive", "surprise", "none")
    assert {s.subject for s in data.samples} == {"obama", "takeo_kanade"}  # s01 and s03 both show obama
    assert sum(s.subject == "obama" for s in data.samples) == 8
    for sample in data.samples:
        assert sample.onset < sample.apex <= sample.offset
        if sample.label == "none":
            assert sample.emotion in ("speech", "head", "hand", "blink") and sample.aus == ""
        else:
            assert classify_aus(sample.aus.split("+"))[1] == sample.label


def test_life_long_video_holds_expressions_and_carries_distractors():
    subject = make_subjects(1, 0, ("chris_pratt",))[0]
    events, distractors = timeline(subject, 60.0, derived_rng(9, 4, 0), life=True)
    assert distractors and {d.kind for d in distractors} <= {"speech", "head", "hand"}
    assert max(e.hold_s for e in events) > 1.0
    spans = sorted([(e.onset_s, e.offset_s) for e in events] + [(d.onset_s, d.offset_s) for d in distractors])
    assert all(b[0] > a[1] for a, b in zip(spans, spans[1:]))  # nothing overlaps


def test_held_out_label_scoring_pairs_by_iou_and_counts_other_labels_as_misses():
    truth = [{"onset": 10, "offset": 20, "class3": "positive"}, {"onset": 50, "offset": 60, "class3": "negative"},
             {"onset": 90, "offset": 99, "class3": "surprise"}]
    events = [{"onset_frame": 11, "offset_frame": 21, "label": "positive"},
              {"onset_frame": 52, "offset_frame": 61, "label": "uncertain"},
              {"onset_frame": 200, "offset_frame": 210, "label": "surprise"}]  # matches nothing
    pairs = matched_labels(events, truth)
    assert sorted(pairs) == [("negative", "uncertain"), ("positive", "positive")]
    result = label_scores(pairs)
    assert result["matched"] == 2 and result["uf1"] == pytest.approx(0.5) and result["accuracy"] == 0.5


@pytest.mark.parametrize("photo, aus, movements, least", [
    ("grace_hopper", "12", ("lip_corner_pull",), 0.5),  # a real smile: +0.89 (single_face.mp4)
    ("astronaut", "1+2", ("inner_brow_raise", "outer_brow_raise"), 0.3),  # a real brow raise: up to +0.84
    ("chris_pratt", "26", ("jaw_drop",), 0.3),  # real speech: up to +0.26; a surprise burst: 0.73
    ("grace_hopper", "10", ("upper_lip_raise",), 0.2),  # with the corners still: no smile read
])
def test_a_full_macro_expression_moves_the_blendshapes_as_a_real_face_does(photo, aus, movements, least):
    """Rendered at its full macro intensity and tracked as ``analyze`` tracks (VIDEO mode), a smile, a
    brow raise or a jaw drop moves MediaPipe's real-trained blendshapes well past the 0.15 the evidence
    reads, more than any other movement; a brow raise no longer narrows the eyes (the old field dragged the
    lower lids up: ``eyeBlink`` +0.28), and a jaw drop opens the mouth (the warp alone kept the lips sealed:
    ``jawOpen`` <= 0.05 on this face, ``mouthPucker`` +0.37)."""
    from app.evidence import MOVEMENTS, movement_values
    from models.synth.aus import macro_intensity
    from models.synth.canvas import VIDEO_LAYOUT
    from models.synth.render import iter_frames, plan_sequence

    face = face_canvas(photo, VIDEO_LAYOUT)
    event = ExpressionEvent({c: macro_intensity(c) for c in aus.split("+")}, 0.3, 0.6, 1.3, hold_s=0.4)
    plan = plan_sequence(face, [event], 30, 1.4)
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.VIDEO)) as video_tracker:
        values = np.array([movement_values(video_tracker.detect(f).blendshapes) for f in iter_frames(face, plan)])
    keys = [m.key for m in MOVEMENTS]
    rise = values[20:30].mean(0) - values[:8].mean(0)  # the held apex against the neutral start
    target = np.mean([rise[keys.index(k)] for k in movements])
    assert target >= least, dict(zip(keys, rise.round(2)))
    assert max(r for k, r in zip(keys, rise) if k not in movements) < target, dict(zip(keys, rise.round(2)))
    assert rise[keys.index("blink")] < 0.1
