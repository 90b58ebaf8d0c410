"""Clinical data stays private, on real files: modes under umask 022, SQLCipher and AES-GCM encryption,
wrong passphrases changing no byte, an encryption killed midway, retention, de-identified reports."""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import cv2
import keyring
import pytest
from keyring.backend import KeyringBackend

from app import analyze_cmd
from app.classifier import Classifier
from app.events import FrameRow
from app.gui.live_session import LiveSession
from app.pipeline import Pipeline, PipelineOptions
from app.sessions import Library, crypto, privacy, report_cmd, sessions_cmd, store
from app.sessions.analysis import record_analysis
from app.sources import FileSource, SourceInfo
from models.synth import ExpressionEvent, NuisanceOptions, render_sequence
from tests.conftest import write_video
from tests.onnx_fixtures import build_tiny_model

ROOT = Path(__file__).resolve().parent.parent
CAMERA = SourceInfo("camera", "camera 0", 30.0, 640, 480, None, True)
SECRET = "correct horse battery staple"


@pytest.fixture(autouse=True)
def umask_022():
    """The usual umask, under which files are world-readable unless the code makes them private."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch):
    """A cheaper scrypt for new keys in this process (the cost is stored with the key, so reading works)."""
    monkeypatch.setattr(crypto, "SCRYPT_N", 2**14)
    yield
    crypto._unlocked.clear()


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory, astronaut_bgr) -> Path:
    """1.5 s of a real face (the astronaut portrait), 320×320 MJPG."""
    face = cv2.resize(astronaut_bgr[0:320, 120:440], (320, 320))
    return write_video(tmp_path_factory.mktemp("privacy") / "face.avi", [face] * 45, 30.0)


def cli(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.configure(parser)
    return module.main(parser.parse_args(argv))


def live_session_with_video(library: Path, clip: Path) -> int:
    """A session recorded the way the desktop app records it (LiveSession, video on), fed by the pipeline;
    the video is private while it is being written, too."""
    session = LiveSession(library, "visit 1", {}, record_video=True)
    with FileSource(clip) as source, Pipeline(source.info.fps, PipelineOptions(), None) as pipeline:
        session.start(source.info, None)
        for result in pipeline.run(source, live=False):
            session.feed(result)
    assert session.video.written > 0 and session.video.path.stat().st_mode & 0o777 == 0o600
    session_id = session.session_id
    session.close()
    return session_id


def modes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root.parent)): oct(p.stat().st_mode & 0o777) for p in [root, *root.rglob("*")]}


def digests(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_analyze_library_files_and_reports_are_private(tmp_path, face_clip, capsys):
    library, out = tmp_path / "clinic" / "library", tmp_path / "analysis"
    assert cli(analyze_cmd, [str(face_clip), "--out", str(out), "--library", str(library), "--no-progress"]) == 0
    with Library(library) as opened, opened.start_session("open", CAMERA) as recorder:
        recorder.add_frame(FrameRow(0, 0.0, 0, 0.9, True, None, None))
        recorder.flush()  # a writer is open: the -wal and -shm files exist now
        found = modes(library)
        assert {"library/library.sqlite3-wal", "library/library.sqlite3-shm"} <= set(found)
    assert found.pop("library") == "0o700" and (tmp_path / "clinic").stat().st_mode & 0o777 == 0o700
    for kind in ("library.sqlite3", "library.sqlite3-wal", "library.sqlite3-shm"):
        assert found.pop(f"library/{kind}") == "0o600", kind
    assert set(found.values()) == {"0o700"} and set(found) == {"library/sessions", "library/sessions/1",
                                                                "library/sessions/2"}
    assert set(modes(out).values()) == {"0o700", "0o600"} and len(modes(out)) == 4  # events.json/.csv, frames.csv
    assert cli(report_cmd, ["1", "--library", str(library), "--out", str(tmp_path / "reports" / "r.html")]) == 0
    assert modes(tmp_path / "reports") == {"reports": "0o700", "reports/r.html": "0o600"}
    assert "can be read by other users" not in capsys.readouterr().err


def test_app_session_video_is_private(tmp_path, face_clip):
    library = tmp_path / "library"
    session_id = live_session_with_video(library, face_clip)
    with Library(library) as opened:
        video = opened.info(session_id).video_path
    assert video.is_file() and oct(video.stat().st_mode & 0o777) == "0o600"
    assert oct(video.parent.stat().st_mode & 0o777) == "0o700" and not Library(library).exposed


def test_readable_library_is_reported_once_and_fixed(tmp_path, capsys):
    library = tmp_path / "library"
    with Library(library) as opened:
        opened.start_session("x", CAMERA).finish()
    os.chmod(library, 0o755)
    os.chmod(library / store.DB_NAME, 0o644)
    assert cli(sessions_cmd, ["--library", str(library)]) == 0
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "4 files or folders can be read by other users" in warning[0]  # with -wal, -shm
    assert "--fix-permissions" in warning[0]
    assert cli(sessions_cmd, ["--library", str(library), "--fix-permissions"]) == 0
    captured = capsys.readouterr()
    assert "made private: 4" in captured.out and captured.err == ""
    assert Library(library).exposed == [] and set(modes(library).values()) == {"0o700", "0o600"}


def test_encrypted_library_hides_database_and_video(tmp_path, face_clip, monkeypatch):
    library = tmp_path / "library"
    monkeypatch.setenv(crypto.PASSPHRASE_ENV, SECRET)
    assert cli(analyze_cmd, [str(face_clip), "--out", str(tmp_path / "out"), "--library", str(library),
                             "--label", "Jane Roe interview", "--encrypt", "--no-progress"]) == 0
    session_id = live_session_with_video(library, face_clip)  # the key unlocked above serves the app's session
    db = (library / store.DB_NAME).read_bytes()
    assert not db.startswith(store.SQLITE_MAGIC) and b"Jane Roe" not in db and b"CREATE TABLE" not in db
    crypto._unlocked.clear()
    with Library(library, passphrase=SECRET) as opened:
        info = opened.info(session_id)
        assert [s.label for s in opened.sessions()] == ["visit 1", "Jane Roe interview"]
        assert crypto.is_encrypted_file(info.video_path)
        assert not cv2.VideoCapture(str(info.video_path)).read()[0], "the encrypted video decoded without the key"
        playable = opened.playable_video(info.video_path)
    capture = cv2.VideoCapture(str(playable))
    assert capture.read()[0] and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) >= 40
    assert oct(playable.stat().st_mode & 0o777) == "0o600"
    crypto._unlocked.clear()
    monkeypatch.delenv(crypto.PASSPHRASE_ENV)
    with pytest.raises(crypto.LockedError, match="give its passphrase"):  # no terminal, no variable
        cli(sessions_cmd, ["--library", str(library), "--search", "visit"])


def test_wrong_passphrase_changes_no_byte(tmp_path, capsys, monkeypatch, face_clip):
    library = tmp_path / "library"
    with Library(library, SECRET, encrypt="passphrase") as opened:
        with opened.start_session("x", CAMERA) as recorder:
            recorder.add_frame(FrameRow(0, 0.0, 0, 0.9, True, None, None))
    crypto._unlocked.clear()
    before = digests(library)
    monkeypatch.setenv(crypto.PASSPHRASE_ENV, "wrong horse")
    for module, argv in ((sessions_cmd, []), (sessions_cmd, ["--purge-older-than", "0"]),
                         (report_cmd, ["1", "--out", str(tmp_path / "r.html")]),
                         (analyze_cmd, [str(face_clip), "--out", str(tmp_path / "out")])):
        capsys.readouterr()
        with pytest.raises(Exception) as caught:
            cli(module, ["--library", str(library), *argv])
        assert str(caught.value) == f"{library}: wrong passphrase for this encrypted library; nothing was changed"
    assert digests(library) == before and not (tmp_path / "r.html").exists() and not (tmp_path / "out").exists()
    assert sorted(p.name for p in library.iterdir()) == ["encryption.json", "library.sqlite3", "sessions"]


def test_sessions_encrypt_converts_a_plain_library_once(tmp_path, capsys, monkeypatch):
    library = tmp_path / "library"
    with Library(library) as opened:
        opened.start_session("visit", CAMERA).finish()
    monkeypatch.setenv(crypto.PASSPHRASE_ENV, SECRET)
    assert cli(sessions_cmd, ["--library", str(library), "--encrypt"]) == 0
    assert "encrypted the library in place: the database and 0 session files" in capsys.readouterr().out
    assert not (library / store.DB_NAME).read_bytes().startswith(store.SQLITE_MAGIC)
    crypto._unlocked.clear()
    assert cli(sessions_cmd, ["--library", str(library), "--encrypt"]) == 0
    assert "already encrypted; nothing was changed" in capsys.readouterr().out
    assert cli(sessions_cmd, ["--library", str(tmp_path / "new"), "--encrypt"]) == 0
    assert "created the library encrypted" in capsys.readouterr().out and crypto.is_encrypted(tmp_path / "new")


CONVERT = """
import sys
from app.sessions.library import Library
with Library(sys.argv[1]) as library:
    library.encrypt("passphrase", "pw")
"""


def _plain_library(root: Path) -> dict[int, bytes]:
    """Three finished sessions, each with a 16 MiB session file (so encrypting them takes a while)."""
    files = {}
    with Library(root) as library:
        for n in range(3):
            with library.start_session(f"s{n}", CAMERA) as recorder:
                recorder.add_frame(FrameRow(0, 0.0, 0, 0.9, True, None, None))
            files[recorder.session_id] = os.urandom(16 << 20)
            (recorder.folder / "video.avi").write_bytes(files[recorder.session_id])
            library.set_video(recorder.session_id, "video.avi")
    return files


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # renamed meanwhile
        return 0


def test_encryption_killed_midway_leaves_a_library_that_opens(tmp_path):
    library = tmp_path / "library"
    originals = _plain_library(library)
    child = subprocess.Popen([sys.executable, "-c", CONVERT, str(library)], cwd=ROOT)
    seen, deadline = [], time.monotonic() + 60
    try:
        while not seen and time.monotonic() < deadline and child.poll() is None:
            seen = [p for p in library.rglob(f"*{privacy.PENDING}") if _size(p) > 0]
            time.sleep(0.001)  # leave the (shared) cores to the child
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=10)
    assert seen and child.returncode == -signal.SIGKILL, "the conversion was not caught midway"
    assert not crypto.is_encrypted(library)
    with Library(library) as opened:  # the old, plain library, intact
        assert not opened.encrypted and sorted(s.label for s in opened.sessions()) == ["s0", "s1", "s2"]
        assert {s.id: s.video_path.read_bytes() for s in opened.sessions()} == originals
    assert not list(library.rglob(f"*{privacy.PENDING}"))


def test_encryption_interrupted_after_its_commit_completes_on_opening(tmp_path):
    library = tmp_path / "library"
    originals = _plain_library(library)
    spec, key = crypto.new_key("passphrase", "pw")
    privacy.prepare_conversion(library, key)
    crypto.write_spec(library, spec)  # committed; the process "dies" before the renames
    assert len(list(library.rglob(f"*{privacy.PENDING}"))) == 4
    with Library(library, passphrase="pw") as opened:
        assert opened.encrypted and sorted(s.label for s in opened.sessions()) == ["s0", "s1", "s2"]
        for info in opened.sessions():
            assert crypto.is_encrypted_file(info.video_path)
            assert opened.playable_video(info.video_path).read_bytes() == originals[info.id]
    assert not list(library.rglob(f"*{privacy.PENDING}"))
    assert not (library / store.DB_NAME).read_bytes().startswith(store.SQLITE_MAGIC)


class MemoryKeyring(KeyringBackend):
    """An in-process keyring backend: this machine has no OS keyring (keyring's own fail backend)."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def set_password(self, service, username, password):
        self.entries[service, username] = password

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def delete_password(self, service, username):
        del self.entries[service, username]


def test_keyring_key_opens_without_a_passphrase(tmp_path):
    original = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        with Library(tmp_path / "library", encrypt="keyring") as opened:
            opened.start_session("x", CAMERA).finish()
        crypto._unlocked.clear()
        with Library(tmp_path / "library") as opened:
            assert opened.encrypted and [s.label for s in opened.sessions()] == ["x"]
    finally:
        keyring.set_keyring(original)
    crypto._unlocked.clear()
    with pytest.raises(Exception, match="keyring"):  # this machine has none: one clear line
        Library(tmp_path / "library")


def test_purge_removes_exactly_what_the_dry_run_listed(tmp_path, capsys):
    library = tmp_path / "library"
    today = date.today()
    with Library(library) as opened:
        for label, age in (("old", 40), ("edge", 31), ("recent", 29), ("today", 0)):
            opened.start_session(label, CAMERA).finish()
            (opened.session_dir(len(opened.sessions())) / "video.avi").write_bytes(b"frames")
            started = time.mktime((today - timedelta(days=age)).timetuple()) + 3600
            opened._conn.execute("UPDATE sessions SET started_at = ? WHERE label = ?", (started, label))
    assert cli(sessions_cmd, ["--library", str(library), "--purge-older-than", "30", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    with Library(library) as opened:
        assert len(opened.sessions()) == 4
    assert cli(sessions_cmd, ["--library", str(library), "--purge-older-than", "30"]) == 0
    real = capsys.readouterr().out
    def listed(text: str) -> list[str]:  # the labels in the table rows
        return sorted(line.split()[-1] for line in text.splitlines() if line[:4].strip().isdigit())

    assert listed(dry) == listed(real) == ["edge", "old"]
    with Library(library) as opened:
        assert sorted(s.label for s in opened.sessions()) == ["recent", "today"]
        assert sorted(p.name for p in (library / "sessions").iterdir()) == ["3", "4"]


def test_no_faces_report_and_session_hold_no_face_picture(tmp_path):
    """One real analysis (two expressions on a real face) recorded twice: with pictures, and de-identified
    as ``analyze --no-faces`` records it; then the full and the ``report --no-faces`` report of the first."""
    expressions = [ExpressionEvent({"4": 1.2, "7": 1.2}, onset_s=1.0, apex_s=1.15, offset_s=1.35),
                   ExpressionEvent({"6": 1.2, "12": 1.2}, onset_s=2.2, apex_s=2.35, offset_s=2.55)]
    images, _ = render_sequence("grace_hopper", expressions, fps=30, duration_s=3.2, seed=4,
                                nuisances=NuisanceOptions(noise_sigma=1.0))
    clip = write_video(tmp_path / "patient-clip.avi", images, 30)
    classifier = Classifier(build_tiny_model(tmp_path / "tiny.onnx"), "cpu")
    with FileSource(clip) as source, Pipeline(source.info.fps, PipelineOptions(), classifier) as pipeline:
        full = record_analysis(tmp_path / "full", None, source.info, PipelineOptions(), classifier)
        bare = record_analysis(tmp_path / "bare", None, source.info, PipelineOptions(), classifier, pictures=False)
        with full, bare:
            for result in pipeline.run(source, live=False):
                full.feed(result)
                bare.feed(result)
    with Library(tmp_path / "bare") as opened:
        stored = opened.load(1).events
    assert len(stored) == 2 and all(s.onset_png is None and s.attention_png is None for s in stored)
    with Library(tmp_path / "full") as opened:
        session = opened.load(1)
    pictures = [p for s in session.events for p in (s.onset_png, s.attention_png)]
    assert len(pictures) == 4 and all(pictures)

    full_report, plain_report = tmp_path / "full.html", tmp_path / "plain.html"
    assert cli(report_cmd, ["1", "--library", str(tmp_path / "full"), "--out", str(full_report)]) == 0
    assert cli(report_cmd, ["1", "--library", str(tmp_path / "full"), "--out", str(plain_report), "--no-faces"]) == 0
    full_html, plain_html = full_report.read_text(), plain_report.read_text()
    encoded = [base64.b64encode(p).decode() for p in pictures]
    assert all(e in full_html for e in encoded) and "Identifiable report" in full_html
    assert not any(e in plain_html for e in encoded) and "De-identified report" in plain_html
    assert plain_html.count("<img") == 1 and "alt='timeline'" in plain_html  # the signal plot, nothing else
    assert "patient-clip" not in plain_html and "patient-clip" in full_html
    assert all(f"id='event-{s.event.event_id}'" in plain_html for s in session.events)


WITHOUT_EXTRA = """
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('sqlcipher3', 'cryptography', 'keyring'):
            raise ImportError(f'{name} is blocked in this test')
        return None

sys.meta_path.insert(0, Refuse())
from app.cli import main
codes = [main(['sessions', '--library', library]) for library in sys.argv[1:]]
print('exit codes', *codes)
"""


def test_plain_libraries_need_no_privacy_extra(tmp_path):
    """Without sqlcipher3, cryptography and keyring a plain library works; an encrypted one says what to install."""
    with Library(tmp_path / "plain") as opened:
        opened.start_session("visit", CAMERA).finish()
    with Library(tmp_path / "encrypted", SECRET, encrypt="passphrase"):
        pass
    done = subprocess.run([sys.executable, "-c", WITHOUT_EXTRA, str(tmp_path / "plain"), str(tmp_path / "encrypted")],
                          cwd=ROOT, text=True, capture_output=True, timeout=120,
                          env={**os.environ, crypto.PASSPHRASE_ENV: SECRET})
    assert "exit codes 0 2" in done.stdout and "visit" in done.stdout, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == ["error: encryption: encrypted libraries need SQLCipher; "
                                                "install the privacy extra: pip install 'epir-live[privacy]'"]
