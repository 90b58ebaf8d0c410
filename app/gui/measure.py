"""``python -m app.gui.measure [--minutes 10]``: how the app behaves during long live analysis.

Plays a clip (default: the bundled demo) as a camera, looping, through the real window, and prints
every ``--every`` seconds: display latency from the moment the source delivered a frame to the moment
the view painted it (p50/p95), the UI's paint rate and longest event-loop stall, the analysis rate,
dropped frames, the label delay (spotter decision → label, p95 since the start), the process's resident
memory, the cores it used and the machine's load average (a late rise in latency with the load risen with
it is another program's doing, not the session's length).
Without a screen it paints offscreen.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.demo import DEMO_CLIP
from app.sources import FileSource, Frame, RealTimeSource, VideoSource


class StampedSource(VideoSource):
    """Records when each frame left the source (the moment a camera would deliver it)."""

    def __init__(self, inner: VideoSource, keep: int = 600):
        self.inner, self.info, self.keep = inner, inner.info, keep
        self.arrivals: OrderedDict[int, float] = OrderedDict()  # bounded: dropped frames are never painted

    def frames(self) -> Iterator[Frame]:
        for frame in self.inner.frames():
            self.arrivals[frame.index] = time.perf_counter()
            while len(self.arrivals) > self.keep:
                self.arrivals.popitem(last=False)
            yield frame

    def close(self) -> None:
        self.inner.close()


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.gui.measure", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between report lines")
    parser.add_argument("--clip", type=Path, default=DEMO_CLIP)
    parser.add_argument("--library", type=Path, help="session library the live session is recorded into "
                        "(default: a temporary folder, so measuring leaves the user's library alone)")
    args = parser.parse_args(argv)
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QTimer

    from app.gui.main import create_application, release, settle_heap
    from app.gui.window import MainWindow

    app = create_application([])
    window = MainWindow()
    library = args.library or Path(tempfile.mkdtemp(prefix="epir-measure-"))
    window.settings = replace(window.settings, library_path=str(library))  # this run only, not saved
    window.resize(1280, 800)
    window.show()
    source: list[StampedSource] = []

    def open_stamped() -> StampedSource:
        source.append(StampedSource(RealTimeSource(FileSource(args.clip), loop=True)))
        return source[-1]

    latencies: list[float] = []
    paints = [0]
    stall = [0.0, time.perf_counter()]

    def painted(index: int) -> None:
        paints[0] += 1
        arrived = source[-1].arrivals.get(index) if source else None
        if arrived is not None:
            latencies.append((time.perf_counter() - arrived) * 1000)

    def heartbeat() -> None:
        now = time.perf_counter()
        stall[0] = max(stall[0], now - stall[1])
        stall[1] = now

    deadline = time.monotonic() + 60
    while window.model_loading and time.monotonic() < deadline:  # report which model really runs
        app.processEvents()
        time.sleep(0.01)
    settle_heap()  # as the app does (run_app)
    window.view.painted.connect(painted)
    beat = QTimer()
    beat.timeout.connect(heartbeat)
    beat.start(5)
    started = time.perf_counter()
    last = [started, 0]
    print(f"live analysis of {args.clip} (looping) for {args.minutes:g} min; platform {app.platformName()}; "
          f"{window.model_label.text()}, {window.provider_label.text()}", flush=True)
    print(f"{'t (s)':>7} {'RSS MB':>8} {'paint/s':>8} {'lat p50':>8} {'lat p95':>8} {'stall ms':>9} "
          f"{'analysed/s':>11} {'dropped':>8} {'events':>7} {'label p95':>10} {'cores':>6} {'load':>6}", flush=True)
    rows: list[tuple[float, float]] = []
    cpu = [time.process_time()]

    def report() -> None:
        now = time.perf_counter()
        lat = np.array(latencies) if latencies else np.array([np.nan])
        store = window.store
        processed = store.progress.processed if store else 0
        rate = (processed - last[1]) / (now - last[0])
        rss = rss_mb()
        rows.append((now - started, rss))
        cores = (time.process_time() - cpu[0]) / (now - last[0])
        delay = store.progress.label_delay_p95_ms if store else None
        print(f"{now - started:7.0f} {rss:8.1f} {paints[0] / (now - last[0]):8.1f} {np.nanpercentile(lat, 50):8.1f} "
              f"{np.nanpercentile(lat, 95):8.1f} {stall[0] * 1000:9.1f} {rate:11.1f} "
              f"{store.progress.dropped if store else 0:8d} {len(store.events) if store else 0:7d} {'-' if delay is None else f'{delay:.0f}':>10} {cores:6.2f} "
              f"{os.getloadavg()[0]:6.1f}", flush=True)
        latencies.clear()
        paints[0], stall[0], last[0], last[1], cpu[0] = 0, 0.0, now, processed, time.process_time()

    def tick() -> None:
        report()
        if time.perf_counter() - started >= args.minutes * 60 - 1:
            window.stop_analysis()  # after the last report, so it measures the running app; stopped first,
            app.quit()  # since quitting (Qt 6 closes the windows) while recording would ask the user

    ticker = QTimer()
    ticker.timeout.connect(tick)
    ticker.start(int(args.every * 1000))
    window.start_live(open_stamped)
    app.exec()
    release(window)
    if len(rows) >= 4:  # the first interval includes start-up; the slope of the last half shows a bound
        (t0, m0), (th, mh), (t1, m1) = rows[1], rows[len(rows) // 2], rows[-1]
        print(f"memory: {m0:.1f} MB at {t0:.0f} s, {mh:.1f} MB at {th:.0f} s, {m1:.1f} MB at {t1:.0f} s; "
              f"last half {(m1 - mh) / max((t1 - th) / 60, 1e-9):+.2f} MB/min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
