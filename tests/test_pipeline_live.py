"""Live use of the pipeline: a real-time source faster than the analysis drops stale frames, never
builds a backlog."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2

from app.demo import DEMO_CLIP
from app.pipeline import FrameResult, Pipeline, PipelineOptions
from app.sources import FileSource, RealTimeSource
from models.synth import render_sequence
from tests.conftest import write_video


def test_live_mode_drops_stale_frames_and_stops_cleanly(tmp_path):
    frames, _ = render_sequence("astronaut", [], fps=200, duration_s=1.5, seed=0)
    # Declared at 1000 fps: a frame every millisecond, faster than any face tracker (at 200 fps the threaded
    # stages kept up on an idle machine and nothing was dropped).
    clip = write_video(tmp_path / "fast.avi", frames, 1000)
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
    assert stats.live.latency.count == stats.processed
    # No backlog: a frame waits at most the live backlog for the face stage, then its own analysis and
    # the frames ahead of it in the later stages, however long the run, instead of growing with every frame.
    worst = max(costs)
    allowed = PipelineOptions().live_backlog_s + 3 * worst + 0.3  # + scheduling on a loaded machine
    assert all(lag < allowed for lag in lags[1:]), (lags, costs)
    assert stop.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("epir-")]


def test_analyze_live_reports_the_live_figures(tmp_path):
    """``analyze --live`` plays a file as a camera would and writes dropped, latency and label delay."""
    cap = cv2.VideoCapture(str(DEMO_CLIP))
    clip = write_video(tmp_path / "demo3s.avi", [cap.read()[1] for _ in range(90)], 30)  # two expressions
    cap.release()
    root = Path(__file__).resolve().parent.parent
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(root / "main.py"), "analyze", str(clip), "--live", "--out",
                           str(tmp_path / "out"), "--provider", "cpu", "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 3.0  # played at the clip's pace, not as fast as possible
    summary = json.loads((tmp_path / "out" / "events.json").read_text())["summary"]
    assert summary["frames"] + summary["dropped"] == 90
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"]
    delay = summary["label_delay_ms"]
    assert (delay["p50"] is None) == (summary["events"] == 0)
    assert delay["p50"] is None or 0 < delay["p50"] <= delay["p95"]
    assert "live:" in done.stdout and "frames dropped" in done.stdout
