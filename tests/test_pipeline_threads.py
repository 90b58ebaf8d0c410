"""The threaded pipeline against the serial one, on a real decoded video; errors, stopping, labelling."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import cv2
import pytest

from app.classifier import DEFAULT_MODEL, Classifier
from app.demo import DEMO_CLIP
from app.errors import InputError
from app.pipeline import EventResult, FrameResult, Pipeline, PipelineOptions
from app.sources import FileSource, RealTimeSource, VideoSource
from app.spotting import SpotSample
from tests.conftest import write_video

PIPELINE_THREADS = ("epir-capture", "epir-face", "epir-spot", "epir-classify")


def _running_stages() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(PIPELINE_THREADS)]


def _key(result) -> tuple:
    if isinstance(result, FrameResult):
        return ("frame", result.frame.index, tuple(f.face_id for f in result.faces))
    if isinstance(result, SpotSample):
        return ("sample", result.frame, round(result.value, 9), round(result.threshold, 9))
    e = result.event
    return ("event", e.event_id, e.onset_frame, e.apex_frame, e.offset_frame, e.label, e.model_label, e.label_reason,
            e.evidence.reading if e.evidence else None,
            tuple(round(p, 6) for p in e.probabilities.values()))


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(DEFAULT_MODEL, "cpu")


@pytest.fixture(scope="module")
def demo_5s(tmp_path_factory) -> Path:
    """The demo clip's first 5 s (three expressions), decoded and re-encoded as MJPG."""
    cap = cv2.VideoCapture(str(DEMO_CLIP))
    frames = [cap.read()[1] for _ in range(150)]
    cap.release()
    return write_video(tmp_path_factory.mktemp("clips") / "demo5s.avi", frames, 30)


def test_threaded_run_gives_the_serial_results_in_the_same_order(classifier, demo_5s):
    options = PipelineOptions(flow_method="dis")  # the model's TV-L1 labels the same way, only slower
    on_one_thread = replace(options, stage_threads=False)  # how batch workers run: ``process`` chained
    with FileSource(demo_5s) as source, Pipeline(source.info.fps, on_one_thread, classifier) as pipeline:
        serial = []
        for result in pipeline.run(source, live=False):
            assert not _running_stages()
            serial.append(result)
    with FileSource(demo_5s) as source, Pipeline(source.info.fps, options, classifier) as pipeline:
        threaded = list(pipeline.run(source, live=False))
        stats = pipeline.stats
    assert [_key(r) for r in threaded] == [_key(r) for r in serial]
    frames = [r.frame.index for r in threaded if isinstance(r, FrameResult)]
    assert frames == list(range(150)) and stats.processed == 150 and stats.dropped == 0
    events = [r for r in threaded if isinstance(r, EventResult)]
    assert len(events) >= 3 and all(e.event.model_label in classifier.card.classes for e in events)
    assert not _running_stages()


class _FailingSource(VideoSource):
    """A real file whose decoding fails part-way, as an unplugged camera or a damaged file does."""

    def __init__(self, path: Path, fail_at: int):
        self.inner, self.fail_at, self.info = FileSource(path), fail_at, FileSource(path).info

    def frames(self):
        for frame in self.inner.frames():
            if frame.index == self.fail_at:
                raise InputError(self.info.name, "stopped delivering frames")
            yield frame


def test_a_stage_error_reaches_the_consumer_after_the_frames_before_it(demo_5s):
    source = _FailingSource(demo_5s, fail_at=20)
    seen = []
    with Pipeline(source.info.fps) as pipeline, pytest.raises(InputError, match="stopped delivering"):
        for result in pipeline.run(source, live=False):
            if isinstance(result, FrameResult):
                seen.append(result.frame.index)
    assert seen == list(range(20))
    assert not _running_stages()


def test_stopping_ends_the_source_and_keeps_what_was_found(classifier, demo_5s):
    """Stop (the app's Stop button) ends the source as its end would: the last frames' signal, the event
    in progress and every pending label still come out; then no stage thread is left."""
    stop = threading.Event()
    frames, samples, events = [], [], []
    with FileSource(demo_5s) as source, Pipeline(source.info.fps, classifier=classifier) as pipeline:
        for result in pipeline.run(source, stop, live=False):
            if isinstance(result, FrameResult):
                frames.append(result.frame.index)
                if result.frame.index == 60:  # after the first expression (frames 30-42)
                    stop.set()
            elif isinstance(result, SpotSample):
                samples.append(result.frame)
            else:
                events.append(result.event)
    assert 60 <= frames[-1] < 100 and frames == list(range(len(frames)))
    # flushed: the signal reaches a short half window (15 frames) before the last analysed frame, not
    # the long one (48) it needs while frames keep coming
    assert max(samples) >= frames[-1] - 20
    assert events and events[0].onset_frame < 42 and events[0].model_label is not None
    assert not _running_stages()


LABEL_S = 1.0


class _SlowLabeller(Classifier):
    """The real model, with labelling made slower than several frame intervals."""

    def classify(self, *args, **kwargs):
        time.sleep(LABEL_S)
        return super().classify(*args, **kwargs)


def test_live_frames_keep_flowing_while_an_event_is_labelled(demo_5s):
    labeller = _SlowLabeller(DEFAULT_MODEL, "cpu")
    source = RealTimeSource(FileSource(demo_5s))
    while_labelling, events = 0, []
    with source, Pipeline(source.info.fps, classifier=labeller) as pipeline:
        for result in pipeline.run(source):
            if isinstance(result, FrameResult):
                # stats.events counts events the spotter has decided; a label is pending while it is ahead
                while_labelling += pipeline.stats.events > len(events)
            elif isinstance(result, EventResult):
                events.append(result.event)
        stats = pipeline.stats
    assert len(events) >= 2 and [e.event_id for e in events] == sorted(e.event_id for e in events)
    assert all(e.model_label is not None for e in events)
    # Each label took 1 s (30 frame intervals) and frame results kept coming meanwhile: the frame path did
    # not wait for it. Serially, only the result of the frame that decided an event would see it pending.
    assert while_labelling >= 2 * len(events), while_labelling
    live = stats.live
    assert live.latency.count == stats.processed
    assert live.label_delay.count == len(events) and live.label_delay.percentile(50) >= LABEL_S * 1000
