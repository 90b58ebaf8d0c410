"""The session library on real SQLite files: recording through the real pipeline, SIGKILL, foreign files,
migrations, search and deletion."""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.classifier import Classifier
from app.errors import InputError
from app.events import Event, FrameRow
from app.pipeline import EventResult, FrameResult, PipelineOptions, Pipeline
from app.sessions import LIBRARY_ENV, Library, default_library_dir, store
from app.sessions import sessions_cmd
from app.sessions.analysis import record_analysis
from app.sessions.review import between, events_over_time, label_counts, spans_between_markers
from app.sources import FileSource, SourceInfo
from app.spotting import SpotSample
from models.synth import ExpressionEvent, NuisanceOptions, render_sequence
from tests.conftest import write_video
from tests.onnx_fixtures import build_tiny_model

ROOT = Path(__file__).resolve().parent.parent
CAMERA = SourceInfo("camera", "camera 0", 30.0, 640, 480, None, True)


@dataclass
class Recorded:
    """A session recorded through the real pipeline, and what the pipeline handed over."""

    library: Path
    session_id: int
    model: Path
    events: list[Event]
    samples: list[SpotSample]
    frames: int
    markers: list[tuple[float, str, str]]


def record_clip(tmp: Path) -> Recorded:
    """Two expressions on a 4-s clip of a real face, analysed and recorded as it runs, with markers."""
    expressions = [ExpressionEvent({"4": 1.2, "7": 1.2}, onset_s=1.4, apex_s=1.55, offset_s=1.75),
                   ExpressionEvent({"6": 1.2, "12": 1.2}, onset_s=2.6, apex_s=2.75, offset_s=2.95)]
    images, _ = render_sequence("grace_hopper", expressions, fps=30, duration_s=4.0, seed=4,
                                nuisances=NuisanceOptions(noise_sigma=1.0))
    clip = write_video(tmp / "two.avi", images, 30)
    model = build_tiny_model(tmp / "tiny.onnx")
    classifier = Classifier(model, "cpu")
    options = PipelineOptions()
    events, samples, frames, markers = [], [], 0, []
    with FileSource(clip) as source, Pipeline(source.info.fps, options, classifier) as pipeline:
        with record_analysis(tmp / "library", "interview <3>", source.info, options, classifier) as recorder:
            for result in pipeline.run(source, live=False):
                recorder.feed(result)
                if isinstance(result, FrameResult):
                    frames += 1
                    if result.frame.index in (15, 70):  # "question asked" as the frame is shown
                        label = f"question {len(markers) + 1}"
                        note = "asked & answered" if markers else ""
                        recorder.add_marker(label=label, note=note)
                        markers.append((result.frame.timestamp, label, note))
                elif isinstance(result, SpotSample):
                    samples.append(result)
                elif isinstance(result, EventResult):
                    events.append(result.event)
            recorder.add_note("calm throughout")
    return Recorded(tmp / "library", recorder.session_id, model, events, samples, frames, markers)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Recorded:
    return record_clip(tmp_path_factory.mktemp("recorded"))


def test_pipeline_session_reopens_identical(recorded):
    assert len(recorded.events) == 2, "the clip holds two expressions"
    with Library(recorded.library) as library:
        [info] = library.sessions()
        session = library.load(info.id)
    assert info.status == "finished" and info.label == "interview <3>" and info.ended_at >= info.started_at
    assert info.source.kind == "file" and info.source.fps == 30.0 and (info.source.width, info.source.height) == (256, 288)
    assert info.model.sha256 == hashlib.sha256(recorded.model.read_bytes()).hexdigest()
    assert info.model.provider == "CPU" and info.model.card.classes == ("negative", "positive", "surprise")
    assert info.settings["spotting"]["sensitivity"] == PipelineOptions().spotting.sensitivity
    assert info.event_count == 2 and info.marker_count == 2 and info.folder.is_dir()
    for stored, event in zip(session.events, recorded.events, strict=True):  # attention: rounded to 6 digits
        assert np.allclose(stored.event.attention, event.attention, atol=1e-6)
        assert {**stored.event.to_json(), "attention": None} == {**event.to_json(), "attention": None}
    for stored in session.events:
        for png in (stored.onset_png, stored.attention_png):
            picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
            assert picture.shape[:2] == (128, 128)
    assert [(m.t, m.label, m.note) for m in session.markers] == recorded.markers
    assert [m.frame for m in session.markers] == [15, 70]
    assert [n.text for n in session.notes] == ["calm throughout"]
    sig = session.signal
    assert len(sig) == recorded.frames == 120 and list(sig.frame) == list(range(120))
    assert sig.success.all() and (sig.confidence > 0.5).all()
    by_frame = {s.frame: s for s in recorded.samples}
    known = ~np.isnan(sig.value)
    assert set(sig.frame[known]) == set(by_frame)
    assert np.allclose(sig.value[known], [by_frame[f].value for f in sig.frame[known]])
    assert np.allclose(sig.threshold[known], [by_frame[f].threshold for f in sig.frame[known]])


def test_review_counts_time_bins_and_spans(recorded):
    with Library(recorded.library) as library:
        session = library.load(recorded.session_id)
    events = [s.event for s in session.events]
    counts = label_counts(events, session.info.classes)
    assert list(counts)[:3] == ["negative", "positive", "surprise"] and sum(counts.values()) == 2
    over_time = events_over_time(session, bin_s=1.0)
    assert len(over_time.edges) == 5 and sum(int(c.sum()) for c in over_time.counts.values()) == 2
    spans = spans_between_markers(session)
    assert [len(span.events) for _, span in spans] == [1, 1]  # one expression after each question
    whole = between(session, 0.0)
    assert len(whole.events) == 2 and whole.micro + whole.macro == 2


CHILD = """
import sys, time
from app.events import Event, FrameRow
from app.sessions import Library
from app.sources import SourceInfo

recorder = Library(sys.argv[1]).start_session("killed", SourceInfo("camera", "camera 0", 30.0, 64, 48, None, True))
for i in range(100000):
    recorder.add_frame(FrameRow(i, i / 30, 0, 0.9, True, (0.0, 0.1, 0.2), 0.3))
    print(f"F {i}", flush=True)
    if i % 10 == 9:
        k = i // 10 + 1
        stored = recorder.add_event(Event(k, 0, i - 6, i - 3, i, (i - 6) / 30, (i - 3) / 30, i / 30, 200.0, "micro",
                                          1.5, "positive", {"negative": 0.2, "positive": 0.8}))
        print(f"E {stored.event_id}", flush=True)
    if i % 25 == 24:
        print(f"M {recorder.add_marker(label=f'm{i}').id}", flush=True)
    time.sleep(1 / 60)
"""


def test_sigkill_keeps_committed_work_and_session_is_interrupted(tmp_path):
    library = tmp_path / "library"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(library)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    frames_seen: list[tuple[float, int]] = []
    events, markers = [], []
    try:
        while len(events) < 8:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            kind, value = line.split()
            if kind == "F":
                frames_seen.append((time.monotonic(), int(value)))
            (events if kind == "E" else markers if kind == "M" else []).append(int(value))
        killed_at = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    with Library(library) as opened:
        [info] = opened.sessions()
        assert info.status == "interrupted" and info.ended_at is not None
        session = opened.load(info.id)
        assert opened._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored_events = [s.event.event_id for s in session.events]
    assert stored_events[:len(events)] == events and len(stored_events) <= len(events) + 1
    assert all(s.event.label == "positive" and s.event.probabilities["positive"] == 0.8 for s in session.events)
    assert [m.id for m in session.markers][:len(markers)] == markers and len(markers) >= 3
    stored_frames = list(session.signal.frame)
    assert stored_frames == list(range(len(stored_frames)))  # no holes
    older = [i for t, i in frames_seen if t < killed_at - 1.0]
    assert older and stored_frames[-1] >= older[-1], "frames older than one second were lost"


def _new_library_file(tmp: Path) -> Path:
    with Library(tmp) as library:
        with library.start_session("x", CAMERA) as recorder:
            for i in range(3000):
                recorder.add_frame(FrameRow(i, i / 30, 0, 0.5, True, None, None))
    return tmp / store.DB_NAME


def _foreign_sqlite(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE patients (name TEXT)")
    conn.execute("INSERT INTO patients VALUES ('someone')")
    conn.commit()
    conn.close()


def _newer_schema(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA application_id = {store.APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    conn.execute("CREATE TABLE future (x)")
    conn.commit()
    conn.close()


def _damaged(db: Path) -> None:
    _new_library_file(db.parent)
    for suffix in ("-wal", "-shm"):
        assert not Path(f"{db}{suffix}").exists()  # the last connection checkpointed and cleaned up
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[3 * page:3 * page + 200] = os.urandom(200)  # scribble over a b-tree page
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("make, problem", [
    (lambda db: db.write_bytes(b"these are someone's notes, not a database\n" * 50), "not an SQLite database"),
    (_foreign_sqlite, "another program"),
    (_newer_schema, "newer than this EPIR Live reads"),
    (_damaged, "damaged library database|unreadable database"),
], ids=["text", "foreign", "newer", "damaged"])
def test_foreign_or_corrupt_database_is_refused_untouched(tmp_path, make, problem):
    db = tmp_path / store.DB_NAME
    make(db)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(InputError, match=problem) as caught:
        Library(tmp_path)
    assert str(db) in str(caught.value) and "\n" not in str(caught.value)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_sessions_command_lists_searches_and_deletes(tmp_path, capsys):
    with Library(tmp_path) as library:
        for label in ("first visit", "second visit"):
            library.start_session(label, CAMERA).finish()
    parser = argparse.ArgumentParser()
    sessions_cmd.configure(parser)
    assert sessions_cmd.main(parser.parse_args(["--library", str(tmp_path), "--search", "second"])) == 0
    listing = capsys.readouterr().out
    assert f"library: {tmp_path}" in listing and "second visit" in listing and "first visit" not in listing
    assert sessions_cmd.main(parser.parse_args(["--library", str(tmp_path), "--delete", "first"])) == 0
    assert "deleted session 1" in capsys.readouterr().out
    with Library(tmp_path) as library:
        assert [s.label for s in library.sessions()] == ["second visit"]


def test_migrates_a_version_1_library(tmp_path):
    db = tmp_path / store.DB_NAME
    conn = sqlite3.connect(db, isolation_level=None)
    store.migrate(conn, 0, target=1)
    event = Event(1, 0, 10, 14, 20, 0.33, 0.47, 0.67, 333.3, "micro", 2.0, "surprise",
                  {"negative": 0.1, "positive": 0.2, "surprise": 0.7}, np.full((7, 7), 1 / 49))
    conn.execute("INSERT INTO sessions (label, started_at, ended_at, status, source_kind, source_name, fps, width, "
                 "height, software) VALUES ('old', 1.7e9, 1.7e9 + 60, 'finished', 'file', 'old.mp4', 25, 320, 240, "
                 "'epir-live 0.0.9')")
    conn.execute("INSERT INTO events VALUES (1, 1, 0.47, 'surprise', ?)", (__import__("json").dumps(event.to_json()),))
    conn.execute("INSERT INTO frames (session_id, frame, timestamp, signal, threshold) VALUES (1, 0, 0.0, 0.1, 0.5)")
    conn.close()
    assert store.inspect(db) == 1
    with Library(tmp_path) as library:
        assert library._conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        session = library.load(1)
        assert session.info.label == "old" and session.info.status == "finished"
        assert session.events[0].event.to_json() == event.to_json() and session.events[0].onset_png is None
        assert session.signal.value.tolist() == [0.1]
        with library.start_session("new", CAMERA) as recorder:  # the new table is usable
            recorder.add_event(event, b"png", b"png2")
        assert library.load(recorder.session_id).events[0].attention_png == b"png2"


def test_delete_removes_rows_and_files_and_keeps_the_others(tmp_path):
    with Library(tmp_path) as library:
        keep = library.start_session("keep", CAMERA)
        keep.add_frame(FrameRow(0, 0.0, 0, 0.9, True, None, None))
        keep.add_event(Event(1, 0, 0, 1, 2, 0, 0.03, 0.07, 66, "micro", 1.2, "positive", {"positive": 1.0}))
        keep.finish()
        gone = library.start_session("gone", CAMERA)
        (gone.folder / "video.mp4").write_bytes(b"\0" * 1000)
        library.set_video(gone.session_id, "video.mp4")
        assert library.info(gone.session_id).video_path == gone.folder / "video.mp4"
        for i in range(40):
            gone.add_frame(FrameRow(i, i / 30, 0, 0.9, True, None, None))
        gone.add_event(Event(1, 0, 3, 5, 8, 0.1, 0.16, 0.26, 160, "micro", 1.2, "negative", {"negative": 1.0}),
                       b"secret-face-png", None)
        gone.add_marker(label="q1")
        gone.add_note("private note")
        with pytest.raises(InputError, match="being recorded"):
            library.delete(gone.session_id)
        gone.finish()
        library.delete(gone.session_id)
        assert not gone.folder.exists()
        for table in ("events", "frames", "markers", "notes", "event_images"):
            rows = library._conn.execute(f"SELECT count(*) FROM {table} WHERE session_id = ?", (gone.session_id,))
            assert rows.fetchone()[0] == 0, table
        assert [s.label for s in library.sessions()] == ["keep"] and len(library.load(keep.session_id).events) == 1
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"secret-face-png" not in on_disk and b"private note" not in on_disk  # overwritten, not just unlinked


def test_search_by_label_and_date(tmp_path):
    with Library(tmp_path) as library:
        for label, day in (("Interview A", date(2024, 3, 1)), ("interview B", date(2024, 3, 5)),
                           ("demo 100%", date(2024, 4, 2))):
            recorder = library.start_session(label, CAMERA)
            recorder.finish()
            started = datetime(day.year, day.month, day.day, 10, 30).timestamp()
            library._conn.execute("UPDATE sessions SET started_at = ? WHERE id = ?", (started, recorder.session_id))
        assert [s.label for s in library.sessions("interview")] == ["interview B", "Interview A"]
        assert [s.label for s in library.sessions("100%")] == ["demo 100%"]
        assert [s.label for s in library.sessions("0%0")] == []
        assert [s.label for s in library.sessions(since=date(2024, 3, 2), until=date(2024, 3, 31))] == ["interview B"]
        assert [s.label for s in library.sessions(until=date(2024, 3, 1))] == ["Interview A"]
        assert library.find("demo").label == "demo 100%" and library.find("1").label == "Interview A"
        with pytest.raises(InputError, match="matches 2 sessions"):
            library.find("interview")
        with pytest.raises(InputError, match="no session"):
            library.find("nothing like it")


def test_pause_resume_continues_numbering_when_the_feed_restarts(tmp_path):
    with Library(tmp_path) as library:
        with library.start_session("paused", CAMERA) as recorder:
            for i in range(10):
                recorder.add_frame(FrameRow(i, i / 30, 0, 0.9, True, None, None))
            recorder.pause()
            assert library.info(recorder.session_id).status == "paused"
            recorder.add_frame(FrameRow(10, 10 / 30, 0, 0.9, True, None, None))  # ignored while paused
            recorder.resume()
            for i in range(5):  # a new source and pipeline: numbering starts again
                recorder.add_frame(FrameRow(i, i / 30, 0, 0.9, True, None, None))
            stored = recorder.add_event(Event(1, 0, 1, 2, 3, 1 / 30, 2 / 30, 3 / 30, 66, "micro", 1.1))
        session = library.load(recorder.session_id)
    assert list(session.signal.frame) == list(range(15)) and np.all(np.diff(session.signal.timestamp) > 0)
    assert (stored.event_id, stored.onset_frame) == (1, 11)
    assert [m.kind for m in session.markers] == ["pause", "resume"] and session.info.status == "finished"


def test_an_exception_marks_the_session_interrupted(tmp_path):
    with Library(tmp_path) as library:
        with pytest.raises(RuntimeError):
            with library.start_session("crash", CAMERA) as recorder:
                raise RuntimeError("analysis failed")
        assert library.info(recorder.session_id).status == "interrupted"


def test_library_location_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(LIBRARY_ENV, str(tmp_path / "mine"))
    assert default_library_dir() == tmp_path / "mine"
    with Library() as library:
        assert library.db_path == tmp_path / "mine" / store.DB_NAME and library.db_path.is_file()
    monkeypatch.delenv(LIBRARY_ENV)
    assert default_library_dir().parts[-2:] == ("epir-live", "library")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        Library(tmp_path / "file")
