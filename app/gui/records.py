"""What the app keeps from an analysis, without images and without Qt.

The pipeline's results carry full frames and face crops; the window needs far less. Per frame and face it
keeps a few numbers, the landmarks (float16) and the alignment matrix, so a recorded video can be scrubbed
with overlays while its pixels are re-decoded on demand. Per event it keeps small pictures made once,
in the analysis thread. Live sessions keep bounded histories, so hours of live use cannot exhaust memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from app.align import AlignedFace
from app.events import Event, FrameRow
from app.model_card import InputSpec
from app.model_input import onset_apex_flow
from app.pipeline import EventResult, FrameResult
from app.spotting import SpotSample

HOLD_S = 1.0  # an event stays on the face this long after it is shown (with its age: "2.1 s ago")...
FADE_S = 0.8  # ...then fades out over this long, so a past label never sits over a new expression
LIVE_SIGNAL_S = 60.0  # live timeline history
LIVE_EVENTS = 100  # live events kept in the list (about 0.25 MB each with their pictures)
LIVE_MAX_STEP_S = 0.5  # live signals have holes where frames were dropped; only longer ones are gaps


@dataclass(frozen=True)
class FaceRecord:
    """One tracked face in one frame, as drawn."""

    face_id: int
    confidence: float
    bbox: tuple[float, float, float, float]  # x, y, w, h in frame pixels
    landmarks: np.ndarray  # (478, 2) float16, frame pixels
    matrix: np.ndarray  # (2, 3) frame → aligned crop

    @property
    def crop_to_frame(self) -> np.ndarray:
        """(2, 3) aligned crop → frame: maps anything drawn on the crop (attention) onto this frame."""
        return cv2.invertAffineTransform(self.matrix)

    def contains(self, x: float, y: float) -> bool:
        bx, by, bw, bh = self.bbox
        return bx <= x <= bx + bw and by <= y <= by + bh


@dataclass(frozen=True)
class FrameRecord:
    index: int
    timestamp: float
    faces: tuple[FaceRecord, ...]  # in id order
    latency_ms: float  # time the pipeline spent on this frame
    rows: tuple[FrameRow, ...] = ()  # frames.csv's rows of this frame (recorded videos: for export)

    @classmethod
    def from_result(cls, result: FrameResult, keep_rows: bool = True) -> "FrameRecord":
        faces = tuple(FaceRecord(f.face_id, f.face.confidence, f.face.bbox, f.face.landmarks[:, :2].astype(np.float16),
                                 f.aligned.matrix.copy()) for f in result.faces)
        return cls(result.frame.index, result.frame.timestamp, faces, float(sum(result.timings_ms.values())),
                   tuple(result.rows()) if keep_rows else ())

    @property
    def face(self) -> bool:
        """Whether any face was tracked in this frame."""
        return bool(self.faces)

    def face_at(self, x: float, y: float) -> int | None:
        """The id of the face whose box holds the frame point (x, y)."""
        return next((f.face_id for f in self.faces if f.contains(x, y)), None)


@dataclass(frozen=True)
class EventView:
    """An event and the pictures that explain it (RGB uint8), made in the analysis thread."""

    event: Event
    crop: np.ndarray  # (S, S, 3) onset face crop
    flow: np.ndarray  # (S, S, 3) onset→apex flow, hue = direction, brightness = magnitude
    attention: np.ndarray | None  # (S, S, 3) attention over the crop, None without a model
    heat: np.ndarray | None  # (S, S, 4) RGBA heat map drawn on the face in the video
    thumbnail: np.ndarray  # (T, T, 3) apex crop
    shown_at: float  # source time from which it is drawn at full strength

    @classmethod
    def from_result(cls, result: EventResult, spec: InputSpec, now: float | None = None) -> "EventView":
        """``now``: live, the source time when the event was found (spotting reports it seconds after its
        offset; the fade starts when the user first sees it). Recordings: None, drawn from its offset."""
        c = result.classification
        flow = c.model_input.flow if c else onset_apex_flow(result.onset_face, result.apex_face, spec)
        crop = _grey_rgb(result.onset_face)
        attention = heat = None
        if c is not None:
            norm = c.attention_crop / max(float(c.attention_crop.max()), 1e-12)
            coloured = cv2.cvtColor(cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_INFERNO),
                                    cv2.COLOR_BGR2RGB)
            attention = cv2.addWeighted(crop, 0.35, coloured, 0.65, 0)
            heat = np.dstack([coloured, (np.clip(norm, 0, 1) ** 0.7 * 190).astype(np.uint8)])
        thumb = cv2.resize(_grey_rgb(result.apex_face), (64, 64), interpolation=cv2.INTER_AREA)
        shown_at = result.event.offset_time if now is None else max(now, result.event.offset_time)
        return cls(result.event, crop, flow_to_rgb(flow), attention, heat, thumb, shown_at)

    def opacity(self, now: float) -> float:
        """How strongly the event is drawn on the face at source time ``now`` (1 → 0 while fading)."""
        e = self.event
        if now < e.onset_time or now > self.shown_at + HOLD_S + FADE_S:
            return 0.0
        return min(1.0, 1.0 - (now - self.shown_at - HOLD_S) / FADE_S)


def _grey_rgb(face: AlignedFace) -> np.ndarray:
    return cv2.cvtColor(face.image, cv2.COLOR_GRAY2RGB)


def flow_to_rgb(flow: np.ndarray, full_scale_px: float | None = None) -> np.ndarray:
    """The usual flow colour code: hue = direction, brightness = magnitude (scaled to the maximum)."""
    magnitude, angle = cv2.cartToPolar(flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32))
    scale = full_scale_px or max(float(np.percentile(magnitude, 99)), 1e-6)
    hsv = np.zeros(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = (angle * 90 / np.pi).astype(np.uint8)  # OpenCV hue is 0..179
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / scale * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


@dataclass(frozen=True)
class Gap:
    """A stretch of the timeline without a spotting signal, and why."""

    start: float
    end: float
    reason: str  # "no face", "paused", "start of clip", "end of clip", "warming up", "frames dropped"


@dataclass
class ProgressInfo:
    processed: int = 0
    dropped: int = 0
    fps: float = 0.0  # frames analysed per second, recent
    latency_ms: float = 0.0  # frame arrival → its result, recent (smoothed)
    done: bool = False
    no_face: int = 0  # frames analysed without a face
    label_delay_p95_ms: float | None = None  # spotter decision → label, 95th percentile over this run


@dataclass
class Batch:
    """Results handed from the analysis thread to the window in one signal."""

    frames: list[FrameRecord] = field(default_factory=list)
    samples: list[SpotSample] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)
    progress: ProgressInfo = field(default_factory=ProgressInfo)

    def __bool__(self) -> bool:
        return bool(self.frames or self.samples or self.events or self.progress.done)


class AnalysisStore:
    """Everything the window shows about one source. ``live`` bounds every history."""

    def __init__(self, fps: float, live: bool, max_faces: int = 1):
        self.fps, self.live = fps, live
        self.frames: list[FrameRecord] | deque[FrameRecord] = deque(maxlen=1) if live else []
        self.samples: deque[SpotSample] = deque(maxlen=int(LIVE_SIGNAL_S * fps) * max_faces if live else None)
        self.events: deque[EventView] = deque(maxlen=LIVE_EVENTS if live else None)
        self.marks: deque[float] = deque(maxlen=100)
        self.progress = ProgressInfo()
        self._signal: dict[tuple[int, int], SpotSample] = {}  # recorded videos: (frame, face) → sample, for export
        self.face_ids: set[int] = set()  # every face seen
        self.no_face: deque[list[float]] = deque(maxlen=200)  # [start, end] of runs of frames without a face
        self.pauses: deque[tuple[float, float]] = deque(maxlen=100)  # live: (last time before, first after)
        self.first_time: float | None = None
        self.last_time: float | None = None

    def add(self, batch: Batch) -> None:
        for f in batch.frames:
            if self.first_time is None:
                self.first_time = f.timestamp
            self.face_ids.update(face.face_id for face in f.faces)
            if not f.face:
                if self.no_face and self.no_face[-1][1] == self.last_time:
                    self.no_face[-1][1] = f.timestamp
                else:
                    self.no_face.append([f.timestamp, f.timestamp])
            self.last_time = f.timestamp
        self.frames.extend(batch.frames)
        self.samples.extend(batch.samples)
        self.events.extend(batch.events)
        if not self.live:
            self._signal.update(((s.frame, s.face_id), s) for s in batch.samples)
        self.progress = replace(batch.progress)

    @property
    def latest(self) -> FrameRecord | None:
        return self.frames[-1] if self.frames else None

    def record(self, index: int) -> FrameRecord | None:
        """The record of frame ``index`` of a recorded video, if analysed."""
        return self.frames[index] if not self.live and 0 <= index < len(self.frames) else None

    def index_at(self, seconds: float) -> int:
        """The analysed frame nearest to a time on the source clock (recorded videos)."""
        if not self.frames:
            return 0
        times = np.fromiter((f.timestamp for f in self.frames), float, len(self.frames))
        i = int(np.searchsorted(times, seconds))
        if i > 0 and (i == len(times) or seconds - times[i - 1] < times[i] - seconds):
            i -= 1
        return int(self.frames[min(i, len(times) - 1)].index)

    def signal_arrays(self, face_id: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Times, values and thresholds of one face's spotting signal."""
        s = [x for x in self.samples if x.face_id == face_id]
        return (np.fromiter((x.timestamp for x in s), float, len(s)), np.fromiter((x.value for x in s), float, len(s)),
                np.fromiter((x.threshold for x in s), float, len(s)))

    @property
    def max_step_s(self) -> float:
        """Samples further apart than this leave a gap: 2.5 frames, or ``LIVE_MAX_STEP_S`` live."""
        return LIVE_MAX_STEP_S if self.live else 2.5 / self.fps

    def gaps(self) -> list[Gap]:
        """Where the timeline has no signal, each with its reason; the signal line breaks there. The
        spotting signal covers every frame with a face (its windows are clipped at the ends of a face
        track), so gaps come from frames without a face, pauses, dropped frames, or a clip still running."""
        times = np.unique(np.fromiter((x.timestamp for x in self.samples), float, len(self.samples)))
        if self.first_time is None:
            return []
        step = self.max_step_s
        spans: list[tuple[float, float, str]] = []
        if not len(times):
            spans.append((self.first_time, self.last_time, "start of clip"))
        else:
            if times[0] - self.first_time > step and not self.live:
                spans.append((self.first_time, float(times[0]), "start of clip"))
            jumps = np.flatnonzero(np.diff(times) > step)
            inside = "frames dropped" if self.live else "warming up"  # live: the analysis fell behind
            spans += [(float(times[i]), float(times[i + 1]), inside) for i in jumps]
            if self.progress.done and self.last_time - times[-1] > step:
                spans.append((float(times[-1]), self.last_time, "end of clip"))
        return [Gap(a, b, self._reason(a, b, why)) for a, b, why in spans if b > a]

    def _reason(self, start: float, end: float, otherwise: str) -> str:
        def overlaps(a: float, b: float) -> bool:
            return min(b, end) >= max(a, start)

        if any(overlaps(a, b) for a, b in self.no_face):
            return "no face"
        if any(overlaps(a, b) for a, b in self.pauses):
            return "paused"
        return otherwise

    def sample_at(self, index: int, face_id: int = 0) -> SpotSample | None:
        """A face's spotting signal at frame ``index`` of a recorded video, once known."""
        return self._signal.get((index, face_id))

    def candidate(self) -> bool:
        """The latest signal is above its threshold: an event may be under way."""
        return bool(self.samples) and self.samples[-1].value > self.samples[-1].threshold

    def visible_events(self, now: float) -> list[tuple[EventView, float]]:
        """Events drawn on the face at source time ``now``, with their opacity."""
        return [(e, a) for e in self.events if (a := e.opacity(now)) > 0]

    def frame_rows(self) -> list[FrameRow]:
        """Per-frame rows for ``frames.csv``, as ``analyze`` writes them (recorded videos; live keeps none)."""
        if self.live:
            return []
        rows = []
        for f in self.frames:
            for row in f.rows:
                s = self._signal.get((row.index, row.face_id))
                rows.append(replace(row, signal=s.value, threshold=s.threshold) if s else row)
        return rows


def default_display_spec(spec: InputSpec | None, flow_method: str | None) -> InputSpec:
    """Input spec for showing the onset→apex flow when there is no model: the fast flow."""
    return spec or InputSpec(flow_method=flow_method or "dis")
