"""The streaming analysis engine: source → face → alignment → spotting → flow → classifier.

One object serves both uses. For files every frame is processed in order. For live sources a capture
thread keeps only the newest frame (a bounded queue of one): when analysis falls behind, stale frames
are dropped and counted instead of building a backlog, and capture never waits for analysis.
Results are typed dataclasses; nothing here knows about Qt or torch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from app.abstention import AbstentionRule, decide, motion_context
from app.align import AlignedFace, AlignmentTemplate, align_face
from app.blendshapes import BLENDSHAPE_INDEX
from app.evidence import ReadingOptions, build_evidence
from app.classifier import Classification, Classifier
from app.events import Event, FrameRow
from app.face import FaceObservation, FaceTracker, FaceTrackerOptions, RunningMode
from app.pose import HeadPose, estimate_head_pose
from app.regions import eye_aspect_ratio
from app.sources import Frame, VideoSource
from app.spotting import SpotSample, Spotter, SpottingOptions

STAGES = ("face", "align", "spot", "classify")


@dataclass(frozen=True)
class PipelineOptions:
    spotting: SpottingOptions = field(default_factory=SpottingOptions)
    flow_method: str | None = None  # overrides the model's flow method for classification
    max_faces: int = 1
    reading: ReadingOptions = field(default_factory=ReadingOptions)
    abstention: AbstentionRule = field(default_factory=AbstentionRule)


@dataclass(frozen=True)
class FrameResult:
    frame: Frame
    face: FaceObservation | None
    aligned: AlignedFace | None
    pose: HeadPose | None
    ear: float | None
    timings_ms: dict[str, float]  # per stage (STAGES); they add up to the frame's cost
    face_parts_ms: dict[str, float] = field(default_factory=dict)  # inside "face": mesh, detector, blendshapes

    def row(self) -> FrameRow:
        """The per-frame record (a row of frames.csv; its spotting signal is filled in later)."""
        face, pose = self.face, self.pose
        return FrameRow(self.frame.index, self.frame.timestamp, 0, face.confidence if face else 0.0,
                        face is not None, (pose.pitch, pose.yaw, pose.roll) if pose else None, self.ear,
                        blendshapes=face.blendshapes if face else None)


@dataclass(frozen=True)
class EventResult:
    event: Event
    onset_face: AlignedFace
    apex_face: AlignedFace
    classification: Classification | None


Result = FrameResult | SpotSample | EventResult


@dataclass
class PipelineStats:
    processed: int = 0
    dropped: int = 0
    no_face: int = 0
    events: int = 0


class Pipeline:
    def __init__(self, fps: float, options: PipelineOptions | None = None, classifier: Classifier | None = None):
        self.options = options or PipelineOptions()
        self.fps = fps
        self.classifier = classifier
        self.spec = None
        if classifier is not None:
            self.spec = classifier.card.input
            if self.options.flow_method:
                self.spec = replace(self.spec, flow_method=self.options.flow_method)
        self.template = self.spec.template() if self.spec else AlignmentTemplate()
        self.tracker = FaceTracker(FaceTrackerOptions(mode=RunningMode.VIDEO, max_faces=self.options.max_faces))
        self.spotter = Spotter(fps, self.options.spotting)
        keep = 2 * self.spotter.max_event + self.spotter.event_delay_frames + 8
        self._faces: deque[tuple[int, AlignedFace]] = deque(maxlen=keep)
        # Per face frame, for the evidence and the abstention: index, blendshapes, pose (degrees), confidence.
        self._history: deque[tuple[int, np.ndarray, tuple[float, float, float], float]] = deque(
            maxlen=keep + int(round(fps)))
        self._next_event_id = 1
        self.stats = PipelineStats()

    def close(self) -> None:
        self.tracker.close()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reset(self) -> None:
        """After a seek: forget tracking and spotting state."""
        self.tracker.reset()
        self.spotter.reset()
        self._faces.clear()
        self._history.clear()

    def process(self, frame: Frame) -> list[Result]:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        face = self.tracker.detect(frame.image)
        timings["face"] = _ms(t0)
        parts = dict(self.tracker.timings_ms)
        results: list[Result] = []
        self.stats.processed += 1
        if face is None:
            self.stats.no_face += 1
            if self._faces:  # continuity is broken: whatever was in flight cannot be completed
                self.spotter.reset()
                self._faces.clear()
                self._history.clear()
            results.append(FrameResult(frame, None, None, None, None, timings, parts))
            return results
        t0 = time.perf_counter()
        aligned = align_face(frame.image, face.landmarks, self.template)
        pose = estimate_head_pose(face.landmarks)
        ear = eye_aspect_ratio(face.landmarks)
        timings["align"] = _ms(t0)
        self._faces.append((frame.index, aligned))
        if face.blendshapes is not None:
            degrees = tuple(np.degrees((pose.pitch, pose.yaw, pose.roll)))
            self._history.append((frame.index, face.blendshapes, degrees, face.confidence))
        t0 = time.perf_counter()
        samples, intervals = self.spotter.push(frame.index, frame.timestamp, aligned, ear)
        timings["spot"] = _ms(t0)
        results.append(FrameResult(frame, face, aligned, pose, ear, timings, parts))
        results.extend(samples)
        t0 = time.perf_counter()
        results.extend(self._event(interval) for interval in intervals)
        if intervals:
            timings["classify"] = _ms(t0)
        return results

    def finish(self) -> list[Result]:
        """End of the source: the last frames' signal, and any event still in progress."""
        samples, intervals = self.spotter.flush()
        return [*samples, *(self._event(interval) for interval in intervals)]

    def _event(self, interval) -> EventResult:
        faces = dict(self._faces)
        onset, apex = faces[interval.onset], faces[interval.apex]
        classification = self.classifier.classify(onset, apex, self.spec) if self.classifier else None
        evidence, motion = self._evidence(interval)
        model_label = classification.label if classification else None
        probabilities = classification.probabilities if classification else {}
        synthetic = self.classifier.card.synthetic if self.classifier else True
        verdict = decide(model_label, probabilities, evidence, motion, self.options.abstention, synthetic)
        event = Event(
            event_id=self._next_event_id, face_id=0,
            onset_frame=interval.onset, apex_frame=interval.apex, offset_frame=interval.offset,
            onset_time=interval.onset_time, apex_time=interval.apex_time, offset_time=interval.offset_time,
            duration_ms=interval.duration_ms, kind=interval.kind, spot_score=interval.score,
            label=verdict.label, probabilities=probabilities,
            attention=classification.attention if classification else None,
            model_label=model_label, label_reason=verdict.reason, evidence=evidence,
        )
        self._next_event_id += 1
        self.stats.events += 1
        return EventResult(event, onset, apex, classification)

    def _evidence(self, interval):
        """The event's blendshape evidence and the motion around it (None without blendshapes)."""
        window = [h for h in self._history if h[0] >= interval.onset - round(self.fps)]
        inside = [i for i, h in enumerate(window) if interval.onset <= h[0] <= interval.offset]
        if not inside:
            return None, None
        event = slice(inside[0], inside[-1] + 1)
        scores = np.stack([h[1] for h in window])
        evidence = build_evidence([h[0] for h in window[event]], scores[event], self.options.reading)
        motion = motion_context(np.array([h[2] for h in window]), scores[:, BLENDSHAPE_INDEX["jawOpen"]],
                                np.array([h[3] for h in window]), event, self.options.abstention)
        return evidence, motion

    def run(self, source: VideoSource, stop: threading.Event | None = None, live: bool | None = None) -> Iterator[Result]:
        """Analyse a whole source. ``live`` (default: the source's own) drops stale frames."""
        stop = stop or threading.Event()
        frames = _latest_frames(source, stop, self.stats) if (source.info.live if live is None else live) else source.frames()
        try:
            for frame in frames:
                if stop.is_set():
                    break
                yield from self.process(frame)
            yield from self.finish()
        finally:
            stop.set()
            frames.close()


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


_END = object()


def _latest_frames(source: VideoSource, stop: threading.Event, stats: PipelineStats) -> Iterator[Frame]:
    """Frames from a capture thread through a one-slot queue; older frames are dropped, never queued."""
    slot: queue.Queue = queue.Queue(maxsize=1)

    def offer(item) -> None:
        while True:
            try:
                slot.put_nowait(item)
                return
            except queue.Full:
                try:
                    slot.get_nowait()
                    if item is not _END and not isinstance(item, BaseException):
                        stats.dropped += 1
                except queue.Empty:
                    pass

    def capture() -> None:
        try:
            for frame in source.frames():
                if stop.is_set():
                    break
                offer(frame)
        except BaseException as exc:  # handed to the consumer, which re-raises it in its own thread
            offer(exc)
            return
        offer(_END)

    thread = threading.Thread(target=capture, name="epir-capture", daemon=True)
    thread.start()
    try:
        while not stop.is_set():
            try:  # a timeout, so that a camera that hangs in grab() cannot keep us from stopping
                item = slot.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=2.0)
