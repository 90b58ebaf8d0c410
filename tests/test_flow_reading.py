"""The flow reading (``app.flow_reading``): real MediaPipe landmarks and real TV-L1 flow on rendered
action units of a real photograph, and its part in the abstention."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from app.abstention import AbstentionRule, decide, label_text
from app.align import align_face
from app.events import Event
from app.blendshapes import BLENDSHAPE_INDEX
from app.evidence import UNCLEAR, build_evidence
from app.face import FaceTracker, FaceTrackerOptions, RunningMode
from app.flow_reading import FlowReading, read_flow
from app.model_card import InputSpec
from app.model_input import onset_apex_flow
from models.synth.canvas import VIDEO_LAYOUT, face_canvas
from models.synth.render import source_map
from tests.test_evidence_abstention import STILL, event_scores

SPEC = InputSpec()  # the synthetic model's input: 128-px crops, head motion removed


@pytest.fixture(scope="module")
def reader():
    face = face_canvas("grace_hopper", VIDEO_LAYOUT)
    h, w = face.image.shape[:2]
    grid = np.mgrid[0:h, 0:w].astype(np.float32)[::-1]
    tracker = FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE, blendshapes=False))

    def aligned(frame):
        return align_face(frame, tracker.detect(frame).landmarks, SPEC.template())

    neutral = aligned(face.image)

    def read(aus: dict[str, float], shift: tuple[float, float] = (0.0, 0.0)) -> FlowReading:
        motion = np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float64)
        map_x, map_y = source_map(face, aus, motion, (grid[0], grid[1]))
        frame = cv2.remap(face.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return read_flow(onset_apex_flow(neutral, aligned(frame), SPEC), neutral.landmarks)

    yield read
    tracker.close()


@pytest.mark.parametrize("aus, reading", [
    ({"1": 1.0, "2": 1.0}, "surprise"),  # a micro brow raise: about 1.4 px on the crop
    ({"1": 3.0, "2": 3.0, "26": 6.0}, "surprise"),  # the jaw drop pulls the lip corners down: not AU15
    # parted lips lower the lip's middle and the corners with it: the corners' fall is no AU15 (it read
    # unclear while every fall of the corners counted)
    ({"1": 1.0, "2": 1.0, "25": 1.5}, "surprise"),
    ({"15": 1.2, "17": 1.2}, "negative"),
    # ... while the depressor pulls the corners further down than the lip's middle: sadness (EMFACS 1+4+15)
    ({"15": 0.7}, "negative"),
    ({"1": 1.0, "4": 1.0, "15": 1.0}, "negative"),
    ({"25": 1.0}, UNCLEAR),
    ({"4": 1.5}, "negative"),
    ({"4": 0.8}, "negative"),  # a micro brow lowerer: read at the inner brows, down and in (0.011 over all brows)
    ({"12": 3.0}, "positive"),
    ({"6": 1.0, "12": 1.0, "25": 1.0}, "positive"),  # micro, lips parted: the corners hardly rise, the cheeks do
    # micro, lips parted, no cheek raise: both corners pulled out 0.013-0.015 eye distances, lifted 0.006
    ({"12": 1.0, "25": 1.0}, "positive"),
    ({"R14": 1.5}, UNCLEAR),  # one corner pulled out (contempt): no smile
    ({"6": 1.0}, UNCLEAR),  # a cheek raise without the corners pulled out is no smile
    ({"14": 1.5}, UNCLEAR),  # corners pulled out without a lift (a dimpler, a lip stretcher): no smile
    ({"20": 1.5}, UNCLEAR),
    # the upper lip raiser (disgust) lifts the corners straight up, no smile; the lip's middle beyond them
    ({"10": 3.0}, "negative"),
    ({"10": 1.0}, "negative"),
    ({"26": 6.0}, UNCLEAR),  # a jaw drop alone (speech) reads nothing
    ({}, UNCLEAR),
])
def test_rendered_action_units_read_as_emfacs_says(reader, aus, reading):
    assert reader(aus).reading == reading


def test_a_head_shift_alone_reads_nothing(reader):
    moved = reader({}, shift=(3.0, 2.0))
    assert moved.reading == UNCLEAR and max(abs(v) for v in moved.moves.values()) < 0.01


@pytest.mark.parametrize("aus", [{"14": 1.0}, {"7": 1.0}, {"9": 1.0}, {"1": 1.0}])
def test_the_smallest_micro_movements_are_not_a_still_face(reader, aus):
    """One action unit at one micro intensity (about 1.4 px at its main landmark), also away from the
    reading's landmarks (a dimpler, the lids, the nose), moves a region well beyond ``still_face``."""
    still = AbstentionRule().still_face
    assert reader(aus).peak > 2 * still
    assert reader({}).peak < still / 2


def test_a_face_that_did_not_move_from_onset_to_apex_is_no_expression():
    unclear = build_evidence(list(range(10)), event_scores())
    still = FlowReading({"brows_up": 0.0, "lip_corners_up": 0.0, "lip_corners_out": 0.0, "chin_up": 0.0},
                        0.0002, UNCLEAR, peak=0.001)
    verdict = decide("negative", {"negative": 0.97, "positive": 0.02, "surprise": 0.01}, unclear, STILL, flow=still)
    assert verdict.label == "none" and "did not move" in verdict.reason


def test_a_longer_movement_that_neither_reading_reads_is_no_expression():
    """The blendshapes miss micro-expressions only: speech on the development sets (jaw, pressed lips; the
    model negative or surprise 0.65-0.94) spotted as a macro-scale event that neither the blendshapes nor
    the flow read was an `uncertain` false positive. A micro event stays `uncertain`."""
    unclear = build_evidence(list(range(10)), event_scores(mouthPressLeft=0.1, mouthPressRight=0.1))
    assert unclear.face_reading == UNCLEAR
    nothing = FlowReading({"brows_up": 0.003, "lip_corners_up": -0.004, "lip_corners_out": 0.0, "chin_up": 0.002},
                          0.001, UNCLEAR, peak=0.03)
    probs = {"negative": 0.83, "positive": 0.05, "surprise": 0.12}
    verdict = decide("negative", probs, unclear, STILL, flow=nothing, macro=True)
    assert verdict.label == "none" and "longer than a micro-expression" in verdict.reason
    assert decide("negative", probs, unclear, STILL, flow=nothing).label == "uncertain"
    brows_down = FlowReading({"brows_up": -0.03, "lip_corners_up": 0.0, "lip_corners_out": 0.0, "chin_up": 0.0},
                             0.001, "negative", peak=0.04)
    assert decide("negative", probs, unclear, STILL, flow=brows_down, macro=True).label == "negative"


def test_the_flow_confirms_a_model_only_when_the_blendshapes_read_nothing():
    unclear = build_evidence(list(range(10)), event_scores())
    brows_up = FlowReading({"brows_up": 0.03, "lip_corners_up": 0.0, "lip_corners_out": 0.0, "chin_up": 0.0},
                           0.001, "surprise", peak=0.04)
    probs = {"negative": 0.1, "positive": 0.05, "surprise": 0.85}
    shown = decide("surprise", probs, unclear, STILL, flow=brows_up)
    assert shown.label == "surprise" and "motion agree" in shown.reason
    assert label_text("surprise", "surprise", probs, unclear, brows_up) == "surprise 85 % (face: unclear, motion: surprise)"
    assert decide("surprise", probs, unclear, STILL).label == "uncertain"  # no flow reading: as before
    assert decide("surprise", {"surprise": 0.5, "negative": 0.3, "positive": 0.2}, unclear, STILL,
                  flow=brows_up).label == "uncertain"  # agrees, but the model is unsure
    assert decide("negative", {"negative": 0.95, "positive": 0.0, "surprise": 0.05}, unclear, STILL,
                  flow=brows_up).label == "uncertain"  # disagrees
    smile = build_evidence(list(range(10)), event_scores(mouthSmileLeft=0.8, mouthSmileRight=0.8))
    assert decide("surprise", probs, smile, STILL, flow=brows_up).label != "surprise"  # the blendshapes speak first
    assert FlowReading.from_json(brows_up.to_json()) == brows_up


def test_a_smile_that_the_face_and_its_motion_both_read_speaks_from_half_the_strength():
    """A micro smile on a rendered face (seed-8 development set): the blendshapes read a smile of 0.37, the
    flow the lip corners up and out; the synthetic model said negative 0.56. Two readings that do not share
    a network agree: shown positive. Either alone at that strength: uncertain."""
    faint = build_evidence(list(range(10)), event_scores(mouthSmileLeft=0.4, mouthSmileRight=0.4))
    assert faint.reading == "positive" and AbstentionRule().both_readings <= faint.strength < AbstentionRule().face_alone
    smile = FlowReading({"brows_up": 0.0, "lip_corners_up": 0.024, "lip_corners_out": 0.019, "chin_up": 0.0},
                        0.001, "positive", peak=0.05)
    brows_up = FlowReading({"brows_up": 0.03, "lip_corners_up": 0.0, "lip_corners_out": 0.0, "chin_up": 0.0},
                           0.001, "surprise", peak=0.04)
    model = {"negative": 0.56, "positive": 0.3, "surprise": 0.0, "none": 0.14}
    verdict = decide("negative", model, faint, STILL, flow=smile)
    assert verdict.label == "positive" and "both read positive" in verdict.reason
    assert decide("negative", model, faint, STILL).label == "uncertain"
    assert decide("negative", model, faint, STILL, flow=brows_up).label == "uncertain"
    weak = build_evidence(list(range(10)), event_scores(mouthSmileLeft=0.25, mouthSmileRight=0.25))
    assert decide("negative", model, weak, STILL, flow=smile).label == "uncertain"


def test_an_event_names_the_motion_its_label_rests_on():
    unclear = build_evidence(list(range(10)), event_scores())
    brows_up = FlowReading({"brows_up": 0.031, "lip_corners_up": -0.002, "lip_corners_out": 0.001, "chin_up": 0.0},
                           0.001, "surprise", peak=0.04)
    event = Event(event_id=1, face_id=0, onset_frame=10, apex_frame=13, offset_frame=16, onset_time=0.33,
                  apex_time=0.43, offset_time=0.53, duration_ms=200.0, kind="micro", spot_score=2.0,
                  label="surprise", probabilities={"surprise": 0.86}, model_label="surprise", evidence=unclear,
                  flow_reading=brows_up)
    assert event.motion_text == "surprise: brows up +0.031 eye distances"
    assert event.label_text == "surprise 86 % (face: unclear, motion: surprise)"
    smile = build_evidence(list(range(10)), event_scores(mouthSmileLeft=0.8, mouthSmileRight=0.8))
    assert replace(event, evidence=smile).motion_text == ""  # the blendshapes read it: they speak


def test_an_expression_ending_is_not_read_as_a_new_one():
    """Brows coming down from a raise move as a brow lowerer would: the flow reads negative, but the
    blendshapes show the raise falling, and no label rests on that reading."""
    scores = event_scores(frames=10)
    scores[:, BLENDSHAPE_INDEX["browInnerUp"]] = np.linspace(0.8, 0.1, 10)  # a surprise's brows coming down
    ending = build_evidence(list(range(10)), scores)
    assert ending.face_reading == UNCLEAR
    brows_down = FlowReading({"brows_up": -0.03, "lip_corners_up": 0.0, "lip_corners_out": 0.0, "chin_up": 0.0},
                             0.001, "negative", peak=0.04)
    sure = {"negative": 0.9, "positive": 0.05, "surprise": 0.05}
    assert decide("negative", sure, ending, STILL, flow=brows_down).label == "uncertain"
    still = build_evidence(list(range(10)), event_scores())
    assert decide("negative", sure, still, STILL, flow=brows_down).label == "negative"


def corners(down: float, inward: float) -> FlowReading:
    """The flow of lip corners moving ``down`` and ``inward`` (eye distances), the chin rising with them."""
    moves = {"brows_up": 0.0, "lip_corners_up": -down, "lip_corners_out": -inward, "chin_up": 0.018,
             "cheeks_up": -inward, "inner_brows_down": 0.0, "upper_lip_up": 0.0, "lower_lip_down": -0.012}
    return FlowReading(moves, 0.0004, "negative", peak=0.02)


def test_a_smile_fading_draws_the_corners_in_but_a_depressor_on_a_smiling_rest_face_does_not():
    """A face that smiles at rest (mouthSmile 0.6 on a development face) loses that smile under a lip
    corner depressor (15+17) as it would in a smile fading. The flow tells them apart: a fading smile draws
    the corners back in, the depressor pulls them down."""
    scores = event_scores(frames=10, mouthShrugLower=0.14)
    for name in ("mouthSmileLeft", "mouthSmileRight"):
        scores[:, BLENDSHAPE_INDEX[name]] = np.linspace(0.6, 0.2, 10)
    smile_gone = build_evidence(list(range(10)), scores)
    assert smile_gone.face_reading == UNCLEAR
    sure = {"negative": 0.98, "positive": 0.01, "surprise": 0.01}
    assert decide("negative", sure, smile_gone, STILL, flow=corners(down=0.018, inward=0.002)).label == "negative"
    assert decide("negative", sure, smile_gone, STILL, flow=corners(down=0.035, inward=0.047)).label == "uncertain"


def test_brows_read_lowered_by_the_flow_and_raised_by_the_blendshapes_are_no_agreement():
    """A hand on the face (development set): the flow reads the brows lowered by 0.013 eye distances,
    the blendshapes' brow lowerer falls by 0.38; the two readings of one movement are opposed."""
    scores = event_scores(frames=10)
    scores[:, BLENDSHAPE_INDEX["browDownLeft"]] = scores[:, BLENDSHAPE_INDEX["browDownRight"]] = np.linspace(0.5, 0.12, 10)
    brows_up = build_evidence(list(range(10)), scores)
    lowered = FlowReading({"brows_up": -0.013, "lip_corners_up": 0.0, "lip_corners_out": 0.0, "chin_up": 0.0},
                          0.006, "negative", peak=0.04)
    sure = {"negative": 0.9, "positive": 0.05, "surprise": 0.05}
    assert decide("negative", sure, brows_up, STILL, flow=lowered).label == "uncertain"
    assert decide("negative", sure, build_evidence(list(range(10)), event_scores()), STILL, flow=lowered).label == "negative"


def test_a_surprise_whose_open_mouth_the_blendshapes_read_as_negative_is_read_by_its_motion():
    """Rendered surprises with the jaw dropped show the upper teeth, which the blendshapes read as an upper
    lip raise (+0.6: negative), while the brows go up in both readings. The flow reads the brows raised and
    the corners not stretched, so the blendshapes' reading is the mouth, and the model's surprise is confirmed
    by the motion. Fear (1+2+4+5+20) stretches the lips outwards and stays in dispute."""
    scores = event_scores(mouthUpperUpLeft=0.6, mouthUpperUpRight=0.6, jawOpen=0.1)
    scores[:, BLENDSHAPE_INDEX["browDownLeft"]] = scores[:, BLENDSHAPE_INDEX["browDownRight"]] = np.linspace(0.4, 0.2, 10)
    open_mouth = build_evidence(list(range(10)), scores)
    assert open_mouth.face_reading == "negative"
    moves = {"brows_up": 0.034, "lip_corners_up": -0.010, "lip_corners_out": -0.003, "chin_up": -0.001,
             "cheeks_up": -0.001, "inner_brows_down": -0.026, "upper_lip_up": 0.010, "lower_lip_down": 0.017}
    brows_up = FlowReading(moves, 0.001, "surprise", peak=0.05)
    sure = {"negative": 0.005, "positive": 0.005, "surprise": 0.99}
    verdict = decide("surprise", sure, open_mouth, STILL, flow=brows_up)
    assert verdict.label == "surprise" and "motion agree" in verdict.reason
    assert label_text("surprise", "surprise", sure, open_mouth, brows_up) == "surprise > 90 % (face: negative, motion: surprise)"
    fear = FlowReading({**moves, "lip_corners_out": 0.028}, 0.001, "surprise", peak=0.05)
    assert decide("surprise", sure, open_mouth, STILL, flow=fear).label == "uncertain"
    drawn_in = FlowReading({**moves, "inner_brows_down": 0.006}, 0.001, "surprise", peak=0.05)
    assert decide("surprise", sure, open_mouth, STILL, flow=drawn_in).label == "uncertain"
    # a micro smile with parted lips: the same mouth reading, the flow reads the corners pulled out and up
    smile = FlowReading({**moves, "brows_up": 0.0, "inner_brows_down": 0.0, "lip_corners_up": 0.004, "cheeks_up": 0.005,
                         "lip_corners_out": 0.016, "each_corner_out": 0.014}, 0.001, "positive", peak=0.03)
    happy = {"negative": 0.03, "positive": 0.96, "surprise": 0.01}
    assert decide("positive", happy, open_mouth, STILL, flow=smile).label == "positive"
