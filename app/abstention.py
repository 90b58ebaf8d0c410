"""When to say "uncertain" or "none" instead of a label.

A label is shown when the real-face evidence (``app.evidence``) and EPIR agree and EPIR's (calibrated,
``app.classifier``) probability is high enough, or when the face alone clearly shows a smile or a
surprise, or the face and the onset→apex flow both read one (``decide``). Otherwise the event is
``uncertain``, or ``none`` when the motion is not an expression: a blink, a head turn or nod, speech or
chewing (the jaw opening and closing repeatedly, or pursed lips), a yawn (a wide jaw drop without raised
brows), a face the detector stops vouching for (a hand over it), a model whose own ``none`` class wins
while the face shows nothing or too little to speak alone (surely, or beside a sign of other motion), a
movement longer than a micro-expression that neither the blendshapes nor the flow read, or a face that did
not move from the event's onset to its apex (``app.flow_reading``). A label is also shown when the
blendshapes read nothing but the onset→apex flow reads the model's emotion. EPIR's own label and
probabilities are always kept beside the verdict. Thresholds: ``AbstentionRule``; how they were chosen is
in the README ("Evidence and abstention")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.evidence import NEGATIVE_MOVEMENTS, UNCLEAR, Evidence, ReadingOptions, brows_raised
from app.flow_reading import FlowReading, FlowReadingOptions, brows_lowered

UNCERTAIN = "uncertain"
NONE = "none"
# Readings the face may show without the model's agreement: the two whose blendshape levels are read
# (``app.evidence.read_held``); a negative reading needs the model (negative movements are noisy in speech).
FACE_ALONE = ("positive", "surprise")
# Which model classes each evidence reading supports (model class names are lower-cased).
READING_CLASSES = {
    "positive": {"positive", "happiness", "happy"},
    "surprise": {"surprise"},
    "negative": {"negative", "disgust", "repression", "anger", "fear", "sadness", "sad", "contempt"},
}
# The blendshape movements whose fall is an expression ending, by the emotion a flow reading would read in
# that ending: brows coming down from a raise, the jaw closing, a smile fading read as brows lowered, a chin
# raised, lip corners pulled down; a frown fading as a smile.
RELEASES = {"negative": ("inner_brow_raise", "outer_brow_raise", "jaw_drop", "lip_corner_pull"),
            "positive": ("lip_corner_depress",)}
# The negative movements a mouth opening shows in the blendshapes: the upper teeth as an upper lip raise,
# the lips stretched or their corners pulled down by the jaw (rendered surprises with the jaw dropped).
OPEN_MOUTH = ("upper_lip_raise", "lip_stretch", "lip_corner_depress")
# The smallest movement the onset->apex flow reading counts (eye distances): the pipeline reads the flow with
# the default options, and the checks below weigh its movements on the same scale.
FLOW_MIN_MOVE = FlowReadingOptions().min_move


@dataclass(frozen=True)
class AbstentionRule:
    min_confidence: float = 0.7  # EPIR's probability needed even when the evidence agrees
    # A smile or surprise at least this strong (``Evidence.strength``, blendshape units) on a face doing
    # nothing else is shown without the model's agreement (``decide``).
    face_alone: float = 0.6
    # ... when the face shows nothing readable to agree with; a synthetic-trained model is never
    # trusted alone (on real faces it says "negative 99 %" on laughs).
    alone_confidence: float = 0.9
    # A smile or surprise that the onset→apex flow reads too (``app.flow_reading``, geometry, independent of
    # the blendshape network) speaks alone from this strength, half ``face_alone``.
    both_readings: float = 0.3
    # A laugh held through an event (``Evidence.laughing``: an open-mouthed smile while only the laugh
    # moves) speaks alone from this held smile score (0.4: every held smile; above 1: never).
    laugh_smile: float = 0.4
    max_head_turn_deg: float = 8.0  # head rotation inside the event that makes it a head movement
    speech_jaw_cycles: int = 3  # jaw open/close cycles around the event that make it speech/chewing
    jaw_cycle_depth: float = 0.08  # jawOpen rise and fall that counts as one cycle ...
    # ... and at least this share of the open level it reaches: a jaw held open flickers from frame to frame
    # (jawOpen 0.75 by 0.1-0.15; 0.35-0.42 by up to 27 % in rendered surprises held with the jaw dropped),
    # while speech closes the jaw by 40 % and more of its opening (psychopy's jwpIntro.mp4 and testMovie.mp4).
    jaw_cycle_share: float = 0.3
    # Lips pursed or funnelled (AU18, AU22: no part of an emotion prototype; speech and the renderer's
    # speech make them) by at least this much as the largest movement: speech, not an expression; unless the
    # chin rises too (``min_rise``): AU17 pushes the lower lip out, and a rendered 15+17 reads pucker +0.93.
    pursed: float = 0.3
    yawn_jaw: float = 0.4  # jaw drop (jawOpen rise) of a yawn...
    yawn_brows: float = 0.15  # ...with the brows rising less than this (with them: an exaggerated surprise)
    occlusion_drop: float = 0.5  # face confidence falling below this fraction of its value at onset
    # The largest regional motion from onset to apex (``FlowReading.peak``, eye distances) below which the
    # face did not move inside the event: the spotter compared frames outside it (a still face between two
    # expressions differs from both).
    still_face: float = 0.004
    # The nose's own motion (``FlowReading.bone``, after the head's) at least this share of the face's largest
    # regional motion: the nose moved with the rest, which no expression does (on the development sets the
    # expressions' 0-0.14; hands and speech 0.17-0.34). A sign of other motion (``decide``'s step 5).
    bone_share: float = 0.15
    # A fall of a blendshape movement (``RELEASES``) this large says the flow reading's movement is an
    # expression ending (the smallest movement the reading reads, ``ReadingOptions.min_rise``).
    release_fall: float = 0.15


@dataclass(frozen=True)
class MotionContext:
    """What the face did around an event, besides the blendshape change (see ``motion_context``)."""

    head_turn_deg: float  # largest head rotation away from the onset pose inside the event
    jaw_cycles: int  # jawOpen cycles from one second before the onset until the event is reported
    confidence_ratio: float  # lowest face confidence inside the event / its value at onset

    def to_json(self) -> dict[str, float | int]:
        return {"head_turn_deg": round(self.head_turn_deg, 3), "jaw_cycles": self.jaw_cycles,
                "confidence_ratio": round(self.confidence_ratio, 4)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MotionContext":
        return cls(float(data["head_turn_deg"]), int(data["jaw_cycles"]), float(data["confidence_ratio"]))


@dataclass(frozen=True)
class Verdict:
    label: str | None  # EPIR's label, ``uncertain`` or ``none``; None without a model and without cues
    model_label: str | None
    reason: str


def motion_context(poses: np.ndarray, jaw_open: np.ndarray, confidences: np.ndarray, event: slice,
                   rule: AbstentionRule = AbstentionRule()) -> MotionContext:
    """``poses`` (T, 3) degrees, ``jaw_open`` and ``confidences`` (T,) over a window holding the event
    at ``event`` (indices into the window)."""
    inside = poses[event]
    turn = float(np.abs(inside - inside[0]).max()) if len(inside) else 0.0
    conf = confidences[event]
    ratio = float(conf.min() / conf[0]) if len(conf) and conf[0] > 0 else 1.0
    return MotionContext(turn, count_cycles(jaw_open, rule.jaw_cycle_depth, rule.jaw_cycle_share), ratio)


def count_cycles(series: np.ndarray, depth: float, share: float = 0.0) -> int:
    """Rises each followed by a fall (hysteresis), both at least ``depth`` and at least ``share`` of the
    level the rise reaches (or falls from)."""
    cycles, low, high, rising = 0, None, None, True
    for v in series:
        if low is None:
            low = high = v
        if rising:
            low = min(low, v)
            if v - low >= max(depth, share * v):
                rising, high = False, v
        else:
            high = max(high, v)
            if high - v >= max(depth, share * high):
                cycles += 1
                rising, low = True, v
    return cycles


def decide(model_label: str | None, probabilities: dict[str, float], evidence: Evidence | None,
           motion: MotionContext | None, rule: AbstentionRule = AbstentionRule(), synthetic: bool = True,
           flow: FlowReading | None = None, macro: bool = False) -> Verdict:
    """The label to show for one event, and why. ``synthetic``: the model was trained on synthetic faces;
    ``macro``: the event lasted longer than a micro-expression (``SpottedInterval.kind``).

    A label needs the model and the face to agree, with the model's probability >= ``min_confidence``, and
    nothing saying the motion is something else (for a smile: a blink or a yawn; otherwise also a head
    movement or speech);
    except that a smile or a surprise at least ``face_alone`` strong is shown as the face reads it when
    nothing says the motion is something else (a blink, a yawn; for a surprise also a head movement or
    speech) and no real-trained model says another emotion with >= ``alone_confidence``. A model's
    ``none`` class, or a synthetic model's emotion, does not veto a clear real-face reading: on real
    faces the synthetic model says "negative 99 %" on laughs."""
    if motion is not None and motion.confidence_ratio < rule.occlusion_drop:
        return Verdict(NONE, model_label, "the face was partly hidden")
    if flow is not None and flow.peak < rule.still_face:
        return Verdict(NONE, model_label, f"the face did not move from onset to apex ({flow.peak:.4f} eye distances)")
    reading = face_reading(evidence, flow)
    cue = _non_expression(evidence, motion, rule) if evidence is not None else ""
    if evidence is not None and reading == UNCLEAR and cue:
        return Verdict(NONE, model_label, cue)
    if model_label is None:
        return Verdict(None, None, "no model installed")
    model_none = model_label.lower() == NONE
    p = probabilities.get(model_label, 0.0)
    if evidence is None:
        if model_none:
            return Verdict(NONE, model_label, "the model's own 'none' class won")
        return Verdict(UNCERTAIN, model_label, "no blendshape evidence for this event")
    if reading == UNCLEAR:
        if model_none:
            return Verdict(NONE, model_label, "the model's own 'none' class won; the face shows no expression")
        if p >= rule.alone_confidence and not synthetic:
            return Verdict(model_label, model_label, "no readable movement; the model is confident")
        if flow_stands_in(evidence, flow) and model_label.lower() in READING_CLASSES[flow.reading] \
                and p >= rule.min_confidence and not _ending(flow, evidence, rule):
            return Verdict(model_label, model_label, f"the model and the face's motion agree ({flow.reading}: {flow.text})")
        # The blendshapes miss micro-expressions, not longer ones: a longer movement that neither they nor the
        # flow read as an expression is other motion (speech, a hand on the development sets; no expression).
        if macro and flow is not None and flow.reading == UNCLEAR:
            return Verdict(NONE, model_label, "a movement longer than a micro-expression that neither the face "
                                              "nor its motion reads as an expression")
        return Verdict(UNCERTAIN, model_label, "no readable facial movement to confirm the model")
    agrees = model_label.lower() in READING_CLASSES[reading]
    # People smile while talking and laugh with the head thrown back: a smile is read whatever the head
    # and the jaw do. Nothing else is: speech raises the brows, drops the jaw and purses the lips, and a
    # model that agrees with such a reading is no evidence of an expression (jwpIntro.mp4's speech was
    # shown "negative", the model and the face agreeing).
    alone_cue = _non_expression(evidence, None, rule) if reading == "positive" else cue
    if agrees and p >= rule.min_confidence and not alone_cue:
        return Verdict(model_label, model_label, f"the model and the face agree ({reading})")
    said = f"the model says {model_label} {p:.2f}"
    # Only the event's own movement speaks alone: a smile held through the event says what the face
    # shows, not what moved (the demo clip's smiling portrait shows a surprise micro-expression). It speaks
    # when it is large, or when it is a smile that ends broad (a level no speech reached on the development
    # clips), or when the held smile is a laugh and nothing but the laugh moved (``Evidence.laughing``).
    if (agrees or model_none or synthetic or p < rule.alone_confidence) and not alone_cue:
        if evidence.reading in FACE_ALONE and evidence.strength >= rule.face_alone:
            return Verdict(reading, model_label, f"the face clearly reads {reading} ({evidence.strength:.2f}); {said}")
        if (evidence.reading in FACE_ALONE and flow is not None and flow.reading == evidence.reading
                and evidence.strength >= rule.both_readings):
            return Verdict(reading, model_label, f"the face ({evidence.strength:.2f}) and its motion ({flow.text}) "
                                                 f"both read {reading}; {said}")
        if evidence.reading == "positive" and evidence.held == "positive" and evidence.held_score >= rule.face_alone:
            return Verdict(reading, model_label, f"the face smiles (+{evidence.strength:.2f}) into a broad smile "
                                                 f"({evidence.held_score:.2f}); {said}")
        if evidence.laughing() and evidence.held_score >= rule.laugh_smile:
            return Verdict(reading, model_label, f"the face holds an open-mouthed smile (a laugh) and nothing "
                                                 f"else moved; {said}")
    # A negative reading never speaks alone (speech lowers brows and presses lips), nor does a smile or surprise
    # too weak to, moved or held (a hand over the mouth reads as a smile of 0.3-0.5): against a model whose own
    # ``none`` class wins as surely as a model may speak alone, the motion is no expression.
    too_weak = reading not in FACE_ALONE or max(evidence.strength, evidence.held_score) < rule.face_alone
    if model_none and p >= rule.alone_confidence and too_weak:
        return Verdict(NONE, model_label, f"the model's own 'none' class won ({p:.2f}); a {reading} reading "
                                          "alone is no expression")
    # Nor against a less sure ``none`` when the motion shows what else it is (speech, pursed lips, a head
    # movement, the nose moving with the face): two signs of other motion and no expression that could speak.
    # A smile is exempt, as above.
    other = cue or ("the nose moved with the face" if flow is not None and flow.bone >= rule.bone_share * flow.peak
                    else "")
    if model_none and too_weak and other and reading != "positive":
        return Verdict(NONE, model_label, f"the model's own 'none' class won ({p:.2f}) and {other}; a {reading} "
                                          "reading alone is no expression")
    if agrees and p < rule.min_confidence:
        return Verdict(UNCERTAIN, model_label, f"the model's confidence {p:.2f} is below {rule.min_confidence:.2f}")
    if agrees:
        return Verdict(UNCERTAIN, model_label, f"the model and the face agree ({reading}), but {alone_cue}")
    why = f"; and {cue}" if cue else ""
    return Verdict(UNCERTAIN, model_label, f"{said}, the face reads {reading}{why}")


def flow_stands_in(evidence: Evidence | None, flow: FlowReading | None) -> bool:
    """Whether the flow reading may stand in for the face's: the blendshapes read nothing (``face_reading``),
    the flow an emotion (``decide`` then lets it confirm the model; the label text and the readouts name it)."""
    return (evidence is not None and face_reading(evidence, flow) == UNCLEAR
            and flow is not None and flow.reading != UNCLEAR)


def face_reading(evidence: Evidence | None, flow: FlowReading | None) -> str:
    """What the blendshapes read, except a negative reading made of an open mouth: the largest negative
    movement is one a mouth opening shows (``OPEN_MOUTH``) while the flow reads a smile, or the brows raised
    with the lip corners not stretched outwards (fear's AU20), and the inner brows not drawn in (AU4). On the
    development sets the blendshapes read nine surprises with the jaw dropped (or lips stretched on a B/W
    face) and two micro smiles with parted lips as negative that way; the flow then stands in."""
    if evidence is None:
        return UNCLEAR
    if evidence.face_reading != "negative" or flow is None or flow.reading not in ("surprise", "positive"):
        return evidence.face_reading
    top = max(NEGATIVE_MOVEMENTS, key=lambda key: evidence.movements[key])
    stretched = flow.reading == "surprise" and flow.moves["lip_corners_out"] >= FLOW_MIN_MOVE / 2
    drawn_in = flow.moves.get("inner_brows_down", 0.0) > FLOW_MIN_MOVE / 4
    return UNCLEAR if top in OPEN_MOUTH and not (stretched or drawn_in) else evidence.face_reading


def _ending(flow: FlowReading, evidence: Evidence, rule: AbstentionRule) -> bool:
    """Whether the blendshapes show the flow's new expression to be something else: an expression ending
    (``RELEASES``), or the brows going up where the flow reads them lowered (a hand on the development sets).

    A smile fading draws the lip corners back in. A lip corner depressor on a face that smiles at rest
    lowers ``mouthSmile`` as far (0.6 → 0 on a rendered 15+17 of a development face) but pulls the corners
    down, not in, so that fall alone is no ending then."""
    falls = [key for key in RELEASES.get(flow.reading, ()) if -evidence.movements.get(key, 0.0) >= rule.release_fall]
    if falls == ["lip_corner_pull"] and flow.moves["lip_corners_out"] > -FLOW_MIN_MOVE / 2:
        falls = []
    opposed = (flow.reading == "negative" and brows_lowered(flow.moves) >= FLOW_MIN_MOVE
               and -evidence.movements["brow_lower"] >= rule.release_fall)
    return bool(falls) or opposed


def _non_expression(evidence: Evidence, motion: MotionContext | None, rule: AbstentionRule) -> str:
    """The first sign that the motion is not an expression ("" for none); ``motion`` None: the face's
    own movements only (a blink, a yawn)."""
    top = evidence.top(1)
    if top and top[0][0].key == "blink" and top[0][1] > 0:  # eyes opening wider (AU5) is no blink
        return "a blink"
    if motion is not None and motion.head_turn_deg >= rule.max_head_turn_deg:
        return "a head movement"
    if motion is not None and motion.jaw_cycles >= rule.speech_jaw_cycles:
        return "speech or chewing"
    if (top and top[0][0].key in ("pucker", "funnel") and top[0][1] >= rule.pursed
            and evidence.movements["chin_raise"] < ReadingOptions().min_rise):
        return "lips pursed (speech?)"
    if evidence.movements.get("jaw_drop", 0.0) >= rule.yawn_jaw and brows_raised(evidence.movements) < rule.yawn_brows:
        return "a mouth opening without an expression (yawn?)"
    return ""


DISPLAY_CEILING = 0.9  # the highest probability shown as a number (``percent``)


def percent(p: float | None) -> str:
    """A probability for display; above ``DISPLAY_CEILING`` only "> 90 %": no model here is validated on
    real faces to be surer than that (the synthetic model's calibration is fitted on synthetic faces only),
    and the abstention rule treats every probability above 0.9 alike."""
    if p is None:
        return "–"
    return f"> {DISPLAY_CEILING:.0%}".replace("%", " %") if p > DISPLAY_CEILING else f"{p:.0%}".replace("%", " %")


def label_text(label: str | None, model_label: str | None, probabilities: dict[str, float],
               evidence: Evidence | None, flow: FlowReading | None = None) -> str:
    """One line for the app, the report and the CSV readers, e.g.
    "uncertain (EPIR: negative 97 %; face: positive)"; when the blendshapes read nothing and the flow
    reads an emotion, also that: "surprise 86 % (face: unclear, motion: surprise)"."""
    if label is None and model_label is None:
        return "unlabelled (no model installed)"
    face = f"face: {evidence.face_reading}" if evidence is not None else "face: no evidence"
    if flow_stands_in(evidence, flow):
        face += f", motion: {flow.reading}"
    epir = f"EPIR: {model_label} {percent(probabilities.get(model_label))}" if model_label else "no model"
    if label == model_label:
        return f"{label} {percent(probabilities.get(label))} ({face})"
    return f"{label} ({epir}; {face})"
