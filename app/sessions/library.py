"""The session library: a folder holding ``library.sqlite3`` and one folder per session.

    LIBRARY/library.sqlite3          every session's rows (store.py has the schema)
    LIBRARY/sessions/<id>/           files of one session (the recorded video, when the user records it)
    LIBRARY/encryption.json          only in an encrypted library: how to get its key (crypto.py)

Everything stays on this machine, readable by its owner only (folders 0700, files 0600). Deleting a
session removes its rows (overwritten on disk, not just unlinked: ``secure_delete`` and a WAL
checkpoint) and its folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
from functools import wraps
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from app import __version__, strict_json
from app.classifier import Classifier
from app.errors import InputError, OutputError, printable
from app.model_card import ModelCard
from app.paths import existing_ancestor
from app.private_files import make_private, private_dir
from app.sessions import crypto, liveness, privacy, store
from app.sessions.models import (Marker, ModelRecord, Note, Session, SessionInfo, Signal, SourceRecord,
                                 StoredEvent, event_from_json, utc)
from app.sessions.recorder import Recorder
from app.sources import SourceInfo
from app.userdata import user_data_dir

LIBRARY_ENV = "EPIR_LIVE_LIBRARY"
ACTIVE = ("recording", "paused")


def default_library_dir() -> Path:
    """``$EPIR_LIVE_LIBRARY``, else the platform's per-user data folder + ``epir-live/library``."""
    if os.environ.get(LIBRARY_ENV):
        return Path(os.environ[LIBRARY_ENV]).expanduser()
    return user_data_dir() / "library"


def _locked(method):
    """One call at a time on the shared connection: the app uses a Library from its UI thread and its
    analysis and report threads, and sqlite3 connections must not be used by two threads at once."""

    @wraps(method)
    def call(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return call


class Library:
    """Open (creating or migrating) a library folder; list, search, load, annotate and delete sessions.

    Opening marks sessions whose writer process is gone as ``interrupted``; they load like any other.
    An encrypted library opens with its passphrase (or a key unlocked earlier in this process, or the
    OS keyring); ``encrypt`` ("passphrase" or "keyring") creates a new library encrypted. ``exposed``
    lists what other users of the computer can read (``make_private`` fixes it).
    ``create=False`` refuses a folder that holds no library instead of starting an empty one. Where the
    library cannot be written (a read-only disk or folder) it opens read-only: listing, loading and
    reports work, changes raise OutputError. Nothing is written before every check has passed.
    Thread-safe: every method holds the library's lock while it uses the connection.
    """

    def __init__(self, path: str | Path | None = None, passphrase: str | None = None, encrypt: str | None = None,
                 create: bool = True):
        self.path = Path(path).expanduser() if path is not None else default_library_dir()
        self.db_path = self.path / store.DB_NAME
        self._lock = threading.RLock()
        _check_folder(self.path)
        exists = self.db_path.exists() and self.db_path.stat().st_size > 0
        if not create and not exists:
            raise InputError(self.path, f"no session library here ({store.DB_NAME} not found)")
        self.read_only = not _writable(self.path, self.db_path)
        if self.read_only and not exists:
            raise OutputError(self.path, "cannot create a session library here (read-only or permission denied)")
        if not self.read_only:
            privacy.settle_conversion(self.path)
        self.key = self._key(passphrase, encrypt)
        if self.read_only:
            self._conn = store.connect_read_only(self.db_path, self.key)
        else:
            self._conn = store.connect(self.db_path, self.key)
        self.exposed = privacy.exposed(self.path)
        if not self.read_only:
            self.mark_interrupted()

    @staticmethod
    def check(path: str | Path) -> None:
        """InputError (OutputError where it cannot be written) for a folder that cannot take a library's
        new sessions, found without writing anything; its database is inspected when it is opened."""
        path = Path(path).expanduser()
        _check_folder(path)
        if not _writable(path, path / store.DB_NAME):
            raise OutputError(path, "the session library cannot be written (read-only or permission denied)")

    def _key(self, passphrase: str | None, encrypt: str | None) -> bytes | None:
        if crypto.is_encrypted(self.path):
            return crypto.unlock(self.path, passphrase)
        if encrypt is None:
            return None
        if store.inspect(self.db_path) != 0:
            raise InputError(self.path, "this library exists and is not encrypted; convert it with "
                                        "`sessions --encrypt` (or choose a new folder)")
        spec, key = crypto.new_key(encrypt, passphrase)
        private_dir(self.path)
        crypto.write_spec(self.path, spec)
        crypto.remember(self.path, key)
        return key

    @property
    def encrypted(self) -> bool:
        return self.key is not None

    def make_private(self) -> int:
        """Make every folder 0700 and file 0600; returns how many were changed."""
        changed = privacy.make_library_private(self.path)
        self.exposed = []
        return changed

    @_locked
    def encrypt(self, store_kind: str = "passphrase", passphrase: str | None = None) -> int:
        """Encrypt this plain library in place (crash-safe, see privacy.py); returns the files encrypted.
        Refused while a session is being recorded."""
        self._writing()
        if self.key is not None:
            raise InputError(self.path, "the library is already encrypted")
        self.mark_interrupted()
        active = [i.id for i in self.sessions() if i.status in ACTIVE]
        if active:
            raise InputError(self.path, f"session {active[0]} is being recorded; stop it before encrypting")
        spec, key = crypto.new_key(store_kind, passphrase)
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()
        try:
            files = privacy.convert(self.path, spec, key)
        finally:
            privacy.settle_conversion(self.path)
            if crypto.is_encrypted(self.path):
                crypto.remember(self.path, key)
                self.key = key
            self._conn = store.connect(self.db_path, self.key)
        return len(files)

    def playable_video(self, video: Path) -> Path:
        """A session's video as a file OpenCV can read: itself, or (encrypted library) a decrypted copy in a
        private temporary folder removed when the process ends."""
        if self.key is None or not video.is_file() or not crypto.is_encrypted_file(video):
            return video
        out = crypto.scratch_dir() / f"session-{video.parent.name}-{video.name}"
        crypto.decrypt_file(video, out, self.key)
        return out

    @_locked
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def session_dir(self, session_id: int) -> Path:
        return self.path / "sessions" / str(session_id)

    # --- recording -------------------------------------------------------------------------------

    @_locked
    def start_session(self, label: str, source: SourceInfo, settings: dict[str, Any] | None = None,
                      classifier: Classifier | None = None, pictures: bool = True) -> Recorder:
        """Create a session (status ``recording``) and its folder; feed the returned Recorder.
        ``pictures=False`` stores no face pictures (a de-identified session)."""
        self._writing()
        model = None if classifier is None else (strict_json.dumps(classifier.card.to_metadata()), str(classifier.path),
                                                  _sha256(classifier.path), classifier.provider_label)
        now = time.time()
        with store.transaction(self._conn):
            cursor = self._conn.execute(
                "INSERT INTO sessions (label, started_at, status, source_kind, source_name, fps, width, height, "
                "settings, model_card, model_path, model_sha256, model_provider, software, writer_host, "
                "writer_token, heartbeat_at) VALUES (?, ?, 'recording', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (label.strip(), now, source.kind, source.name, source.fps, source.width, source.height,
                 strict_json.dumps(settings or {}), *(model or (None,) * 4), f"epir-live {__version__}",
                 liveness.host(), liveness.process_token(), now))
        session_id = int(cursor.lastrowid)
        folder = private_dir(self.session_dir(session_id))
        return Recorder(self.db_path, session_id, source.fps, folder, self.key, pictures)

    @_locked
    def mark_interrupted(self) -> list[int]:
        """Sessions still 'recording'/'paused' whose writer (on this host) is gone become 'interrupted'."""
        rows = self._conn.execute(
            f"SELECT id, writer_host, writer_token FROM sessions WHERE status IN {ACTIVE}").fetchall()
        dead = [r["id"] for r in rows
                if r["writer_host"] == liveness.host() and not (r["writer_token"] and liveness.is_alive(r["writer_token"]))]
        if dead:
            with store.transaction(self._conn):
                self._conn.executemany(
                    "UPDATE sessions SET status = 'interrupted', ended_at = coalesce(heartbeat_at, started_at) "
                    f"WHERE id = ? AND status IN {ACTIVE}", [(i,) for i in dead])
        return dead

    # --- review ----------------------------------------------------------------------------------

    @_locked
    def sessions(self, search: str | None = None, since: datetime | date | None = None,
                 until: datetime | date | None = None) -> list[SessionInfo]:
        """Sessions, newest first; ``search`` matches the label (case-insensitive substring);
        ``since``/``until`` bound the start time (a date covers its whole local day)."""
        if not self.read_only:
            self.mark_interrupted()
        where, params = [], []
        if search:
            where.append("label LIKE ? ESCAPE '\\'")
            params.append("%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if since is not None:
            where.append("started_at >= ?")
            params.append(_epoch(since, end=False))
        if until is not None:
            where.append("started_at < ?")
            params.append(_epoch(until, end=True))
        sql = _INFO_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY started_at DESC, id DESC"
        return [self._info(row) for row in self._conn.execute(sql, params)]

    @_locked
    def info(self, session_id: int) -> SessionInfo:
        row = self._conn.execute(_INFO_SQL + " WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise InputError(f"session {session_id}", f"not in the library {self.path}")
        return self._info(row)

    @_locked
    def find(self, ref: str) -> SessionInfo:
        """A session by id, else by label (exact, then unique substring; case-insensitive)."""
        ref = ref.strip()
        if ref.isdigit():
            row = self._conn.execute(_INFO_SQL + " WHERE id = ?", (int(ref),)).fetchone()
            if row is not None:
                return self._info(row)
        for clause in ("lower(label) = lower(?)", "instr(lower(label), lower(?)) > 0"):
            rows = self._conn.execute(_INFO_SQL + f" WHERE {clause} ORDER BY started_at", (ref,)).fetchall()
            if len(rows) == 1:
                return self._info(rows[0])
            if len(rows) > 1:
                ids = ", ".join(str(r["id"]) for r in rows)
                raise InputError(f"session {ref!r}", f"matches {len(rows)} sessions (ids {ids}); give an id")
        raise InputError(f"session {ref!r}", f"no session with this id or label in the library {self.path}")

    @_locked
    def load(self, session_id: int) -> Session:
        """Everything stored for a session, as typed objects (events in id order, markers in time order)."""
        info = self.info(session_id)
        events = [StoredEvent(event_from_json(json.loads(r["record"])), r["onset_png"], r["attention_png"])
                  for r in self._conn.execute(
                      "SELECT e.record, i.onset_png, i.attention_png FROM events e LEFT JOIN event_images i "
                      "USING (session_id, event_id) WHERE e.session_id = ? ORDER BY e.event_id", (session_id,))]
        markers = [_marker(r) for r in self._conn.execute(
            "SELECT * FROM markers WHERE session_id = ? ORDER BY t, id", (session_id,))]
        notes = [Note(r["id"], utc(r["created_at"]), r["text"]) for r in self._conn.execute(
            "SELECT * FROM notes WHERE session_id = ? ORDER BY created_at, id", (session_id,))]
        by_face = self._frames_by_face()  # a read-only library of schema 2 is not migrated: its rows are face 0
        face, order = ("face_id", "frame, face_id") if by_face else ("0", "frame")
        rows = self._conn.execute(f"SELECT frame, timestamp, signal, threshold, success, confidence, {face} FROM frames "
                                  f"WHERE session_id = ? ORDER BY {order}", (session_id,)).fetchall()
        columns = list(zip(*rows)) if rows else [()] * 7
        signal = Signal(np.array(columns[0], np.int64), np.array(columns[1], float), np.array(columns[2], float),
                        np.array(columns[3], float), np.array(columns[4], bool), np.array(columns[5], float),
                        np.array(columns[6], np.int64))
        return Session(info, events, markers, notes, signal)

    def _frames_by_face(self) -> bool:
        return any(row[1] == "face_id" for row in self._conn.execute("PRAGMA table_info(frames)"))

    # --- annotations after the fact --------------------------------------------------------------

    @_locked
    def add_marker(self, session_id: int, t: float, label: str = "", note: str = "",
                   frame: int | None = None) -> Marker:
        """A marker placed while reviewing (the recorder places live ones)."""
        self.info(session_id)
        now = time.time()
        with store.transaction(self._conn):
            cursor = self._conn.execute(
                "INSERT INTO markers (session_id, t, frame, label, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, t, frame, label, note, now))
        return Marker(int(cursor.lastrowid), t, frame, label, note, "user", utc(now))

    @_locked
    def update_marker(self, marker_id: int, label: str, note: str) -> None:
        with store.transaction(self._conn):
            self._conn.execute("UPDATE markers SET label = ?, note = ? WHERE id = ?", (label, note, marker_id))

    @_locked
    def delete_marker(self, marker_id: int) -> None:
        with store.transaction(self._conn):
            self._conn.execute("DELETE FROM markers WHERE id = ?", (marker_id,))

    @_locked
    def add_note(self, session_id: int, text: str) -> Note:
        self.info(session_id)
        now = time.time()
        with store.transaction(self._conn):
            cursor = self._conn.execute("INSERT INTO notes (session_id, created_at, text) VALUES (?, ?, ?)",
                                        (session_id, now, text))
        return Note(int(cursor.lastrowid), utc(now), text)

    @_locked
    def delete_note(self, note_id: int) -> None:
        with store.transaction(self._conn):
            self._conn.execute("DELETE FROM notes WHERE id = ?", (note_id,))

    @_locked
    def rename(self, session_id: int, label: str) -> None:
        with store.transaction(self._conn):
            self._conn.execute("UPDATE sessions SET label = ? WHERE id = ?", (label.strip(), session_id))

    @_locked
    def set_video(self, session_id: int, video: str | Path | None) -> None:
        """Record (or clear) the session's video file; it must lie inside the session's folder."""
        relative = None
        if video is not None:
            folder = self.session_dir(session_id).resolve()
            path = Path(video) if Path(video).is_absolute() else folder / video
            if not path.resolve().is_relative_to(folder):
                raise InputError(video, f"a session's video must be inside its folder {folder}")
            relative = str(path.resolve().relative_to(folder))
            make_private(path)
            if self.key is not None and not crypto.is_encrypted_file(path):  # encrypted in place, atomically
                crypto.encrypt_file(path, path.with_name(path.name + ".tmp"), self.key)
                os.replace(path.with_name(path.name + ".tmp"), path)
        with store.transaction(self._conn):
            self._conn.execute("UPDATE sessions SET video_path = ? WHERE id = ?", (relative, session_id))

    @_locked
    def delete(self, session_id: int) -> None:
        """Remove a session's rows and its folder. A session still being recorded is refused."""
        self._writing()
        self.mark_interrupted()
        info = self.info(session_id)
        if info.status in ACTIVE:
            raise InputError(f"session {session_id}", "is being recorded; stop it before deleting it")
        self._conn.execute("PRAGMA secure_delete = ON")  # overwrite the freed pages, do not just unlink them
        try:
            with store.transaction(self._conn):
                self._conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # and drop the old pages from the WAL
        finally:
            self._conn.execute("PRAGMA secure_delete = OFF")
        if info.folder.exists():
            shutil.rmtree(info.folder)

    @_locked
    def expired(self, days: int, today: date | None = None) -> list[SessionInfo]:
        """Sessions (not being recorded) started before the local day ``days`` days before ``today``:
        a dry run and a real purge on the same day see the same list."""
        if days < 0:
            raise InputError(f"{days} days", "a retention period cannot be negative")
        day = (today or date.today()) - timedelta(days=days)
        return [s for s in self.sessions(until=day - timedelta(days=1)) if s.status not in ACTIVE]

    def purge(self, days: int, today: date | None = None) -> list[SessionInfo]:
        """Delete (as ``delete`` does: rows overwritten, folder removed) every session ``expired`` lists."""
        gone = self.expired(days, today)
        for info in gone:
            self.delete(info.id)
        return gone

    def _writing(self) -> None:
        if self.read_only:
            raise OutputError(self.path, "the session library is read-only here; nothing was changed")

    # --- rows → records --------------------------------------------------------------------------

    def _info(self, row: sqlite3.Row) -> SessionInfo:
        """A row as a record; a row whose stored model card or settings cannot be read is returned with
        ``problem`` set (and no model/settings) so that one damaged row does not hide the others."""
        model, settings, problem = None, {}, None
        try:
            settings = json.loads(row["settings"])
            if not isinstance(settings, dict):
                raise ValueError("settings are not a JSON object")
            if row["model_card"]:
                props = json.loads(row["model_card"])
                if not isinstance(props, dict):
                    raise ValueError("model card is not a JSON object")
                card = ModelCard.from_metadata(props, "stored model card")
                model = ModelRecord(card, row["model_path"], row["model_sha256"], row["model_provider"])
        except (InputError, ValueError, TypeError) as exc:
            problem = printable(exc)
        folder = self.session_dir(row["id"])
        return SessionInfo(
            id=row["id"], label=row["label"], started_at=utc(row["started_at"]),
            ended_at=utc(row["ended_at"]) if row["ended_at"] is not None else None, status=row["status"],
            source=SourceRecord(row["source_kind"], row["source_name"], row["fps"], row["width"], row["height"]),
            settings=settings, model=model, software=row["software"], folder=folder,
            video_path=folder / row["video_path"] if row["video_path"] else None,
            event_count=row["event_count"], marker_count=row["marker_count"], last_timestamp=row["last_timestamp"],
            problem=problem,
        )


_INFO_SQL = """SELECT s.*,
    (SELECT count(*) FROM events e WHERE e.session_id = s.id) AS event_count,
    (SELECT count(*) FROM markers m WHERE m.session_id = s.id AND m.kind = 'user') AS marker_count,
    (SELECT f.timestamp FROM frames f WHERE f.session_id = s.id ORDER BY f.frame DESC LIMIT 1) AS last_timestamp
    FROM sessions s"""


def _marker(row: sqlite3.Row) -> Marker:
    return Marker(row["id"], row["t"], row["frame"], row["label"], row["note"], row["kind"], utc(row["created_at"]))


def _epoch(value: datetime | date, end: bool) -> float:
    """A bound in seconds since the epoch; a plain date means its local day (``until`` includes it)."""
    if not isinstance(value, datetime):
        day = datetime(value.year, value.month, value.day)
        return day.timestamp() + (86400.0 if end else 0.0)
    return value.timestamp()


def _check_folder(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise InputError(path, "not a folder (a session library is a folder)")
    existing = existing_ancestor(path)
    if not existing.is_dir():
        raise InputError(path, f"{printable(existing)} is a file, not a folder")


def _writable(folder: Path, db: Path) -> bool:
    """Can the library (its folder, or the nearest existing parent) and its database file be written?"""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    return os.access(existing, os.W_OK | os.X_OK) and (not db.exists() or os.access(db, os.W_OK))


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
