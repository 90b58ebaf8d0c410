"""``python main.py batch`` end to end, in subprocesses, on real video files and a real frame folder:
the acceptance tree (3 videos, one without a face; a frame folder; a corrupt file), resuming, inputs
found under folders and lists, and the Ray engine on a local instance giving the local engine's events."""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from app import batch_cmd
from app.batch_inputs import find_inputs
from app.errors import InputError
from app.sessions import crypto
from app.sessions.library import Library
from models.synth import ExpressionEvent, NuisanceOptions, render_sequence
from tests.conftest import write_video

ROOT = Path(__file__).resolve().parent.parent


def batch(*args: object, progress: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "batch", *map(str, args),
                           *([] if progress else ["--no-progress"])], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**os.environ, **(env or {})})


def index(out: Path) -> dict[str, dict]:
    """index.csv by output folder, checked against index.json."""
    rows = list(csv.DictReader((out / "index.csv").open(encoding="utf-8")))
    as_json = json.loads((out / "index.json").read_text())["inputs"]
    assert rows == [{k: str(v) for k, v in r.items()} for r in as_json]
    return {r["output"]: r for r in rows}


def events(folder: Path) -> list[tuple]:
    found = json.loads((folder / "events.json").read_text())["events"]
    return [(e["onset_frame"], e["apex_frame"], e["offset_frame"], e["label"]) for e in found]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """interviews/anger.avi (a spotted expression), interviews/demo.avi (real video, the bundled demo's
    start), empty/room.avi (no face), frames/s01/ (numbered JPEGs), broken/clip.mp4 (not a video)."""
    root = tmp_path_factory.mktemp("archive")
    for sub in ("interviews", "empty", "frames/s01", "broken"):
        (root / sub).mkdir(parents=True)
    event = ExpressionEvent({"4": 1.2, "7": 1.2}, onset_s=1.4, apex_s=1.55, offset_s=1.75)
    frames, _ = render_sequence("grace_hopper", [event], fps=30, duration_s=3.0, seed=4,
                                nuisances=NuisanceOptions(noise_sigma=1.0))
    write_video(root / "interviews" / "anger.avi", frames, 30)
    demo = cv2.VideoCapture(str(ROOT / "assets" / "demo.mp4"))
    write_video(root / "interviews" / "demo.avi", [demo.read()[1] for _ in range(40)], 30)
    demo.release()
    write_video(root / "empty" / "room.avi", [np.full((240, 320, 3), 60 + i, np.uint8) for i in range(40)], 30)
    smile = ExpressionEvent({"12": 1.0}, onset_s=0.5, apex_s=0.65, offset_s=0.85)
    stills, _ = render_sequence("astronaut", [smile], fps=30, duration_s=1.5, seed=2)
    for i, image in enumerate(stills):
        cv2.imwrite(str(root / "frames" / "s01" / f"img{i + 1:03d}.jpg"), image)
    (root / "broken" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 300)
    (root / "interviews" / "notes.txt.md").write_text("not an input")
    return root


@pytest.fixture(scope="module")
def first_run(archive, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, float]:
    out = tmp_path_factory.mktemp("batch") / "out"
    started = time.perf_counter()
    done = batch(archive, "--out", out, "--workers", "2", "--library", out.parent / "library")
    return out, done, time.perf_counter() - started


def test_a_failing_input_is_one_line_in_the_index_and_exit_3(first_run):
    out, done, _ = first_run
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    rows = index(out)
    assert sorted(rows) == ["broken/clip.mp4", "empty/room.avi", "frames/s01", "interviews/anger.avi",
                            "interviews/demo.avi"]
    assert [rows[k]["status"] for k in sorted(rows)] == ["failed", "ok", "ok", "ok", "ok"]
    reason = rows["broken/clip.mp4"]["error"]
    assert "video" in reason and "\n" not in reason
    assert f"broken/clip.mp4: {reason}" in done.stdout  # the summary table names it with its reason
    assert rows["interviews/anger.avi"]["frames"] == "90" and rows["frames/s01"]["frames"] == "45"
    assert rows["empty/room.avi"]["events"] == "0" and rows["empty/room.avi"]["error"] == ""
    assert len(events(out / "interviews" / "anger.avi")) == 1
    for key in ("empty/room.avi", "frames/s01", "interviews/anger.avi", "interviews/demo.avi"):
        assert {"events.json", "events.csv", "frames.csv", "batch.json"} <= {p.name for p in (out / key).iterdir()}
    assert "4 ok, 0 skipped (already done), 1 failed" in done.stdout
    with Library(out.parent / "library") as library:  # each analysed input is also a session
        sessions = {s.label: s for s in library.sessions()}
    assert sorted(sessions) == ["anger.avi", "demo.avi", "room.avi", "s01"]
    assert sessions["anger.avi"].event_count == 1 and sessions["anger.avi"].status == "finished"


def test_a_rerun_with_the_same_options_analyses_nothing(archive, first_run):
    out, _, first_seconds = first_run
    started = time.perf_counter()
    again = batch(archive, "--out", out, "--workers", "2", "--library", out.parent / "library")
    assert time.perf_counter() - started < 0.3 * first_seconds  # no worker is started: nothing to analyse
    assert again.returncode == 3 and "5 inputs: 0 to analyse, 4 already done, 1 refused before" in again.stderr
    assert [r["status"] for r in index(out).values()] == ["failed", "skipped", "skipped", "skipped", "skipped"]
    assert index(out)["interviews/anger.avi"]["frames"] == "90"  # the figures of the run that made them


def test_an_interrupted_batch_resumes_and_changed_inputs_are_redone(archive, first_run, tmp_path):
    """Two inputs change (a video rewritten, a frame of the frame folder); the batch that analyses
    them again is interrupted after the first; the next run analyses only the second."""
    changed, out = tmp_path / "archive", tmp_path / "out"
    shutil.copytree(archive, changed)
    shutil.copytree(first_run[0], out)
    write_video(changed / "empty" / "room.avi", [np.full((240, 320, 3), 200 - i, np.uint8) for i in range(40)], 30)
    frame = changed / "frames" / "s01" / "img045.jpg"
    cv2.imwrite(str(frame), cv2.flip(cv2.imread(str(frame)), 1))
    command = [sys.executable, str(ROOT / "main.py"), "batch", str(changed), "--out", str(out), "--workers", "1",
               "--no-progress"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines = []
    for line in process.stderr:  # one worker takes the inputs in path order: room.avi (no face) first
        lines.append(line)
        if line.startswith("ok: "):
            process.send_signal(signal.SIGINT)
            break
    assert process.wait(timeout=120) == 130, "".join(lines)
    assert "5 inputs: 2 to analyse, 2 already done" in lines[0]
    assert {k: r["status"] for k, r in index(out).items() if r["status"] != "skipped"} == {
        "broken/clip.mp4": "failed", "empty/room.avi": "ok"}
    # resumed into a new encrypted, de-identified library: the workers write with the key unlocked once
    library = tmp_path / "private"
    done = batch(changed, "--out", out, "--workers", "2", "--library", library, "--encrypt", "--no-faces",
                 env={"EPIR_LIVE_PASSPHRASE": "correct horse"})
    assert done.returncode == 3 and "5 inputs: 1 to analyse, 3 already done" in done.stderr, done.stderr
    assert index(out)["frames/s01"]["status"] == "ok"
    assert crypto.is_encrypted(library)
    with Library(library, passphrase="correct horse") as opened:
        assert [s.label for s in opened.sessions()] == ["s01"]


def test_inputs_from_folders_and_lists_keep_their_relative_paths(archive, tmp_path):
    found = find_inputs([archive], tmp_path / "out")
    assert [(i.rel.as_posix(), i.kind) for i in found] == [
        ("broken/clip.mp4", "file"), ("empty/room.avi", "file"), ("frames/s01", "folder"),
        ("interviews/anger.avi", "file"), ("interviews/demo.avi", "file")]
    listing = tmp_path / "todo.txt"
    listing.write_text(f"# two of them\n{archive / 'frames' / 's01'}\n\n{archive / 'interviews' / 'anger.avi'}\n"
                       f"{archive / 'missing.avi'}\n")
    listed = find_inputs([listing], archive / "interviews")
    assert [i.rel.as_posix() for i in listed] == ["frames/s01", "interviews/anger.avi", "missing.avi"]
    assert [i.rel.as_posix() for i in find_inputs([archive / "interviews" / "demo.avi"], tmp_path)] == ["demo.avi"]
    # the batch's own output folder inside a searched folder is never an input
    assert [i.rel.as_posix() for i in find_inputs([archive / "interviews"], archive / "interviews")] == [
        "anger.avi", "demo.avi"]
    with pytest.raises(InputError, match="not found"):
        find_inputs([archive / "nowhere"], tmp_path)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match="no videos or frame folders"):
        find_inputs([tmp_path / "nothing"], tmp_path / "out")


@pytest.mark.parametrize("options, problem", [(["--workers", "0"], "--workers 0: must be from 1 to 1024"),
                                              (["--address", "auto"], "--address auto: needs --engine ray"),
                                              (["--sensitivity", "nan"], "--sensitivity nan: must be a number"),
                                              (["--engine", "ray", "--address", "127.0.0.1:1"],
                                               "--address 127.0.0.1:1: no Ray cluster answers there")])
def test_bad_usage_is_refused_before_anything_is_written(archive, tmp_path, options, problem):
    parser = argparse.ArgumentParser()
    batch_cmd.configure(parser)
    args = parser.parse_args([str(archive / "empty"), "--out", str(tmp_path / "out"), *options])
    with pytest.raises(InputError, match=re.escape(problem)) as refused:
        batch_cmd.main(args)
    assert refused.value.exit_code == 2 and not (tmp_path / "out").exists()


def test_ray_on_a_local_instance_finds_the_events_of_the_local_engine(archive, first_run, tmp_path):
    out, _, _ = first_run
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(str(archive / p) for p in ("interviews/anger.avi", "broken/clip.mp4")))
    done = batch(listing, "--out", tmp_path / "ray", "--engine", "ray", "--workers", "2", progress=True)
    assert done.returncode == 3, done.stderr
    assert "inputs 2/2, 1 failed" in done.stderr and "frame/s" in done.stderr  # the bar over the whole batch
    assert "Traceback" not in done.stderr + done.stdout
    rows = index(tmp_path / "ray")
    assert {k: r["status"] for k, r in rows.items()} == {"broken/clip.mp4": "failed", "interviews/anger.avi": "ok"}
    assert rows["broken/clip.mp4"]["error"] == index(out)["broken/clip.mp4"]["error"]
    key = "interviews/anger.avi"
    assert events(tmp_path / "ray" / key) == events(out / key) and len(events(out / key)) == 1
    assert rows[key]["frames"] == index(out)[key]["frames"]
    assert os.path.isfile(tmp_path / "ray" / "interviews" / "anger.avi" / "batch.json")
