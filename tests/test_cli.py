"""``python main.py analyze`` end to end, in a subprocess, on real video files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.events import EVENT_CSV_FIELDS, FRAME_CSV_FIELDS
from models.synth import ExpressionEvent, NuisanceOptions, render_sequence
from tests.conftest import write_video
from tests.onnx_fixtures import build_tiny_model

ROOT = Path(__file__).resolve().parent.parent


def run_main(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def expression_clip(tmp_path_factory) -> Path:
    event = ExpressionEvent({"4": 1.2, "7": 1.2}, onset_s=1.4, apex_s=1.55, offset_s=1.75)
    frames, _ = render_sequence("grace_hopper", [event], fps=30, duration_s=3.0, seed=4,
                                nuisances=NuisanceOptions(noise_sigma=1.0))
    return write_video(tmp_path_factory.mktemp("clip") / "anger.avi", frames, 30)


def test_analyze_writes_events_and_openface_style_frames(tmp_path, expression_clip):
    model = build_tiny_model(tmp_path / "tiny.onnx")
    out = tmp_path / "out"
    done = run_main("analyze", expression_clip, "--out", out, "--model", model, "--provider", "cpu", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "on CPU" in done.stderr and "synthetic" in done.stderr
    events = json.loads((out / "events.json").read_text())
    assert events["model"]["provider"] == "CPU" and events["classes"] == ["negative", "positive", "surprise"]
    assert len(events["events"]) == 1
    event = events["events"][0]
    assert abs(event["apex_frame"] - round(1.55 * 30)) <= 2 and event["kind"] == "micro"
    assert event["model_label"] in events["classes"] and abs(sum(event["probabilities"].values()) - 1) < 1e-5
    assert event["label"] in (*events["classes"], "uncertain", "none") and event["label_reason"]
    evidence = event["evidence"]
    assert evidence["reading"] in ("positive", "surprise", "negative", "unclear")
    assert len(evidence["blendshapes_apex"]) == 52 and evidence["text"] == event["evidence_text"]
    assert np.isclose(np.sum(event["attention"]), 1.0, atol=1e-4)
    rows = list(csv.DictReader((out / "events.csv").open()))
    assert list(rows[0]) == EVENT_CSV_FIELDS + ["p_negative", "p_positive", "p_surprise"]
    frames = list(csv.DictReader((out / "frames.csv").open()))
    assert list(frames[0]) == FRAME_CSV_FIELDS
    assert [int(r["frame"]) for r in frames] == list(range(1, 91))  # OpenFace numbers frames from 1
    assert all(r["success"] == "1" for r in frames)
    assert all(0 <= float(r["bs_mouthSmileLeft"]) <= 1 and r["bs_browDownLeft"] != "" for r in frames)
    assert float(frames[30]["timestamp"]) == pytest.approx(1.0, abs=1e-3)
    # known from 0.5 s (the short half window + blink margin) after the start to as long before the end
    assert sum(r["spot_signal"] != "" for r in frames) >= 50
    assert "event 1: micro" in done.stdout or "event 1: micro" in done.stderr
    assert "Labels: trained on synthetic data" in done.stdout


def test_without_a_model_it_says_so_and_still_spots(tmp_path, expression_clip, monkeypatch):
    missing = tmp_path / "none.onnx"
    done = run_main("analyze", expression_clip, "--out", tmp_path / "o", "--model", missing)
    assert done.returncode == 2 and done.stderr.strip() == f"error: {missing}: model file not found"
    from app import classifier

    if not classifier.DEFAULT_MODEL.exists():
        done = run_main("analyze", expression_clip, "--out", tmp_path / "o2", "--no-progress")
        assert done.returncode == 0 and "no model installed" in done.stderr
        assert json.loads((tmp_path / "o2" / "events.json").read_text())["events"][0]["label"] is None


def test_a_video_without_a_face_exits_0_with_zero_events(tmp_path):
    rng = np.random.default_rng(0)
    frames = [cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (9, 9), 3) for _ in range(20)]
    clip = write_video(tmp_path / "noface.avi", frames, 20)
    done = run_main("analyze", clip, "--out", tmp_path / "o", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "no face found in any frame" in done.stderr and "No events spotted." in done.stdout
    frames_csv = list(csv.DictReader((tmp_path / "o" / "frames.csv").open()))
    assert len(frames_csv) == 20 and all(r["success"] == "0" for r in frames_csv)


@pytest.mark.parametrize("content,problem", [
    (b"this is not a video at all", "cannot be opened as a video"),
    (b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(4000), "cannot be opened as a video"),
])
def test_a_corrupt_file_prints_one_line_and_fails(tmp_path, content, problem):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    done = run_main("analyze", bad, "--out", tmp_path / "o")
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {bad}: {problem} (unknown or corrupt format)"
    assert "Traceback" not in done.stderr


def test_bad_model_and_empty_folder(tmp_path, expression_clip):
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_text("hello")
    done = run_main("analyze", expression_clip, "--out", tmp_path / "o", "--model", not_onnx)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not a loadable ONNX model" in done.stderr
    (tmp_path / "frames").mkdir()
    done = run_main("analyze", tmp_path / "frames", "--out", tmp_path / "o")
    assert done.returncode == 2 and "no numbered image frames" in done.stderr


def test_help_lists_the_commands():
    done = run_main("--help")
    assert done.returncode == 0 and "analyze" in done.stdout and "train" in done.stdout
