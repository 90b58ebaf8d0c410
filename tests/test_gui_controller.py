"""The app's Qt-free controller, without a window: states, pause/resume on one clock, a Stop that never
waits, the capture thread closing its own source, errors logged with their traceback; and the session
library under concurrent use. Real clips decoded by OpenCV, the real pipeline, a real SQLite library.
"""

from __future__ import annotations

import logging
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.gui.controller import Controller, State
from app.gui.feeds import Feed, OwnedSource, clip_feed
from app.gui.live_session import LiveSession
from app.pipeline import Pipeline
from app.sessions import Library
from app.sources import FileSource, RealTimeSource, SourceInfo
from tests.conftest import write_bump_clip

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def clip(astronaut_bgr, tmp_path_factory) -> Path:
    return write_bump_clip(tmp_path_factory.mktemp("controller") / "clip.avi", astronaut_bgr, (1.0, 2.2), 3.0)


class Recorded:
    """A stand-in for the window that keeps what the controller told it (the ``View`` protocol)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.frames: list[tuple[int, float]] = []

    def __getattr__(self, name: str):
        return lambda *args: self.calls.append((name, args))

    def results(self, batch, shown) -> None:
        self.calls.append(("results", (batch,)))
        self.frames += [(f.index, f.timestamp) for f in batch.frames]

    def named(self, name: str) -> list[tuple]:
        return [args for n, args in self.calls if n == name]


class UiThread:
    """The UI thread of a test: calls posted by the controller's threads run when ``pump`` is called."""

    def __init__(self) -> None:
        self.posted: queue.Queue = queue.Queue()

    def pump(self, until, seconds: float = 20.0) -> None:
        end = time.monotonic() + seconds
        while not until():
            assert time.monotonic() < end, "timed out"
            try:
                self.posted.get(timeout=0.05)()
            except queue.Empty:
                pass


def _controller(library: Path | None = None):
    ui, view = UiThread(), Recorded()
    return Controller(ui.posted.put, view), ui, view


def test_the_controller_imports_no_qt():
    probe = ("import sys\nclass Refuse:\n    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'):\n"
             "            raise ImportError(name + ' is blocked')\n"
             "sys.meta_path.insert(0, Refuse())\nimport app.gui.controller\nprint('ok')")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-1500:]


def test_pause_resume_keeps_the_clock_and_stop_never_waits(clip, tmp_path, monkeypatch):
    flushed: list[bool] = []
    finish = Pipeline.finish
    monkeypatch.setattr(Pipeline, "finish", lambda self: flushed.append(True) or finish(self))
    controller, ui, view = _controller()
    session = LiveSession(tmp_path / "lib", "interview", {}, record_video=False)
    controller.start_live(clip_feed(clip), session)
    assert controller.state is State.LIVE
    ui.pump(lambda: len(view.frames) >= 5 and session.session_id is not None)

    paused = controller.run
    started = time.perf_counter()
    controller.pause()  # returns at once: the analysis thread stops by itself
    assert time.perf_counter() - started < 0.05 and controller.state is State.PAUSED
    assert session.status == "paused"
    ui.pump(lambda: not paused.thread.is_alive() and ui.posted.empty())
    before = list(view.frames)  # with what was found before the click and handled after it
    assert not flushed, "a user's Pause must skip the pipeline's final flush"
    controller.resume()
    ui.pump(lambda: len(view.frames) >= len(before) + 5)
    after = view.frames[len(before):]
    assert after[0][0] > before[-1][0] and after[0][1] > before[-1][1]  # one clock: it continues
    assert view.named("opened")[-1][1] is True  # resumed: the window keeps what it shows
    assert controller.store.pauses[0] == (before[-1][1], after[0][1])  # the timeline says why it has a gap
    assert controller.store.progress.processed >= len(before) + 5  # counts go on from before the pause

    started = time.perf_counter()
    controller.stop()
    assert time.perf_counter() - started < 0.05 and controller.state is State.IDLE
    ui.pump(lambda: bool(view.named("session_saved")))
    assert view.named("session_saved") == [(session.session_id, "finished")]
    assert not flushed
    controller.shutdown()
    with Library(tmp_path / "lib") as lib:
        stored = lib.load(session.session_id)
    assert stored.info.status == "finished"
    times = stored.signal.timestamp
    assert (times[1:] > times[:-1]).all()  # frame times increase through the pause: nothing overwritten
    assert [m.kind for m in stored.markers] == ["pause", "resume"]
    assert all(s.event.apex_time <= s.event.offset_time for s in stored.events)


def test_a_clip_resumes_where_it_was_paused(clip):
    """The demo clip continues after Resume instead of starting again (its media position is kept)."""
    source = clip_feed(clip).open(2.0)
    first = next(iter(source.frames()))
    source.close()
    full = FileSource(clip)
    frames = list(full.frames())
    full.close()
    at_two = min(frames, key=lambda f: abs(f.timestamp - 2.0))
    assert first.timestamp == pytest.approx(0.0, abs=0.04)
    assert abs(float(first.image.astype(int).mean()) - float(at_two.image.astype(int).mean())) < 1.0


class ClosedWhere(FileSource):
    """A real file source that notes which thread closed it."""

    closed_in: list[str] = []

    def close(self) -> None:
        self.closed_in.append(threading.current_thread().name)
        super().close()


def test_the_capture_thread_closes_its_own_source(clip):
    controller, ui, view = _controller()
    controller.start_live(Feed(lambda _at: RealTimeSource(ClosedWhere(clip), loop=True), "clip"), None)
    ui.pump(lambda: len(view.frames) >= 3)
    run = controller.run
    controller.stop()
    ui.pump(lambda: not run.thread.is_alive())
    controller.shutdown()
    assert ClosedWhere.closed_in == ["epir-capture"]  # never the UI thread, never while it reads


def test_owned_source_is_closed_by_its_reader(clip):
    owned = OwnedSource(FileSource(clip))
    frames = owned.frames()
    next(frames)
    owned.close()  # from another thread, while the reader is inside: only asks
    assert not owned.closed
    frames.close()  # the reader lets go: it closes the source
    assert owned.closed
    unread = OwnedSource(FileSource(clip))
    unread.close()  # never read: closed at once
    assert unread.closed and list(unread.frames()) == []


def test_worker_errors_are_logged_with_their_traceback(caplog, tmp_path):
    controller, ui, view = _controller()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with caplog.at_level(logging.ERROR, logger="epir.gui"):
        controller.start_review(bad)
        ui.pump(lambda: bool(view.named("failed")))
    controller.shutdown()
    [(title, message)] = view.named("failed")
    assert "bad.mp4" in message and "Traceback" not in message  # the user reads one line
    [record] = [r for r in caplog.records if r.name == "epir.gui"]
    assert record.exc_info is not None and "bad.mp4" in record.getMessage()


def test_library_is_safe_under_concurrent_use(tmp_path):
    """The UI thread lists and renames while the analysis thread records and a report thread reads."""
    info = SourceInfo("file", "clip.avi", 30.0, 64, 64, 10, live=False)
    library = Library(tmp_path / "lib")
    ids = []
    for _ in range(3):
        recorder = library.start_session("s", info)
        recorder.finish()
        ids.append(recorder.session_id)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for n in range(40):
                session = ids[(i + n) % len(ids)]
                library.add_note(session, f"note {i}-{n}")
                library.rename(session, f"label {i}")
                library.add_marker(session, float(n), f"M{n}")
                library.sessions(search="label")
                library.load(session)
        except BaseException as exc:  # noqa: BLE001  (any failure fails the test)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert sum(len(library.load(i).notes) for i in ids) == 4 * 40
    library.close()


def test_a_rename_while_the_session_starts_is_kept(tmp_path):
    info = SourceInfo("camera", "camera 0", 30.0, 64, 64, None, live=True)
    for n in range(8):
        session = LiveSession(tmp_path / "lib", "before", {}, record_video=False)
        starting = threading.Thread(target=session.start, args=(info, None))
        starting.start()
        session.rename(f"after {n}")
        starting.join()
        with Library(tmp_path / "lib") as lib:
            assert lib.info(session.session_id).label == f"after {n}"
        session.close()
