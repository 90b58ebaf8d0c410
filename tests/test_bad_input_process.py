"""Failure modes that need a real process: file names that are not UTF-8 (OpenCV crashed on them),
signals (Ctrl-C, SIGTERM, SIGKILL), a native crash, a missing Qt platform plugin, a full disk, and
read-only file systems.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest

from app import cli, logs
from app.errors import EXIT_OUTPUT, EXIT_SIGINT, EXIT_SIGTERM
from app.sessions import Library, store
from tests.conftest import write_video
from tests.test_bad_input import CAMERA, frames, snapshot

ROOT = Path(__file__).resolve().parent.parent
EARLIER = {n: f"earlier results: {n}\n".encode() for n in ("events.csv", "events.json", "frames.csv")}


def start(*args, limit_bytes: int | None = None, env: dict | None = None, **kwargs) -> subprocess.Popen:
    """``main.py ARGS`` as a child process (optionally with a file-size limit: a "full disk")."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
                            preexec_fn=limit if limit_bytes else None, **kwargs)


def run(*args, **kwargs) -> tuple[int, str, str]:
    child = start(*args, **kwargs)
    out, err = child.communicate(timeout=300)
    return child.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """20 s without a face: long enough to be interrupted while it is analysed."""
    return write_video(tmp_path_factory.mktemp("long") / "long.avi", frames(20) * 30, 30)


@pytest.fixture()
def earlier_out(tmp_path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    for name, data in EARLIER.items():
        (out / name).write_bytes(data)
    return out


def test_file_names_that_are_not_utf8_are_analysed(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9"
    clip = Path(os.fsdecode(raw + b".avi"))
    write_video(tmp_path / "plain.avi", frames(18), 15).rename(clip)
    code, out, err = run("analyze", clip, "--out", tmp_path / "o1", "--no-progress")
    assert code == 0, err
    assert "caf\\xe9.avi: 128x96, 15.00 fps, 18 frames" in err
    assert json.loads((tmp_path / "o1" / "events.json").read_text())["source"]["path"].endswith("caf\\xe9.avi")


def test_frame_names_that_are_not_utf8_are_read(tmp_path, capsys):
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9_frames"))
    folder.mkdir()
    for i, image in enumerate(frames(20)):
        (folder / os.fsdecode(b"\xff%03d.png" % i)).write_bytes(cv2.imencode(".png", image)[1].tobytes())
    code, _, err = run_cli(capsys, "analyze", folder, "--fps", "15", "--out", tmp_path / "o", "--no-progress")
    assert code == 0, err
    assert json.loads((tmp_path / "o" / "events.json").read_text())["summary"]["frames"] == 20


def _wait_for_rows(path: Path, rows: int, child: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()[1].decode()
        if path.exists() and path.read_text().count("\n") > rows:
            return
        time.sleep(0.05)
    pytest.fail(f"{path} never got {rows} rows")


def test_ctrl_c_and_sigterm_write_the_summary_and_keep_earlier_results(tmp_path, long_clip):
    """Both signals, each to its own run (the two run side by side)."""
    cases = {signal.SIGINT: (EXIT_SIGINT, "interrupted"), signal.SIGTERM: (EXIT_SIGTERM, "terminated")}
    runs = {}
    for sig in cases:
        out, library = tmp_path / sig.name / "out", tmp_path / sig.name / "library"
        out.mkdir(parents=True)
        for name, data in EARLIER.items():
            (out / name).write_bytes(data)
        runs[sig] = (out, library, start("analyze", long_clip, "--out", out, "--library", library, "--no-progress"))
    for sig, (out, _, child) in runs.items():
        _wait_for_rows(out / "partial" / "frames.csv", 20, child)
        child.send_signal(sig)
    for sig, (out, library, child) in runs.items():
        err = child.communicate(timeout=60)[1].decode()
        code, said = cases[sig]
        assert child.returncode == code, err
        assert err.strip().endswith(said) and "Traceback" not in err
        assert f'"complete": false) are in {out}/partial/' in err
        assert {k: v for k, v in snapshot(out).items() if "/" not in k} == EARLIER  # byte for byte
        kept = json.loads((out / "partial" / "events.json").read_text())
        assert kept["summary"]["complete"] is False and kept["summary"]["frames"] >= 20
        rows = (out / "partial" / "frames.csv").read_text().splitlines()
        assert len(rows) - 1 == kept["summary"]["frames"]
        with Library(library) as opened:
            assert [s.status for s in opened.sessions()] == ["interrupted"]


def test_sigkill_loses_at_most_half_a_second_in_the_library_and_the_files(tmp_path, long_clip):
    """The progress bar says how many frames were analysed when the process was killed; the library
    and frames.csv must hold all but the last 0.5 s of them (at the bar's own rate)."""
    out, library = tmp_path / "out", tmp_path / "library"
    child = start("analyze", long_clip, "--out", out, "--library", library)
    seen: list[tuple[float, int]] = []

    def read_bar() -> None:
        buffer = b""
        while chunk := child.stderr.read1(4096):
            buffer = (buffer + chunk)[-400:]
            counts = re.findall(rb"(\d+)/600 \[", buffer)
            if counts:
                seen.append((time.monotonic(), int(counts[-1])))

    reader = threading.Thread(target=read_bar, daemon=True)
    reader.start()
    _wait_for_rows(out / "partial" / "frames.csv", 60, child)
    time.sleep(1.0)
    child.kill()
    child.wait(timeout=30)
    reader.join(timeout=10)
    killed_at = seen[-1][1]
    recent = [(t, n) for t, n in seen if t >= seen[-1][0] - 3.0]
    rate = max((recent[-1][1] - recent[0][1]) / max(recent[-1][0] - recent[0][0], 1e-3), 1.0)
    in_csv = (out / "partial" / "frames.csv").read_text().count("\n") - 1
    conn = sqlite3.connect(library / store.DB_NAME)
    in_library = conn.execute("SELECT count(*) FROM frames WHERE confidence IS NOT NULL").fetchone()[0]
    conn.close()
    for name, kept in (("frames.csv", in_csv), ("library", in_library)):
        lost_s = (killed_at - kept) / rate
        print(f"{name}: {kept} of {killed_at} frames kept, {lost_s:.3f} s lost at {rate:.0f} frames/s")  # README figure
        assert lost_s <= 0.5, f"{name}: {killed_at - kept} frames ({lost_s:.2f} s at {rate:.0f} frames/s) lost"
    assert not (out / "events.json").exists()  # nothing complete was claimed


def test_a_native_crash_leaves_the_python_stack_on_the_terminal_and_in_the_log(tmp_path):
    code = ("import ctypes, sys; sys.path.insert(0, '.'); from app.logs import setup_logging; "
            "from app.native import filter_native_stderr; filter_native_stderr(setup_logging()); ctypes.string_at(0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, logs.LOGS_ENV: str(tmp_path)})
    assert done.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in done.stderr and "string_at" in done.stderr
    assert "Fatal Python error: Segmentation fault" in (tmp_path / logs.LOG_NAME).read_text()


def test_a_missing_qt_platform_plugin_is_said_on_the_terminal(tmp_path):
    pytest.importorskip("PySide6")
    code, _, err = run(env={"QT_QPA_PLATFORM": "no-such-plugin", "DISPLAY": ":99", logs.LOGS_ENV: str(tmp_path)})
    assert code != 0
    assert "no-such-plugin" in err and "Qt platform plugin" in err
    assert "Qt platform plugin" in (tmp_path / logs.LOG_NAME).read_text()


@pytest.mark.parametrize("with_library,limit,message", [
    (False, 6_000, r"error: .*partial/frames\.csv: File too large"),
    (True, 100_000, r"error: .*library: session library: (disk I/O error|database or disk is full)"),
])
def test_a_full_disk_fails_with_one_line_and_keeps_earlier_results(tmp_path, long_clip, earlier_out, with_library,
                                                                   limit, message):
    """A file-size limit stands in for a full disk (same failure, writes refused mid-run)."""
    library = tmp_path / "library"
    if with_library:
        Library(library).close()
    extra = ["--library", library] if with_library else []
    code, _, err = run("analyze", long_clip, "--out", earlier_out, "--no-progress", *extra, limit_bytes=limit,
                       env={logs.LOGS_ENV: str(tmp_path / "logs")})
    assert code == EXIT_OUTPUT, err
    assert re.search(message, err) and "Traceback" not in err and err.strip().count("\n") <= 3
    assert {k: v for k, v in snapshot(earlier_out).items() if "/" not in k} == EARLIER
    assert not list(earlier_out.rglob("*.tmp"))
    if with_library:
        with Library(library) as opened:
            assert [s.status for s in opened.sessions()] == ["interrupted"]


# --- read-only file systems -------------------------------------------------------------------------

@pytest.fixture()
def read_only(tmp_path):
    """A folder on a read-only file system (a tmpfs remounted read-only, as root), filled by ``fill``."""
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only file system needs root (chmod does not stop root)")
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")

    def freeze() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)

    yield mount, freeze
    subprocess.run(["umount", str(mount)], check=True)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = cli.main([str(a) for a in argv])
    finally:
        for handler in logs._Handlers.installed:
            logging.getLogger().removeHandler(handler)
    out, err = capsys.readouterr()
    return code, out, err


def test_read_only_library_lists_and_reports_and_refuses_changes(read_only, tmp_path, capsys):
    mount, freeze = read_only
    library = mount / "library"
    with Library(library) as opened:
        opened.start_session("kept", CAMERA).finish()
    freeze()
    before = snapshot(library)
    code, out, err = run_cli(capsys, "sessions", "--library", library)
    assert code == 0, err
    assert "(read-only)" in out and "kept" in out
    code, out, err = run_cli(capsys, "report", "kept", "--library", library, "--out", tmp_path / "r.html")
    assert code == 0 and (tmp_path / "r.html").is_file(), err
    code, _, err = run_cli(capsys, "sessions", "--library", library, "--delete", "1")
    assert code == EXIT_OUTPUT and "read-only here; nothing was changed" in err
    clip = write_video(tmp_path / "clip.avi", frames(18), 15)
    code, _, err = run_cli(capsys, "analyze", clip, "--out", tmp_path / "o", "--library", library)
    assert code == EXIT_OUTPUT and "the session library cannot be written" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
    assert snapshot(library) == before


def test_read_only_output_folder_and_report_path(read_only, tmp_path, capsys):
    mount, freeze = read_only
    (mount / "out").mkdir()
    for name, data in EARLIER.items():
        (mount / "out" / name).write_bytes(data)
    library = tmp_path / "library"
    with Library(library) as opened:
        opened.start_session("s", CAMERA).finish()
    freeze()
    clip = write_video(tmp_path / "clip.avi", frames(18), 15)
    code, _, err = run_cli(capsys, "analyze", clip, "--out", mount / "out", "--no-progress")
    assert code == EXIT_OUTPUT and "(read-only or permission denied)" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "report", "1", "--library", library, "--out", mount / "r.html")
    assert code == EXIT_OUTPUT and "r.html: cannot be written" in err and err.count("\n") == 1
    assert snapshot(mount / "out") == EARLIER and not (mount / "r.html.tmp").exists()
