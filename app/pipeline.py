"""The streaming analysis engine: source → face → alignment → spotting → flow → classifier.

``run`` spreads the work over the cores as threads joined by bounded channels: capture (decoding),
face (MediaPipe mesh, blendshapes, track ids), spotting (alignment, pose, DIS flows), and labelling
(``app.labelling``: TV-L1 + EPIR and the abstention) in a worker of its own; OpenCV, MediaPipe and ONNX
Runtime release the GIL, so the stages really overlap.
Each stage runs the same methods, in the same order, as ``process`` does serially, so the results are
those of a serial run. Frame results come out in frame order. For files every frame is processed and a
full channel makes its producer wait; for live sources capture never waits for analysis: a frame that
waited for the face stage longer than ``live_backlog_s`` while a newer one waits is dropped (counted),
as is the oldest frame of a full capture channel. An event is labelled off the frame path: for
files it comes out where the serial run puts it; live, as soon as it is labelled, events in order.
Up to ``max_faces`` faces are followed, each under a stable id (``app.face_tracks``) with its own
alignment, spotting state, evidence and events; a frame without one face breaks only that face's
continuity. Results are typed dataclasses; nothing here knows about Qt or torch.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from app.abstention import AbstentionRule
from app.align import AlignedFace, AlignmentTemplate, align_face
from app.channel import END, Channel, start_stage
from app.classifier import Classifier
from app.evidence import ReadingOptions
from app.events import NO_FACE_ID, FrameRow
from app.face import FaceObservation, FaceTracker, FaceTrackerOptions, RunningMode
from app.face_tracks import FaceTracks, TrackedFaces, TrackOptions
from app.labelling import EventJob, EventResult, Observed, expression_apex, label_event, read_evidence
from app.live_figures import LiveFigures
from app.pose import HeadPose, estimate_head_pose
from app.regions import eye_aspect_ratio
from app.sources import Frame, VideoSource
from app.spotting import SpotSample, SpottedInterval, Spotter, SpottingOptions

STAGES = ("face", "align", "spot")  # per-frame timings; labelling is per event, off the frame path
# Files: how far each stage may run ahead of the next (a frame makes about two results). Live: a frame
# waits only at the face stage's door, where it may be dropped; further on, channels are short.
_QUEUED = {False: (8, 256), True: (2, 16)}  # live → (tracked frames, results)
CLASSIFY_NICE = 5  # the labelling thread gives way to the frame path (Linux: added to one thread's nice value)


@dataclass(frozen=True)
class PipelineOptions:
    spotting: SpottingOptions = field(default_factory=SpottingOptions)
    flow_method: str | None = None  # overrides the model's flow method for classification
    max_faces: int = 1  # faces followed at once, each with its own id (1: the largest face, id 0)
    reading: ReadingOptions = field(default_factory=ReadingOptions)
    abstention: AbstentionRule = field(default_factory=AbstentionRule)
    live_backlog_s: float = 0.25  # live: a frame that waited longer for the face stage is dropped if a newer one waits
    stage_threads: bool = True  # False: ``run`` on the calling thread (batch workers, one core each)


@dataclass(frozen=True)
class FaceResult:
    """One tracked face in one frame (``face.face_id`` is its track id)."""

    face: FaceObservation
    aligned: AlignedFace
    pose: HeadPose
    ear: float

    @property
    def face_id(self) -> int:
        return self.face.face_id


@dataclass(frozen=True)
class FrameResult:
    frame: Frame
    faces: tuple[FaceResult, ...]  # in id order; empty when no face was found
    missing: tuple[int, ...]  # living face tracks whose face is not in this frame
    timings_ms: dict[str, float]  # per stage (STAGES), all faces together; they add up to the frame's cost
    face_parts_ms: dict[str, float] = field(default_factory=dict)  # inside "face": mesh, detector, blendshapes
    arrived: float = 0.0  # time.perf_counter() when the source delivered the frame
    ended: tuple[int, ...] = ()  # face tracks that ended here (absent too long)

    def rows(self) -> list[FrameRow]:
        """The frame's rows of frames.csv (their spotting signal is filled in later): one per face in
        view and per living track missing here (success 0); one with ``NO_FACE_ID`` when nobody is tracked."""
        index, t = self.frame.index, self.frame.timestamp
        rows = [FrameRow(index, t, f.face_id, f.face.confidence, True, (f.pose.pitch, f.pose.yaw, f.pose.roll),
                         f.ear, blendshapes=f.face.blendshapes, box=f.face.bbox) for f in self.faces]
        rows += [FrameRow(index, t, i, 0.0, False, None, None) for i in self.missing]
        return sorted(rows, key=lambda r: r.face_id) or [FrameRow(index, t, NO_FACE_ID, 0.0, False, None, None)]


Result = FrameResult | SpotSample | EventResult


@dataclass(frozen=True)
class _Detected:
    """A frame's faces as the face thread found them, before alignment."""

    frame: Frame
    tracked: TrackedFaces
    face_ms: float
    parts: dict[str, float]  # the face tracker's own timings (mesh, detector, blendshapes)
    arrived: float


@dataclass(frozen=True)
class _PendingEvent:
    job: EventJob
    future: Future


class _FaceState:
    """What the spotting stage keeps per face track: its spotter, recent aligned crops and, per frame
    with blendshapes, what the evidence and the abstention read (``Observed``)."""

    def __init__(self, fps: float, spotter: Spotter):
        self.spotter = spotter
        keep = 2 * self.spotter.max_event + self.spotter.event_delay_frames + 8
        self.faces: deque[tuple[int, AlignedFace]] = deque(maxlen=keep)
        self.history: deque[Observed] = deque(maxlen=keep + int(round(fps)))
        self.last_seen = 0.0  # source time of the face's last frame


@dataclass
class PipelineStats:
    processed: int = 0
    dropped: int = 0
    no_face: int = 0
    events: int = 0
    live: LiveFigures = field(default_factory=LiveFigures.empty)


class Pipeline:
    def __init__(self, fps: float, options: PipelineOptions | None = None, classifier: Classifier | None = None,
                 spotter: Callable[[float, SpottingOptions], Spotter] = Spotter):
        """``spotter`` makes each face track's spotter (the spotting benchmark records their signal)."""
        self.options = options or PipelineOptions()
        self._new_spotter = spotter
        self.fps = fps
        self.classifier = classifier
        self.spec = None
        if classifier is not None:
            self.spec = classifier.card.input
            if self.options.flow_method:
                self.spec = replace(self.spec, flow_method=self.options.flow_method)
        self.template = self.spec.template() if self.spec else AlignmentTemplate()
        self.tracker = FaceTracker(FaceTrackerOptions(mode=RunningMode.VIDEO, max_faces=self.options.max_faces))
        self.tracks = FaceTracks(TrackOptions(max_faces=self.options.max_faces))
        self._states: dict[int, _FaceState] = {}  # per face track, created when its face first shows
        self._next_event_id = 1
        self.stats = PipelineStats()
        self._drop_lock = threading.Lock()  # capture and face threads both drop live frames

    def close(self) -> None:
        self.tracker.close()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reset(self) -> None:
        """After a seek: forget tracking and spotting state."""
        self.tracker.reset()
        self.tracks.reset()
        self._states.clear()

    # The stages. ``process`` and ``finish`` chain them serially; ``run`` gives each its own thread.

    def process(self, frame: Frame) -> list[Result]:
        """One frame, serially: its frame result, the signal it completes, and events (labelled)."""
        results = self._spot(self._track(frame, time.perf_counter()))
        return [self._classify(r) if isinstance(r, EventJob) else r for r in results]

    def finish(self) -> list[Result]:
        """End of the source: the last frames' signal, and any event still in progress."""
        return [self._classify(r) if isinstance(r, EventJob) else r for r in self._flush_all()]

    def _run_serially(self, source: VideoSource, stop: threading.Event) -> Iterator[Result]:
        """A file on one thread: the same results as the threaded run (``process`` chains the same stages)."""
        for frame in source.frames():
            if stop.is_set():
                break
            yield from self.process(frame)
        yield from self.finish()

    def _track(self, frame: Frame, arrived: float) -> FrameResult:
        """Face stage: the faces of one frame with their track ids, each aligned, with head pose and eye
        aspect ratio."""
        return self._align(self._detect(frame, arrived))

    def _detect(self, frame: Frame, arrived: float) -> _Detected:
        """The face stage's first part (the face thread's work): faces found and matched to their tracks."""
        t0 = time.perf_counter()
        tracked = self.tracks.update(frame.timestamp, self.tracker.detect_all(frame.image))
        return _Detected(frame, tracked, _ms(t0), dict(self.tracker.timings_ms), arrived)

    def _align(self, d: _Detected) -> FrameResult:
        """The face stage's second part, run on the spotting thread: the face thread, with the face mesh
        and the blendshapes, is the threaded pipeline's slowest stage."""
        timings = {"face": d.face_ms}
        tracked, frame = d.tracked, d.frame
        if not tracked.faces:
            return FrameResult(frame, (), tracked.missing, timings, d.parts, d.arrived, tracked.ended)
        t0 = time.perf_counter()
        faces = tuple(FaceResult(face, align_face(frame.image, face.landmarks, self.template),
                                 estimate_head_pose(face.landmarks), eye_aspect_ratio(face.landmarks))
                      for face in tracked.faces)
        timings["align"] = _ms(t0)
        return FrameResult(frame, faces, tracked.missing, timings, d.parts, d.arrived, tracked.ended)

    def _spot(self, tracked: FrameResult) -> list[FrameResult | SpotSample | EventJob]:
        """Spotting stage: the frame result, then, face by face in id order, the samples and the events
        this frame completes; a face missing for longer than ``SpottingOptions.bridge_ms`` ends its
        spotting track (its last frames' signal and its events in progress come out)."""
        self.stats.processed += 1
        self.stats.no_face += not tracked.faces
        out: list[FrameResult | SpotSample | EventJob] = [tracked]
        for face_id in tracked.ended:  # flushed when first missed, unless the clock jumped past its 2 s
            state = self._states.pop(face_id, None)
            if state is not None and state.faces:
                out += self._flush(face_id, state)
        present = {f.face_id: f for f in tracked.faces}
        t0 = time.perf_counter()
        for face_id in sorted((*present, *tracked.missing)):
            face = present.get(face_id)
            if face is None:  # a detector miss of a few frames is bridged: the windows run on timestamps
                state = self._states.get(face_id)
                bridge = self.options.spotting.bridge_ms / 1000
                if state is not None and state.faces and tracked.frame.timestamp - state.last_seen > bridge:
                    out += self._flush(face_id, state)
                    state.faces.clear()
                    state.history.clear()
                continue
            state = self._states.get(face_id)
            if state is None:
                state = self._states[face_id] = _FaceState(self.fps, self._new_spotter(self.fps, self.options.spotting))
            out += self._push(tracked.frame, face, state)
        if tracked.faces:
            tracked.timings_ms["spot"] = _ms(t0)
        return out

    def _push(self, frame: Frame, tracked: FaceResult, state: _FaceState) -> list[SpotSample | EventJob]:
        face, pose = tracked.face, tracked.pose
        state.faces.append((frame.index, tracked.aligned))
        state.last_seen = frame.timestamp
        if face.blendshapes is not None:
            degrees = tuple(np.degrees((pose.pitch, pose.yaw, pose.roll)))
            state.history.append(Observed(frame.index, frame.timestamp, face.blendshapes, degrees, face.confidence))
        samples, intervals = state.spotter.push(frame.index, frame.timestamp, tracked.aligned, tracked.ear)
        return self._outputs(tracked.face_id, state, samples, intervals)

    def _flush(self, face_id: int, state: _FaceState) -> list[SpotSample | EventJob]:
        """The spotter's end of a face track (the source ended, or the face was lost): the last frames'
        signal, and every event in progress."""
        return self._outputs(face_id, state, *state.spotter.flush())

    def _flush_all(self) -> list[SpotSample | EventJob]:
        """End of the source: every face track's end, in id order."""
        return [item for face_id, state in sorted(self._states.items()) for item in self._flush(face_id, state)]

    def _outputs(self, face_id: int, state: _FaceState, samples: list[SpotSample],
                 intervals: list[SpottedInterval]) -> list[SpotSample | EventJob]:
        if face_id:
            samples = [replace(s, face_id=face_id) for s in samples]
        return [*samples, *(self._job(face_id, state, interval) for interval in intervals)]

    def _job(self, face_id: int, state: _FaceState, interval: SpottedInterval) -> EventJob:
        o = self.options
        evidence, motion = read_evidence(state.history, interval, self.fps, o.reading, o.abstention)
        interval = expression_apex(interval, evidence, state.history)
        faces = dict(state.faces)
        job = EventJob(self._next_event_id, face_id, interval, faces[interval.onset], faces[interval.apex],
                       evidence, motion, time.perf_counter())
        self._next_event_id += 1
        self.stats.events += 1
        return job

    def _classify(self, job: EventJob) -> EventResult:
        """Labelling stage: TV-L1 flow onset → apex and EPIR, off the frame path in ``run``."""
        return label_event(job, self.classifier, self.spec, self.options.abstention)

    def run(self, source: VideoSource, stop: threading.Event | None = None, live: bool | None = None) -> Iterator[Result]:
        """Analyse a whole source on several threads. ``live`` (default: the source's own) drops the
        oldest waiting frames rather than let capture wait, and records the live figures in ``stats``.

        ``stop`` ends the source, as its end would: the frames already tracked are spotted, the last
        frames' signal and any event in progress come out, and every spotted event is labelled. Closing
        the iterator early abandons all of that at once."""
        stop = stop or threading.Event()
        if not self.options.stage_threads and not (source.info.live if live is None else live):
            yield from self._run_serially(source, stop)
            return
        halt = threading.Event()  # the consumer is gone: every thread returns at once
        live = source.info.live if live is None else live
        max_wait = self.options.live_backlog_s
        queued_frames, queued_results = _QUEUED[live]
        capacity = math.ceil(max_wait * source.info.fps) + 2 if live else queued_frames
        frames = Channel(capacity, halt, drop_oldest=live, on_drop=self._dropped)
        tracked = Channel(queued_frames, halt)
        results = Channel(queued_results, halt)
        labeller = ThreadPoolExecutor(1, thread_name_prefix="epir-classify", initializer=_lower_priority)

        def capture() -> None:
            for frame in source.frames():
                if stop.is_set() or not frames.put((frame, time.perf_counter())):
                    return

        def track() -> None:
            while not stop.is_set():
                item = frames.get(timeout=0.1)  # a camera may hang in grab(): look at ``stop`` meanwhile
                if item is END:
                    return
                if item is None:
                    continue
                if live and len(frames) and time.perf_counter() - item[1] > max_wait:
                    self._dropped(item)  # stale, and a newer frame waits: catch up
                    continue
                if not tracked.put(self._detect(*item)):
                    return

        def publish(items: list) -> bool:
            """Hand results on, an event as a pending label; False once halted."""
            for item in items:
                if isinstance(item, EventJob):
                    item = _PendingEvent(item, labeller.submit(self._classify, item))
                if not results.put(item):
                    return False
            return True

        def spot() -> None:
            while (item := tracked.get()) is not END:
                if not publish(self._spot(self._align(item))):
                    return
            publish(self._flush_all())

        threads = [start_stage("epir-capture", capture, frames), start_stage("epir-face", track, tracked),
                   start_stage("epir-spot", spot, results)]
        try:
            yield from self._collect(results, live)
        finally:
            halt.set()
            stop.set()
            for thread in threads:
                thread.join(timeout=2.0)  # a camera hung in grab() must not keep us from stopping
            labeller.shutdown(wait=True, cancel_futures=True)

    def _collect(self, results: Channel, live: bool) -> Iterator[Result]:
        """The consumer's side: frame results in order; events in order, live as soon as labelled."""
        pending: deque[_PendingEvent] = deque()
        while True:
            while pending and (not live or pending[0].future.done()):
                yield self._labelled(pending.popleft(), live)
            item = results.get(timeout=0.05 if pending else None)
            if item is END:
                break
            if isinstance(item, _PendingEvent):
                pending.append(item)
            elif item is not None:
                if live and isinstance(item, FrameResult):
                    self.stats.live.latency.add(_ms(item.arrived))
                yield item
        while pending:  # end of the source: every spotted event is labelled
            yield self._labelled(pending.popleft(), live)

    def _labelled(self, pending: _PendingEvent, live: bool) -> EventResult:
        result = pending.future.result()  # waits for the label; re-raises the labeller's error
        if live:
            self.stats.live.label_delay.add(_ms(pending.job.decided))
        return result

    def _dropped(self, _item) -> None:
        with self._drop_lock:
            self.stats.dropped += 1


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


def _lower_priority() -> None:
    """Labelling may wait; the frame path may not (Linux sets the nice value of one thread)."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + CLASSIFY_NICE)
    except (AttributeError, OSError):  # other platforms: the OS schedules the thread as any other
        pass
