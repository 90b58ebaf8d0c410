"""Labelling a spotted interval: what the face's blendshapes and motion say around it (read on the
spotting stage, which holds the history), then the onset → apex flow, EPIR and the abstention's verdict
(in the labelling worker, off the frame path). ``app.pipeline`` decides where each part runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.abstention import AbstentionRule, MotionContext, decide, motion_context
from app.align import AlignedFace
from app.blendshapes import BLENDSHAPE_INDEX
from app.classifier import Classification, Classifier
from app.evidence import UNCLEAR, Evidence, ReadingOptions, build_evidence
from app.events import Event
from app.flow_reading import read_flow
from app.model_card import InputSpec
from app.spotting import SpottedInterval


@dataclass(frozen=True)
class Observed:
    """One frame of a face, as the evidence and the abstention read it."""

    frame: int
    timestamp: float
    blendshapes: np.ndarray  # (52,) scores
    pose_deg: tuple[float, float, float]  # pitch, yaw, roll
    confidence: float


@dataclass(frozen=True)
class EventJob:
    """A spotted interval with its faces, handed from the spotting stage to the labelling worker."""

    event_id: int
    face_id: int
    interval: SpottedInterval
    onset: AlignedFace
    apex: AlignedFace
    evidence: Evidence | None  # read from the blendshape history the spotting stage holds
    motion: MotionContext | None
    decided: float  # time.perf_counter() when the spotter reported it


@dataclass(frozen=True)
class EventResult:
    event: Event
    onset_face: AlignedFace
    apex_face: AlignedFace
    classification: Classification | None


def read_evidence(history: Sequence[Observed], interval: SpottedInterval, fps: float, reading: ReadingOptions,
                  rule: AbstentionRule) -> tuple[Evidence | None, MotionContext | None]:
    """The event's blendshape evidence and the motion around it (None without blendshapes)."""
    window = [h for h in history if h.frame >= interval.onset - round(fps)]
    inside = [i for i, h in enumerate(window) if interval.onset <= h.frame <= interval.offset]
    if not inside:
        return None, None
    event = slice(inside[0], inside[-1] + 1)
    scores = np.stack([h.blendshapes for h in window])
    evidence = build_evidence([h.frame for h in window[event]], scores[event], reading)
    motion = motion_context(np.array([h.pose_deg for h in window]), scores[:, BLENDSHAPE_INDEX["jawOpen"]],
                            np.array([h.confidence for h in window]), event, rule)
    return evidence, motion


def expression_apex(interval: SpottedInterval, evidence: Evidence | None,
                    history: Sequence[Observed]) -> SpottedInterval:
    """The event's apex at the expression's peak when the face's own change reads as an expression.

    The spotter's apex is where the face moves most against the frames around it; the apex of an
    expression is its peak of intensity (MEGC's definition), which is where the blendshapes changed most.
    The two part when something else moves too: in a smile while talking, the mouth moves most as the
    smile is released (testMovie.mp4: the spotter's apex 0.3 s after the smile's peak, its flow onset →
    apex a smile half gone). The classifier's onset → apex flow and the event's apex then show the peak."""
    if evidence is None or evidence.reading == UNCLEAR or evidence.apex_frame == interval.apex:
        return interval
    at = next(h for h in history if h.frame == evidence.apex_frame)
    return replace(interval, apex=at.frame, apex_time=at.timestamp)


def label_event(job: EventJob, classifier: Classifier | None, spec: InputSpec | None,
                rule: AbstentionRule) -> EventResult:
    """TV-L1 flow onset → apex and EPIR (when there is a model), then the label the evidence allows."""
    interval = job.interval
    classification = classifier.classify(job.onset, job.apex, spec) if classifier else None
    model_label = classification.label if classification else None
    probabilities = classification.probabilities if classification else {}
    synthetic = classifier.card.synthetic if classifier else True
    flow = read_flow(classification.model_input.flow, job.onset.landmarks) if classification else None
    verdict = decide(model_label, probabilities, job.evidence, job.motion, rule, synthetic, flow,
                     macro=interval.kind == "macro")
    event = Event(
        event_id=job.event_id, face_id=job.face_id,
        onset_frame=interval.onset, apex_frame=interval.apex, offset_frame=interval.offset,
        onset_time=interval.onset_time, apex_time=interval.apex_time, offset_time=interval.offset_time,
        duration_ms=interval.duration_ms, kind=interval.kind, spot_score=interval.score,
        open_ended=interval.open_ended,
        label=verdict.label, probabilities=probabilities,
        attention=classification.attention if classification else None,
        model_label=model_label, label_reason=verdict.reason, evidence=job.evidence, motion=job.motion,
        flow_reading=flow,
    )
    return EventResult(event, job.onset, job.apex, classification)
