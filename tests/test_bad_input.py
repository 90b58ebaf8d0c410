"""Bad input, bad options, bad models and unwritable outputs, probed through the real command line
(in process, real files, real ONNX Runtime and SQLite): one line naming the input and the problem, the
documented exit code, and earlier results and library files byte for byte as they were.

Each probe kind is listed in the README's "Bad input" section.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from app import cli, logs
from app.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_OUTPUT
from app.sessions import Library, liveness, store
from app.sources import SourceInfo
from tests.conftest import write_video
from tests.onnx_fixtures import build_tiny_model

CAMERA = SourceInfo("camera", "camera 0", 30.0, 64, 48, None, True)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``main.py ARGS`` in this process; returns (exit code, stdout, stderr)."""
    try:
        code = cli.main([str(a) for a in argv])
    finally:
        for handler in logs._Handlers.installed:  # the next test's stderr is another stream
            logging.getLogger().removeHandler(handler)
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def frames(n: int, size=(96, 128)) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    return [cv2.GaussianBlur(rng.integers(0, 255, (*size, 3), dtype=np.uint8), (9, 9), 3) for _ in range(n)]


@dataclass
class World:
    """A clip, a model, earlier results in ``out`` and a library holding one session."""

    tmp: Path
    clip: Path
    model: Path
    out: Path
    library: Path


@pytest.fixture()
def world(tmp_path, clip_and_model) -> World:
    clip, model = clip_and_model
    out = tmp_path / "out"
    out.mkdir()
    for name in ("events.json", "events.csv", "frames.csv"):
        (out / name).write_text(f"earlier results: {name}\n")
    library = tmp_path / "library"
    with Library(library) as opened:
        opened.start_session("earlier", CAMERA).finish()
    return World(tmp_path, clip, model, out, library)


@pytest.fixture(scope="module")
def clip_and_model(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("inputs")
    return write_video(tmp / "clip.avi", frames(18), 15), build_tiny_model(tmp / "tiny.onnx")


# --- models ------------------------------------------------------------------------------------------

def with_metadata(path: Path, model: Path, **changes) -> Path:
    """A copy of ``model`` whose ``epir.*`` metadata values are replaced (JSON text, or a dict merged)."""
    proto = onnx.load(model)
    props = {p.key: p.value for p in proto.metadata_props}
    for key, value in changes.items():
        if isinstance(value, dict):
            merged = {**json.loads(props[f"epir.{key}"]), **value}
            props[f"epir.{key}"] = json.dumps(merged)
        else:
            props[f"epir.{key}"] = value
    del proto.metadata_props[:]
    helper.set_model_props(proto, props)
    onnx.save(proto, path)
    return path


def with_graph_change(path: Path, model: Path, *, nan: bool = False, symbolic_logits: int | None = None) -> Path:
    """A copy whose logits are NaN, or whose logits output has a symbolic size and really returns
    ``symbolic_logits`` values per row."""
    proto = onnx.load(model)
    graph = proto.graph
    if nan:
        matmul = next(n for n in graph.node if n.op_type == "MatMul")
        matmul.output[0] = "raw_logits"
        graph.initializer.append(helper.make_tensor("nan", TensorProto.FLOAT, [], [float("nan")]))
        graph.node.append(helper.make_node("Mul", ["raw_logits", "nan"], ["logits"]))
    if symbolic_logits:  # logits reshaped to a size computed at run time: the graph cannot declare it
        wide = onnx.load(build_tiny_model(path.with_suffix(".wide.onnx"), logits_dim=symbolic_logits))
        graph = wide.graph
        matmul = next(n for n in graph.node if n.op_type == "MatMul")
        matmul.output[0] = "raw_logits"
        graph.initializer.extend([helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
                                  helper.make_tensor("one", TensorProto.INT64, [1], [1]),
                                  helper.make_tensor("minus_one", TensorProto.INT64, [1], [-1])])
        graph.node.extend([helper.make_node("Shape", ["flow"], ["flow_shape"]),
                           helper.make_node("Slice", ["flow_shape", "zero", "one"], ["batch"]),
                           helper.make_node("Concat", ["batch", "minus_one"], ["logits_shape"], axis=0),
                           helper.make_node("Reshape", ["raw_logits", "logits_shape"], ["logits"])])
        graph.output[0].type.tensor_type.shape.dim[1].dim_param = "K"
        del wide.metadata_props[:]
        helper.set_model_props(wide, {p.key: p.value for p in proto.metadata_props})
        proto = wide
    onnx.save(proto, path)
    return path


# --- the probes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    kind: str
    make: Callable[[World], list]  # the command line (after main.py)
    code: int
    message: str  # a part of the one error line
    one_line: bool = True


def analyze(w: World, *extra) -> list:
    return ["analyze", w.clip, "--out", w.out, "--model", w.model, "--no-progress", *extra]


def symlink_loop(w: World) -> Path:
    (w.tmp / "a.mp4").symlink_to(w.tmp / "b.mp4")
    (w.tmp / "b.mp4").symlink_to(w.tmp / "a.mp4")
    return w.tmp / "a.mp4"


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def frame_folder(w: World, names: list[str]) -> Path:
    folder = w.tmp / "frames"
    folder.mkdir(exist_ok=True)
    for name, image in zip(names, frames(len(names))):
        ok, data = cv2.imencode(Path(name).suffix, image)
        (folder / name).write_bytes(data.tobytes())
    return folder


def being_written(out: Path) -> None:
    """OUT/partial/ claimed by a live process (this one)."""
    (out / "partial").mkdir()
    (out / "partial" / ".writer").write_text(f"{liveness.host()}\n{liveness.process_token()}\n")


def no_frame_rate(w: World) -> Path:
    """An AVI whose stream header says rate 0 (FFmpeg would guess 25 fps)."""
    data = bytearray(write_video(w.tmp / "rate.avi", frames(30), 30).read_bytes())
    at = data.find(b"strh")
    data[at + 32: at + 36] = bytes(4)
    return write_bytes(w.tmp / "norate.avi", bytes(data))


def two_sessions(w: World, *labels: str) -> Path:
    with Library(w.library) as opened:
        for label in labels:
            opened.start_session(label, CAMERA).finish()
    return w.library


def foreign_db(w: World) -> list:
    other = w.tmp / "other"
    other.mkdir()
    conn = sqlite3.connect(other / store.DB_NAME)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    return analyze(w, "--library", other)


def damaged_library(w: World) -> list:
    (w.library / store.DB_NAME).write_bytes(b"SQLite format 3\x00" + bytes(100))
    return analyze(w, "--library", w.library)


def newer_library(w: World) -> list:
    conn = sqlite3.connect(w.library / store.DB_NAME)
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    conn.close()
    return analyze(w, "--library", w.library)


def card(**changes) -> Callable[[World], list]:
    return lambda w: analyze(w)[:5] + [with_metadata(w.tmp / "card.onnx", w.model, **changes), "--no-progress"]


PROBES = [
    # numeric options
    *(Probe(f"--{opt} {value}", lambda w, o=opt, v=value: analyze(w, f"--{o}", v), EXIT_INPUT, f"--{opt} {shown}: must be a number")
      for opt, value, shown in [("fps", "-1", "-1"), ("fps", "nan", "nan"), ("fps", "inf", "inf"), ("fps", "1e308", "1e+308"),
                                ("fps", "0", "0"), ("sensitivity", "nan", "nan"), ("sensitivity", "inf", "inf"),
                                ("sensitivity", "-5", "-5")]),
    Probe("--fps not a number", lambda w: analyze(w, "--fps", "abc"), 2, "invalid float value", one_line=False),
    Probe("unknown command", lambda w: ["analyse", w.clip], 2, "unknown command 'analyse'", one_line=False),
    # the input
    Probe("missing video", lambda w: analyze(w)[:1] + [w.tmp / "none.mp4"] + analyze(w)[2:], EXIT_INPUT, "none.mp4: file not found"),
    Probe("symlink loop", lambda w: ["analyze", symlink_loop(w), "--out", w.out], EXIT_INPUT, "a.mp4: symbolic link loop"),
    Probe("broken symlink", lambda w: ["analyze", (w.tmp / "dangling.mp4").symlink_to(w.tmp / "gone.mp4")
                                       or w.tmp / "dangling.mp4", "--out", w.out], EXIT_INPUT, "broken symbolic link"),
    Probe("text file as video", lambda w: ["analyze", write_bytes(w.tmp / "t.mp4", b"hello"), "--out", w.out],
          EXIT_INPUT, "t.mp4: cannot be opened as a video"),
    Probe("empty file", lambda w: ["analyze", write_bytes(w.tmp / "e.avi", b""), "--out", w.out], EXIT_INPUT,
          "e.avi: cannot be opened as a video"),
    Probe("all-digit file name", lambda w: ["analyze", os.path.relpath(write_bytes(w.tmp / "2024", b"x")), "--out", w.out],
          EXIT_INPUT, "2024: cannot be opened as a video"),
    Probe("FIFO as video", lambda w: os.mkfifo(w.tmp / "pipe.mp4") or ["analyze", w.tmp / "pipe.mp4", "--out", w.out],
          EXIT_INPUT, "pipe.mp4: not a regular file"),
    Probe("image renamed .mp4", lambda w: ["analyze", write_bytes(w.tmp / "img.mp4", cv2.imencode(".png", frames(1)[0])[1].tobytes()),
                                           "--out", w.out], EXIT_INPUT, "img.mp4: holds a single image, not a video"),
    Probe("1-frame video", lambda w: ["analyze", write_video(w.tmp / "one.avi", frames(1), 25), "--out", w.out],
          EXIT_INPUT, "1 frame(s), 0.04 s: spotting needs a clip of at least 1 s"),
    Probe("0.5 fps video", lambda w: ["analyze", write_video(w.tmp / "slow.avi", frames(4), 0.5), "--out", w.out],
          EXIT_INPUT, "frame rate 0.5 fps is too low for spotting"),
    Probe("no readable frame in a folder", lambda w: ["analyze", (w.tmp / "junk").mkdir() or write_bytes(w.tmp / "junk" / "1.png", b"x").parent,
                                                      "--out", w.out], EXIT_INPUT, "1.png: cannot be read as an image"),
    Probe("0-fps header", lambda w: ["analyze", no_frame_rate(w), "--out", w.out], EXIT_INPUT,
          "norate.avi: the file declares no frame rate (OpenCV would assume 25 fps); give the real rate with --fps"),
    Probe("folder without frames", lambda w: ["analyze", (w.tmp / "empty").mkdir() or w.tmp / "empty", "--out", w.out],
          EXIT_INPUT, "no numbered image frames"),
    Probe("duplicate frame numbers", lambda w: ["analyze", frame_folder(w, ["a001.jpg", "b001.png", "a002.jpg"]), "--out", w.out],
          EXIT_INPUT, "frame number 1 appears twice (a001.jpg, b001.png)"),
    Probe("frame folder too slow", lambda w: ["analyze", frame_folder(w, [f"{i}.png" for i in range(20)]), "--fps", "5",
                                              "--out", w.out], EXIT_INPUT, "frame rate 5 fps is too low", one_line=False),
    # the model
    Probe("missing model", lambda w: analyze(w)[:5] + [w.tmp / "none.onnx"], EXIT_INPUT, "none.onnx: model file not found"),
    Probe("model is a folder", lambda w: analyze(w)[:5] + [w.tmp], EXIT_INPUT, "is a folder, not a model file"),
    Probe("--provider unknown", lambda w: analyze(w, "--provider", "gpu"), 2, "invalid choice: 'gpu'", one_line=False),
    Probe("model not ONNX", lambda w: analyze(w)[:5] + [write_bytes(w.tmp / "m.onnx", b"hello")], EXIT_INPUT,
          "not a loadable ONNX model"),
    Probe("model without metadata", lambda w: analyze(w)[:5] + [build_tiny_model(w.tmp / "bare.onnx", metadata=False)],
          EXIT_INPUT, "not an EPIR Live model (metadata missing"),
    Probe("metadata not JSON", card(classes="[oops"), EXIT_INPUT, "model metadata epir.classes is not valid JSON"),
    Probe("input height a string", card(input={"height": "28"}), EXIT_INPUT, 'input height must be an integer, not "28"'),
    Probe("training a list", card(training="[1, 2]"), EXIT_INPUT, "epir.training must be an object, not list"),
    Probe("crop_size 0", card(input={"crop_size": 0}), EXIT_INPUT, "input crop_size 0 is outside [32, 2048]"),
    Probe("eye_y NaN", card(input={"eye_y": float("nan")}), EXIT_INPUT, "input eye_y must be a number, not NaN"),
    Probe("unknown input field", card(input={"colour": 1}), EXIT_INPUT, "unknown input field(s) ['colour']"),
    Probe("duplicate classes", card(classes='["a", "a", "b"]'), EXIT_INPUT, "class names are not unique"),
    Probe("name not a string", card(name="3"), EXIT_INPUT, "epir.name must be a string, not int"),
    Probe("contract version", card(contract="99"), EXIT_INPUT, "model contract version 99"),
    Probe("attention grid", card(attention_grid="[0, 7]"), EXIT_INPUT, "attention grid [0, 7] is not (h, w)"),
    Probe("logits NaN", lambda w: analyze(w)[:5] + [with_graph_change(w.tmp / "nan.onnx", w.model, nan=True)],
          EXIT_INPUT, "model output logits holds NaN or infinite values"),
    Probe("6 logits for 3 classes", lambda w: analyze(w)[:5] + [with_graph_change(w.tmp / "wide.onnx", w.model, symbolic_logits=6)],
          EXIT_INPUT, "model output logits has shape [1, 6], expected [1, 3]"),
    Probe("declared logits size", lambda w: analyze(w)[:5] + [build_tiny_model(w.tmp / "six.onnx", logits_dim=6)],
          EXIT_INPUT, "logits has shape ['N', 6] but the metadata says [N, 3]"),
    # the output folder
    Probe("--out is a file", lambda w: analyze(w)[:3] + [w.out / "events.csv"], EXIT_OUTPUT, "events.csv: exists and is not a folder"),
    Probe("--out under a file", lambda w: analyze(w)[:3] + [w.out / "events.csv" / "sub"], EXIT_OUTPUT, "is a file, not a folder"),
    Probe("--out being written", lambda w: being_written(w.out) or analyze(w), EXIT_OUTPUT, "another analysis (process"),
    # the library
    Probe("library of another program", foreign_db, EXIT_INPUT, "an SQLite database of another program"),
    Probe("damaged library", damaged_library, EXIT_INPUT, "left untouched"),
    Probe("newer library", newer_library, EXIT_INPUT, "is newer than this EPIR Live reads"),
    Probe("library is a file", lambda w: analyze(w, "--library", w.out / "events.csv"), EXIT_INPUT,
          "not a folder (a session library is a folder)"),
    Probe("library under a file", lambda w: analyze(w, "--library", w.out / "events.csv" / "lib"), EXIT_INPUT,
          "is a file, not a folder"),
    Probe("report to a folder", lambda w: ["report", "1", "--library", w.library, "--out", w.out], EXIT_OUTPUT,
          "is a folder; give the report's file name"),
    Probe("report under a file", lambda w: ["report", "1", "--library", w.library, "--out", w.out / "events.csv" / "r.html"],
          EXIT_OUTPUT, "is a file, not a folder"),
    Probe("report: no library there", lambda w: ["report", "1", "--library", w.tmp / "nolib", "--out", w.tmp / "r.html"],
          EXIT_INPUT, "nolib: no session library here"),
    Probe("report: unknown session", lambda w: ["report", "42", "--library", w.library, "--out", w.tmp / "r.html"],
          EXIT_INPUT, "no session with this id or label"),
    Probe("report: ambiguous label", lambda w: ["report", "interview", "--library", two_sessions(w, "interview 1", "interview 2"),
                                                "--out", w.tmp / "r.html"], EXIT_INPUT, "matches 2 sessions (ids 2, 3); give an id"),
    Probe("delete an unknown session", lambda w: ["sessions", "--library", w.library, "--delete", "9"], EXIT_INPUT,
          "no session with this id or label"),
    Probe("sessions: bad date", lambda w: ["sessions", "--library", w.library, "--since", "yesterday"], 2,
          "invalid fromisoformat value", one_line=False),
    # evaluation files
    Probe("binary truth file", lambda w: ["evaluate-spotting", "--pred", write_bytes(w.tmp / "events.csv", b"event_id\n"),
                                          "--truth", write_bytes(w.tmp / "truth.csv", bytes(range(256)))],
          EXIT_INPUT, "truth.csv: not a text file (not UTF-8"),
    Probe("binary events file", lambda w: ["evaluate-spotting", "--pred", write_bytes(w.tmp / "events.json", b"\xff\xfe\x00"),
                                           "--truth", w.tmp], EXIT_INPUT, "events.json: not a text file"),
    Probe("events.json not JSON", lambda w: ["evaluate-spotting", "--pred", write_bytes(w.tmp / "events.json", b"{"),
                                             "--truth", w.tmp], EXIT_INPUT, "events.json: not valid JSON"),
]


@pytest.mark.parametrize("probe", PROBES, ids=[p.kind for p in PROBES])
def test_refused_with_one_line_and_nothing_touched(world, capsys, probe):
    argv = probe.make(world)
    before_out, before_lib = snapshot(world.out), snapshot(world.library)
    if argv[0] == "analyze" and "--library" not in argv:
        argv += ["--library", world.library]
    try:
        code, _, err = run_cli(capsys, *argv)
    except SystemExit as exc:  # argparse's own errors (usage line + message)
        code, err = exc.code, capsys.readouterr().err
    assert code == probe.code, err
    assert probe.message in err
    assert "Traceback" not in err
    if probe.one_line:
        assert err.count("\n") == 1, err
    if probe.kind not in ("damaged library", "newer library"):  # the probe itself changed those files
        assert snapshot(world.library) == before_lib
    assert snapshot(world.out) == before_out
    assert not list(world.tmp.rglob("*.tmp"))


# --- probes that still analyse ----------------------------------------------------------------------------

def test_fps_on_a_video_file_is_said_to_be_ignored(world, capsys):
    code, out, err = run_cli(capsys, *analyze(world, "--fps", "60"))
    assert code == 0, err
    assert "note: --fps 60 ignored: a video file's own clock (15 fps) is used" in err
    summary = json.loads((world.out / "events.json").read_text())["summary"]
    assert summary["complete"] is True and summary["frames"] == 18
    assert not (world.out / "partial").exists()


def test_a_video_without_a_frame_rate_takes_the_one_given(world, capsys):
    code, _, err = run_cli(capsys, "analyze", no_frame_rate(world), "--fps", "30", "--out", world.out, "--no-progress")
    assert code == 0 and "norate.avi declares no frame rate; using --fps 30" in err
    header = json.loads((world.out / "events.json").read_text())
    assert header["source"]["fps"] == 30 and header["summary"]["frames"] == 30


def test_unusable_container_timestamps_give_way_to_frame_numbers(world, capsys):
    """A raw MJPEG stream (JPEGs back to back): OpenCV reports timestamps around -7.7e15 ms."""
    stream = b"".join(cv2.imencode(".jpg", image)[1].tobytes() for image in frames(30))
    code, _, err = run_cli(capsys, "analyze", write_bytes(world.tmp / "raw.mjpeg", stream), "--out", world.out,
                           "--no-progress")
    assert code == 0, err
    assert "raw.mjpeg: the file's timestamps are unusable" in err and "using frame number / 25 fps" in err
    assert json.loads((world.out / "events.json").read_text())["summary"]["clock"] == "frame_index"
    with open(world.out / "frames.csv", newline="") as handle:
        stamps = [float(row["timestamp"]) for row in csv.DictReader(handle)]
    assert np.allclose(stamps, np.arange(30) / 25, atol=1e-6)


def test_corrupt_frames_inside_a_video_are_skipped_and_counted(world, capsys):
    images = [np.full((96, 128, 3), (i * 7) % 256, np.uint8) for i in range(120)]
    for i, image in enumerate(images):
        cv2.putText(image, str(i), (10, 50), 0, 1, (255, 255, 255), 2)
    data = bytearray(write_video(world.tmp / "whole.avi", images, 30).read_bytes())
    data[len(data) // 2: len(data) // 2 + 400] = b"\xff" * 400  # OpenCV's first read there fails
    damaged = write_bytes(world.tmp / "damaged.avi", bytes(data))
    code, _, err = run_cli(capsys, "analyze", damaged, "--out", world.out, "--no-progress")
    assert code == 0, err
    summary = json.loads((world.out / "events.json").read_text())["summary"]
    assert summary["skipped_frames"] >= 1 and summary["frames"] + summary["skipped_frames"] == 120
    assert not summary["truncated"]
    assert f"{summary['skipped_frames']} undecodable frame(s) skipped" in err


def test_bad_frames_in_a_folder_are_skipped_with_a_warning(world, capsys):
    folder = frame_folder(world, [f"img{i:03d}.png" for i in range(40)])
    (folder / "img005.png").write_bytes(b"not a png")
    cv2.imwrite(str(folder / "img006.png"), np.zeros((10, 10, 3), np.uint8))  # another size
    os.mkfifo(folder / "img099.png")  # a pipe would block a reader
    code, _, err = run_cli(capsys, "analyze", folder, "--out", world.out, "--no-progress")
    assert code == 0, err
    assert "img005.png: cannot be read as an image; skipped" in err
    assert "img006.png: is 10x10, not 128x96 like the first frame; skipped" in err
    assert "img099.png: not a regular file; skipped" in err
    summary = json.loads((world.out / "events.json").read_text())["summary"]
    assert summary["frames"] == 38 and summary["skipped_frames"] == 2


def test_a_digit_named_video_is_a_file_not_a_camera(world, capsys, monkeypatch):
    monkeypatch.chdir(world.tmp)
    os.link(world.clip, world.tmp / "2024")
    code, _, err = run_cli(capsys, "analyze", "2024", "--out", world.out, "--no-progress")
    assert code == 0 and "2024: 128x96, 15.00 fps, 18 frames" in err


def test_a_dead_runs_partial_folder_is_moved_aside_not_lost(world, capsys):
    stale = world.out / "partial"
    stale.mkdir()
    (stale / "frames.csv").write_text("rows of a killed run\n")
    (stale / ".writer").write_text(f"{os.uname().nodename}\n999999999\n")  # no such process
    code, _, err = run_cli(capsys, *analyze(world))
    assert code == 0, err
    aside = [p for p in world.out.iterdir() if p.name.startswith("partial-")]
    assert len(aside) == 1 and (aside[0] / "frames.csv").read_text() == "rows of a killed run\n"
    assert "an interrupted run's results; moved to" in err


def test_strict_json_and_a_label_with_markup(world, capsys):
    code, _, err = run_cli(capsys, *analyze(world, "--library", world.library, "--label", "\x1b[2J$x^2$\nfake row"))
    assert code == 0, err
    json.loads((world.out / "events.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    code, out, _ = run_cli(capsys, "sessions", "--library", world.library)
    assert code == 0 and "\x1b" not in out and "\\x1b[2J$x^2$\\nfake row" in out
    with Library(world.library) as library:
        library.add_marker(2, 0.5, "$\\frac{a}{$", "")
    code, _, err = run_cli(capsys, "report", "2", "--library", world.library, "--out", world.tmp / "r.html")
    assert code == 0, err


def test_a_damaged_row_is_listed_as_damaged_and_the_others_too(world, capsys):
    with Library(world.library) as library:
        library.start_session("fine", CAMERA).finish()
    conn = sqlite3.connect(world.library / store.DB_NAME)
    conn.execute("UPDATE sessions SET settings = '{oops', model_card = '[1]' WHERE id = 1")
    conn.commit()
    conn.close()
    code, out, _ = run_cli(capsys, "sessions", "--library", world.library)
    assert code == 0
    lines = out.splitlines()
    assert any("damaged" in line and "earlier" in line for line in lines)
    assert any("finished" in line and "fine" in line for line in lines)


def test_an_unexpected_error_is_one_line_and_its_traceback_is_logged(world, capsys, monkeypatch):
    import app.analyze_cmd

    def broken(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.analyze_cmd, "check_spottable", broken)
    code, _, err = run_cli(capsys, *analyze(world))
    assert code == EXIT_INTERNAL
    assert err.strip().splitlines()[-1].startswith("internal error: RuntimeError: a bug (traceback in ")
    log_text = (Path(os.environ[logs.LOGS_ENV]) / logs.LOG_NAME).read_text()
    assert "Traceback (most recent call last)" in log_text and "RuntimeError: a bug" in log_text
    assert snapshot(world.out) == {n: f"earlier results: {n}\n".encode() for n in ("events.csv", "events.json", "frames.csv")}


def test_verbose_shows_the_log_on_the_terminal(world, capsys):
    code, _, err = run_cli(capsys, "--verbose", "analyze", world.tmp / "none.mp4", "--out", world.out)
    assert code == EXIT_INPUT and "epir-live started" in err and err.strip().endswith("none.mp4: file not found")
    code, _, err = run_cli(capsys, "analyze", world.tmp / "none.mp4", "--out", world.out)
    assert "epir-live started" not in err
    assert "epir-live started" in (Path(os.environ[logs.LOGS_ENV]) / logs.LOG_NAME).read_text()
