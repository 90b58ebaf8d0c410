"""Typed records of a stored session, as the review side and the report read them back."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from app.abstention import MotionContext
from app.events import Event
from app.evidence import Evidence
from app.flow_reading import FlowReading
from app.model_card import ModelCard

STATUSES = ("recording", "paused", "finished", "interrupted")


@dataclass(frozen=True)
class SourceRecord:
    kind: str  # "camera" | "file" | "folder"
    name: str  # path, or "camera 0"
    fps: float
    width: int
    height: int


@dataclass(frozen=True)
class ModelRecord:
    """The model a session was analysed with, enough to tell later exactly which file it was."""

    card: ModelCard
    path: str
    sha256: str
    provider: str

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def version(self) -> str:
        return self.card.version


@dataclass(frozen=True)
class SessionInfo:
    """One row of the session list."""

    id: int
    label: str
    started_at: datetime  # timezone-aware (UTC)
    ended_at: datetime | None
    status: str  # one of STATUSES
    source: SourceRecord
    settings: dict[str, Any]
    model: ModelRecord | None
    software: str
    folder: Path  # LIBRARY/sessions/<id>/: recorded video and other files of this session
    video_path: Path | None  # inside ``folder`` when the video was recorded
    event_count: int
    marker_count: int
    last_timestamp: float | None  # source-clock time of the last stored frame
    problem: str | None = None  # why the stored row could not be read completely (a damaged row)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.model.card.classes if self.model else ()


@dataclass(frozen=True)
class Marker:
    id: int
    t: float  # seconds on the source clock
    frame: int | None  # 0-based frame index at that time
    label: str
    note: str
    kind: str = "user"  # "user", or "pause"/"resume" written by the recorder
    created_at: datetime | None = None


@dataclass(frozen=True)
class Note:
    id: int
    created_at: datetime
    text: str


@dataclass(frozen=True)
class StoredEvent:
    """An event as committed, with the small pictures made when it was spotted (PNG bytes) if any."""

    event: Event
    onset_png: bytes | None = None
    attention_png: bytes | None = None


@dataclass(frozen=True)
class Signal:
    """The per-frame rows of a session as arrays (NaN where undefined), in frame order: one row per face
    and frame (``face_id``; -1 on a frame in which no face was tracked)."""

    frame: np.ndarray  # int64, 0-based
    timestamp: np.ndarray
    value: np.ndarray  # spotting signal, pixels on the aligned crop
    threshold: np.ndarray
    success: np.ndarray  # bool: a face was tracked
    confidence: np.ndarray
    face_id: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def face_ids(self) -> list[int]:
        """The faces that were tracked, in id order."""
        return sorted(int(i) for i in np.unique(self.face_id[self.success]))

    def of(self, face_id: int) -> "Signal":
        """The rows of one face."""
        keep = self.face_id == face_id
        return Signal(*(getattr(self, f.name)[keep] for f in fields(self)))

    def frame_counts(self) -> tuple[int, int]:
        """(frames, frames without any face)."""
        frames = np.unique(self.frame)
        return len(frames), len(frames) - len(np.unique(self.frame[self.success]))


@dataclass(frozen=True)
class Session:
    info: SessionInfo
    events: list[StoredEvent]
    markers: list[Marker]
    notes: list[Note]
    signal: Signal = field(repr=False)


def event_from_json(record: dict[str, Any]) -> Event:
    """The inverse of ``Event.to_json`` (the stored form of an event)."""
    attention = record.get("attention")
    return Event(
        event_id=record["event_id"], face_id=record["face_id"],
        onset_frame=record["onset_frame"], apex_frame=record["apex_frame"], offset_frame=record["offset_frame"],
        onset_time=record["onset_s"], apex_time=record["apex_s"], offset_time=record["offset_s"],
        duration_ms=record["duration_ms"], kind=record["kind"], spot_score=record["spot_score"],
        open_ended=bool(record.get("open_ended", False)),
        label=record.get("label"), probabilities=dict(record.get("probabilities") or {}),
        attention=None if attention is None else np.asarray(attention, np.float64),
        # Stored before the evidence channel: the label was the model's, and there is no evidence.
        model_label=record.get("model_label", record.get("label")), label_reason=record.get("label_reason", ""),
        evidence=Evidence.from_json(record["evidence"]) if record.get("evidence") else None,
        motion=MotionContext.from_json(record["motion"]) if record.get("motion") else None,
        flow_reading=FlowReading.from_json(record["flow_reading"]) if record.get("flow_reading") else None,
    )


def utc(epoch: float) -> datetime:
    """A stored time (seconds since the epoch) as an aware datetime."""
    return datetime.fromtimestamp(epoch, timezone.utc)
