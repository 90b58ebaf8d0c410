"""The desktop app and a private library, through the real main window: the passphrase of an encrypted
library (a wrong one changes no byte), a library created encrypted from Settings, the offer to make a
readable library private, and the retention setting."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from app.gui.settings import AppSettings, SettingsDialog, load_settings, save_settings
from app.sessions import LIBRARY_ENV, Library, crypto, store
from app.sources import SourceInfo
from tests.gui_fixtures import isolated_settings, qapp, record_message_boxes, window  # noqa: F401
from tests.test_privacy import face_clip, live_session_with_video  # noqa: F401  (a fixture, found by name)

CAMERA = SourceInfo("camera", "camera 0", 30.0, 640, 480, None, True)
SECRET = "correct horse battery staple"


@pytest.fixture
def messages(monkeypatch) -> list[tuple[str, str]]:
    return record_message_boxes(monkeypatch, QMessageBox.Yes)


@pytest.fixture
def typed(monkeypatch) -> list[str]:
    """What the user types into the passphrase dialog (the last entry, every time it is asked)."""
    answers: list[str] = []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (answers[-1], True))
    monkeypatch.setattr(crypto, "SCRYPT_N", 2**14)
    yield answers
    crypto._unlocked.clear()


def digests(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_encrypted_library_opens_with_its_passphrase_only(qtbot, window, messages, typed, tmp_path, face_clip):
    library = Path(os.environ[LIBRARY_ENV])
    with Library(library, SECRET, encrypt="passphrase") as opened:
        opened.start_session("visit", CAMERA).finish()
    crypto._unlocked.clear()
    before = digests(library)
    typed.append("wrong horse")
    assert window.open_sessions() is None
    assert "wrong passphrase" in messages[-1][1] and digests(library) == before
    typed.append(SECRET)
    assert [i.label for i in window.open_sessions().infos] == ["visit"]

    session_id = live_session_with_video(library, face_clip)  # recorded with the key the window unlocked
    with Library(library) as opened:
        video = opened.info(session_id).video_path
    assert crypto.is_encrypted_file(video)
    window._review_session_video(str(video))  # the review's "Play video" button
    qtbot.waitUntil(lambda: window.controller.source_path is not None, timeout=30_000)
    played = Path(window.controller.source_path)
    assert played != video and played.read_bytes()[:4] == b"RIFF"  # a decrypted private copy
    qtbot.waitUntil(lambda: window.controller.run is None, timeout=30_000)

    created = tmp_path / "new-library"
    window.apply_settings(replace(window.settings, library_path=str(created), encrypt_library=True))
    assert window.sessions_window.library.path == created and window.sessions_window.library.encrypted
    assert crypto.is_encrypted(created) and not (created / store.DB_NAME).read_bytes().startswith(store.SQLITE_MAGIC)


def test_readable_library_is_made_private_and_old_sessions_purged(window, messages, typed):
    library = Path(os.environ[LIBRARY_ENV])
    with Library(library) as opened:
        for label, age in (("old", 40), ("recent", 3)):
            opened.start_session(label, CAMERA).finish()
            started = time.mktime((date.today() - timedelta(days=age)).timetuple()) + 3600
            opened._conn.execute("UPDATE sessions SET started_at = ? WHERE label = ?", (started, label))
    os.chmod(library, 0o755)
    window.apply_settings(replace(window.settings, retention_days=30))
    sessions = window.open_sessions()
    asked = "\n".join(text for _, text in messages)
    assert "can be read by other users" in asked and "1 sessions started more than 30 days ago" in asked
    assert "old" in asked and [i.label for i in sessions.infos] == ["recent"]
    assert not Library(library).exposed and library.stat().st_mode & 0o777 == 0o700


def test_privacy_settings_round_trip(qtbot, qapp):
    dialog = SettingsDialog(AppSettings(), cameras=[0])
    qtbot.addWidget(dialog)
    assert dialog.retention_days.text() == "for ever" and not dialog.encrypt_library.isChecked()
    dialog.encrypt_library.setChecked(True)
    dialog.retention_days.setValue(90)
    result = dialog.result_settings()
    assert (result.encrypt_library, result.retention_days) == (True, 90)
    save_settings(result)
    assert (load_settings().encrypt_library, load_settings().retention_days) == (True, 90)
