"""Live use of the pipeline: a real-time source faster than the analysis drops frames, never queues."""

from __future__ import annotations

import threading
import time

from app.pipeline import FrameResult, Pipeline
from app.sources import FileSource, RealTimeSource
from models.synth import render_sequence
from tests.conftest import write_video


def test_live_mode_drops_stale_frames_and_stops_cleanly(tmp_path):
    frames, _ = render_sequence("astronaut", [], fps=200, duration_s=1.5, seed=0)
    clip = write_video(tmp_path / "fast.avi", frames, 200)  # 200 fps: faster than the face tracker here
    source = RealTimeSource(FileSource(clip))
    stop = threading.Event()
    seen, lags, costs = [], [], []
    with source, Pipeline(source.info.fps) as pipeline:
        started = time.monotonic()
        for result in pipeline.run(source, stop=stop):
            if isinstance(result, FrameResult):
                seen.append(result.frame.index)
                lags.append((time.monotonic() - started) - result.frame.timestamp)
                costs.append(sum(result.timings_ms.values()) / 1000)
        stats = pipeline.stats
    assert stats.dropped > 0 and stats.processed + stats.dropped <= 300
    assert seen == sorted(seen) and len(seen) == stats.processed
    # No backlog: a frame waits at most for the one being analysed, so its age stays within about two
    # analysis times however long the run, instead of growing with every frame.
    worst = max(costs)
    assert all(lag < 2 * worst + 0.15 for lag in lags[1:]), (lags, costs)
    assert stop.is_set()
    assert not [t for t in threading.enumerate() if t.name == "epir-capture"]
