"""Event and per-frame records, and the field names of the files ``analyze`` writes (events.json,
events.csv, frames.csv; written by app.sinks.FolderSink). Field names are stable and documented in
the README.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.abstention import NONE, MotionContext, flow_stands_in, label_text
from app.blendshapes import BLENDSHAPE_NAMES
from app.evidence import Evidence, describe
from app.flow_reading import FlowReading


OTHER_MOTION = "other motion"  # the kind shown for a spotted motion that is not an expression


@dataclass(frozen=True)
class Event:
    event_id: int
    face_id: int
    onset_frame: int  # 0-based frame indices, as decoded
    apex_frame: int
    offset_frame: int
    onset_time: float  # seconds on the source's clock
    apex_time: float
    offset_time: float
    duration_ms: float
    kind: str  # "micro" (onset→offset <= 500 ms) or "macro"
    spot_score: float  # 1.0 at the spotting threshold
    label: str | None = None  # shown label: the model's, "uncertain" or "none" (app.abstention)
    probabilities: dict[str, float] = field(default_factory=dict)  # the model's, always kept
    attention: np.ndarray | None = None  # (h, w) over the model's patch grid
    model_label: str | None = None  # the model's own argmax, whatever ``label`` says
    label_reason: str = ""  # why ``label`` is what it is
    evidence: Evidence | None = None  # blendshape change onset → apex (app.evidence)
    open_ended: bool = False  # still running when the source (or the face track) ended: offset = last frame
    motion: MotionContext | None = None  # head turn, jaw cycles, face confidence around the event (abstention)
    flow_reading: FlowReading | None = None  # what the onset→apex flow shows (app.flow_reading)

    @property
    def expression(self) -> bool:
        """Whether the event is reported as an expression. A motion the abstention judged not to be one
        (label ``none``: a blink, speech, a head movement, a hand) is kept in the files as spotted motion,
        but counted, scored (``evaluate-spotting``) and shown as "other motion", not as an expression."""
        return self.label != NONE

    @property
    def kind_text(self) -> str:
        """The kind a person reads: micro / macro for an expression, "other motion" for anything else."""
        return self.kind if self.expression else OTHER_MOTION

    @property
    def confidence(self) -> float | None:
        """The model's probability of the shown label when the model chose it; None for "uncertain"/"none"
        and for a label the face showed alone (the model's figure for it would read as its support)."""
        return self.probabilities.get(self.label) if self.label and self.label == self.model_label else None

    @property
    def model_confidence(self) -> float | None:
        return self.probabilities.get(self.model_label) if self.model_label else None

    @property
    def label_text(self) -> str:
        """E.g. "uncertain (EPIR: negative 97 %; face: positive)" (app.abstention.label_text)."""
        return label_text(self.label, self.model_label, self.probabilities, self.evidence, self.flow_reading)

    @property
    def evidence_text(self) -> str:
        """E.g. "lip corners up (smile) +0.82, cheeks raised +0.40" (app.evidence.describe)."""
        return describe(self.evidence)

    @property
    def motion_text(self) -> str:
        """What the onset→apex flow read, when the blendshapes read nothing and the flow an emotion (the
        agreement a label may then rest on), e.g. "surprise: brows up +0.031 eye distances"; else ""."""
        f = self.flow_reading
        return f"{f.reading}: {f.text}" if flow_stands_in(self.evidence, f) else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id, "face_id": self.face_id,
            "onset_frame": self.onset_frame, "apex_frame": self.apex_frame, "offset_frame": self.offset_frame,
            "onset_s": round(self.onset_time, 6), "apex_s": round(self.apex_time, 6),
            "offset_s": round(self.offset_time, 6), "duration_ms": round(self.duration_ms, 3),
            "kind": self.kind, "expression": self.expression, "label": self.label, "confidence": _round(self.confidence),
            "model_label": self.model_label, "model_confidence": _round(self.model_confidence),
            "label_reason": self.label_reason,
            "evidence_reading": self.evidence.face_reading if self.evidence else None,
            "evidence_text": self.evidence.text if self.evidence else None,
            "spot_score": round(self.spot_score, 4), "open_ended": self.open_ended,
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "attention": None if self.attention is None else np.round(self.attention, 6).tolist(),
            "evidence": self.evidence.to_json() if self.evidence else None,
            "motion": self.motion.to_json() if self.motion else None,
            "flow_reading": self.flow_reading.to_json() if self.flow_reading else None,
        }


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


EVENT_CSV_FIELDS = ["event_id", "face_id", "onset_frame", "apex_frame", "offset_frame", "onset_s", "apex_s",
                    "offset_s", "duration_ms", "kind", "expression", "label", "confidence", "model_label", "model_confidence",
                    "label_reason", "evidence_reading", "evidence_text", "spot_score",
                    "open_ended"]
# OpenFace's names where the meaning is the same (frame is 1-based there, as here), then ours.
FRAME_CSV_FIELDS = ["frame", "face_id", "face_x", "face_y", "face_w", "face_h", "timestamp", "confidence", "success", "pose_Rx", "pose_Ry", "pose_Rz",
                    "eye_aspect_ratio", "spot_signal", "spot_threshold", *(f"bs_{n}" for n in BLENDSHAPE_NAMES)]


NO_FACE_ID = -1  # frames.csv's face_id on a frame in which no face is tracked (several faces followed)


@dataclass
class FrameRow:
    index: int  # 0-based
    timestamp: float
    face_id: int
    confidence: float
    success: bool
    pose: tuple[float, float, float] | None
    ear: float | None
    signal: float | None = None
    threshold: float | None = None
    blendshapes: np.ndarray | None = None  # (52,) MediaPipe scores; empty cells without a face
    box: tuple[float, float, float, float] | None = None  # x, y, w, h of the face's landmarks, frame pixels

    def to_csv(self) -> list[Any]:
        pose = self.pose or (math.nan, math.nan, math.nan)
        shapes = ([f"{v:.4f}" for v in self.blendshapes] if self.blendshapes is not None
                  else [""] * len(BLENDSHAPE_NAMES))
        box = [f"{v:.1f}" for v in self.box] if self.box is not None else [""] * 4
        return [self.index + 1, self.face_id, *box, f"{self.timestamp:.6f}", f"{self.confidence:.3f}", int(self.success),
                *(_fmt(p) for p in pose), _fmt(self.ear), _fmt(self.signal), _fmt(self.threshold), *shapes]


def _fmt(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.5f}"
