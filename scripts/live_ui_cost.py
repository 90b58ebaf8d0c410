"""The UI thread's cost of live analysis against the session's length, minutes in seconds.

    python scripts/live_ui_cost.py [--minutes 10] [--paint-every 1]

Feeds the real main window (offscreen) the results a live analysis posts — one frame, one signal sample a
frame, an event every two seconds, as the demo clip gives — without the pipeline, and runs the 4-Hz
timeline refresh by the simulated clock. Prints, per simulated minute, the UI thread's CPU time per
simulated second in total and per handler (timeline repaint, video repaint, timeline refresh, results),
the number of timeline repaints, and the sizes that could grow (scene items, points drawn, list rows).
CPU time, not wall time: on a shared machine it shows growth that the load would hide.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--paint-every", type=int, default=1, help="show every Nth frame (1: all, as live)")
    args = parser.parse_args()

    from app.gui.main import create_application, release
    app = create_application([])
    import pyqtgraph as pg

    from app.demo import DEMO_CLIP
    from app.events import Event
    from app.gui.controller import ShownFrame, State
    from app.gui.images import bgr_image
    from app.gui.records import AnalysisStore, Batch, EventView, FaceRecord, FrameRecord, ProgressInfo
    from app.gui.video_view import VideoView
    from app.gui.window import TIMELINE_REFRESH_MS, MainWindow
    from app.sources import SourceInfo
    from app.spotting_events import SpotSample

    cpu: dict[str, float] = collections.defaultdict(float)
    calls: collections.Counter[str] = collections.Counter()

    def timed(cls, attr: str, name: str) -> None:
        fn = getattr(cls, attr)

        @functools.wraps(fn)
        def wrapper(*a, **k):
            start = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                cpu[name] += (time.thread_time() - start) * 1000
                calls[name] += 1
        setattr(cls, attr, wrapper)

    cpu_names = ("timeline paint", "video paint", "timeline refresh", "results")
    timed(pg.GraphicsView, "paintEvent", "timeline paint")
    timed(VideoView, "paintEvent", "video paint")
    timed(MainWindow, "_refresh_timeline", "timeline refresh")
    timed(MainWindow, "results", "results")

    window = MainWindow()
    window.timeline_timer.stop()  # run below by the simulated clock
    window.resize(1280, 800)
    window.show()
    while window.model_loading:
        app.processEvents()
        time.sleep(0.01)
    fps = 30.0
    info = SourceInfo("camera", "simulated", fps, 640, 480, None, True)
    controller = window.controller
    controller.source_info, controller.store = info, AnalysisStore(fps, live=True)
    controller._set_state(State.LIVE)
    window.opened(info, False)
    ok, bgr = cv2.VideoCapture(str(DEMO_CLIP)).read()
    image = bgr_image(bgr if ok else np.zeros((480, 640, 3), np.uint8))
    face = FaceRecord(0, 0.9, (200.0, 100.0, 250.0, 250.0), np.zeros((478, 2), np.float16),
                      np.array([[0.5, 0, -100], [0, 0.5, -50]]))
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for _ in range(3)]
    heat = rng.integers(0, 255, (128, 128, 4), dtype=np.uint8)
    refresh = fps * TIMELINE_REFRESH_MS / 1000
    delay = 20  # frames between a frame and its signal sample, as the spotter's windows make it
    minute, started, ui = int(60 * fps), time.perf_counter(), time.thread_time()
    names = sorted(cpu_names)
    print(f"{'minute':>6} {'UI ms/s':>8} " + " ".join(f"{n + ' ms/s':>22}" for n in names) + f" {'tl paints':>9} "
          f"{'scene items':>11} {'points':>6} {'rows':>5} {'wall s':>6}", flush=True)
    for k in range(int(args.minutes * minute)):
        t = k / fps
        record = FrameRecord(k, t, (face,), 10.0)
        batch = Batch([record], progress=ProgressInfo(k + 1, 0, fps, 40.0))
        if k >= delay:
            value = float(abs(rng.normal()) + 2 * (k % 270 < 10))
            batch.samples.append(SpotSample(k - delay, (k - delay) / fps, value, 1.5, 0.5))
        if k % 60 == 59:
            e = Event(event_id=k // 60, face_id=0, onset_frame=k - 40, apex_frame=k - 36, offset_frame=k - 30,
                      onset_time=(k - 40) / fps, apex_time=(k - 36) / fps, offset_time=(k - 30) / fps,
                      duration_ms=330.0, kind="micro", spot_score=1.2, label="positive", model_label="positive",
                      probabilities={"negative": 0.1, "positive": 0.8, "surprise": 0.1})
            batch.events.append(EventView(e, *pictures, heat, pictures[0][:64, :64], t))
        window.results(controller._take(batch), ShownFrame(image, record) if k % args.paint_every == 0 else None)
        if k % refresh < 1:
            window._refresh_timeline()
        app.processEvents()
        if (k + 1) % minute == 0:
            timeline = window.timeline
            total = (time.thread_time() - ui) * 1000 / 60
            print(f"{(k + 1) // minute:6d} {total:8.1f} " + " ".join(f"{cpu[n] / 60:22.1f}" for n in names)
                  + f" {calls['timeline paint']:9d} {len(timeline.scene().items()):11d} "
                  f"{len(timeline.signal.xData):6d} {window.events_panel.rowCount():5d} "
                  f"{time.perf_counter() - started:6.0f}", flush=True)
            cpu.clear()
            calls.clear()
            started, ui = time.perf_counter(), time.thread_time()
    controller._set_state(State.IDLE)
    release(window)
    return 0


if __name__ == "__main__":
    sys.exit(main())
