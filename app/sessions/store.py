"""The library's SQLite file: schema, forward migrations, and the checks that keep foreign files safe.

A file is opened for writing only after it has been read-only inspected and found to be ours (our
``application_id``) at a schema version this code knows, or a brand-new empty database. Anything else
(not SQLite, corrupt, another program's database, a newer EPIR Live) is refused with an InputError and
never touched. WAL mode lets the review side read while a recorder writes; ``synchronous=NORMAL`` in WAL
keeps every commit across a killed process (only a power cut can lose the last transactions).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.errors import InputError
from app.private_files import private_dir, touch_private
from app.sessions import crypto

APPLICATION_ID = 0x45504952  # "EPIR", in the database header: marks the file as ours
SQLITE_MAGIC = b"SQLite format 3\x00"
DB_NAME = "library.sqlite3"

# MIGRATIONS[n] takes a database from schema version n to n + 1; version 0 is an empty file.
MIGRATIONS: tuple[str, ...] = (
    # 1: sessions, their events (Event.to_json records), per-frame rows, markers, notes
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        label TEXT NOT NULL DEFAULT '',
        started_at REAL NOT NULL,
        ended_at REAL,
        status TEXT NOT NULL CHECK (status IN ('recording', 'paused', 'finished', 'interrupted')),
        source_kind TEXT NOT NULL,
        source_name TEXT NOT NULL,
        fps REAL NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        model_card TEXT,
        model_path TEXT,
        model_sha256 TEXT,
        model_provider TEXT,
        software TEXT NOT NULL,
        video_path TEXT,
        writer_host TEXT,
        writer_token TEXT,
        heartbeat_at REAL
    );
    CREATE INDEX sessions_started ON sessions (started_at);
    CREATE TABLE events (
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        event_id INTEGER NOT NULL,
        apex_s REAL NOT NULL,
        label TEXT,
        record TEXT NOT NULL,
        PRIMARY KEY (session_id, event_id)
    ) WITHOUT ROWID;
    CREATE TABLE frames (
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        frame INTEGER NOT NULL,
        timestamp REAL NOT NULL,
        confidence REAL NOT NULL DEFAULT 0,
        success INTEGER NOT NULL DEFAULT 0,
        pose_rx REAL, pose_ry REAL, pose_rz REAL,
        ear REAL,
        signal REAL,
        threshold REAL,
        PRIMARY KEY (session_id, frame)
    ) WITHOUT ROWID;
    CREATE TABLE markers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        t REAL NOT NULL,
        frame INTEGER,
        kind TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'pause', 'resume')),
        label TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE INDEX markers_session ON markers (session_id, t);
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX notes_session ON notes (session_id);
    """,
    # 2: small pictures per event (onset face crop, attention over it) for review and reports
    """
    CREATE TABLE event_images (
        session_id INTEGER NOT NULL,
        event_id INTEGER NOT NULL,
        onset_png BLOB,
        attention_png BLOB,
        PRIMARY KEY (session_id, event_id),
        FOREIGN KEY (session_id, event_id) REFERENCES events (session_id, event_id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    """,
    # 3: several faces per frame (issue 12): a row per face and frame, with the face's box; the rows
    # recorded before belong to face 0, the one face analysed then
    """
    CREATE TABLE frames_by_face (
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        frame INTEGER NOT NULL,
        face_id INTEGER NOT NULL DEFAULT 0,
        timestamp REAL NOT NULL,
        confidence REAL NOT NULL DEFAULT 0,
        success INTEGER NOT NULL DEFAULT 0,
        pose_rx REAL, pose_ry REAL, pose_rz REAL,
        ear REAL,
        signal REAL,
        threshold REAL,
        face_x REAL, face_y REAL, face_w REAL, face_h REAL,
        PRIMARY KEY (session_id, frame, face_id)
    ) WITHOUT ROWID;
    INSERT INTO frames_by_face (session_id, frame, face_id, timestamp, confidence, success, pose_rx, pose_ry, pose_rz,
                                ear, signal, threshold)
        SELECT session_id, frame, 0, timestamp, confidence, success, pose_rx, pose_ry, pose_rz, ear, signal, threshold
        FROM frames;
    DROP TABLE frames;
    ALTER TABLE frames_by_face RENAME TO frames;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def inspect(db: Path, key: bytes | None = None) -> int:
    """Schema version of an existing library file (0: new or empty); InputError for anything not ours.

    Reads only (the header bytes, then a read-only connection), so a refused file is left byte for byte.
    With ``key`` the file is an SQLCipher database (no readable header: the connection tells).
    """
    if not db.exists() or db.stat().st_size == 0:
        return 0
    if not db.is_file():
        raise InputError(db, "not a file (expected an EPIR Live library database)")
    with open(db, "rb") as handle:
        plain = handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    if key is not None and plain:
        raise InputError(db, f"the library has an encryption key ({crypto.KEY_FILE}) but its database is not "
                             "encrypted; left untouched")
    if key is None and not plain:
        raise InputError(db, "not an SQLite database (corrupt, foreign, or encrypted without its "
                             f"{crypto.KEY_FILE}); left untouched")
    # Without a -wal file no connection is open, so the file can be read as immutable: SQLite then
    # creates no -wal/-shm files beside someone else's database. With one, a writer may be active.
    immutable = "" if Path(f"{db}-wal").exists() else "&immutable=1"
    uri = f"{db.resolve().as_uri()}?mode=ro{immutable}"
    try:
        conn = sqlite3.connect(uri, uri=True) if key is None else crypto.connect_encrypted(uri, key, uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            problems = conn.execute("PRAGMA quick_check(1)").fetchone()[0] if app_id == APPLICATION_ID else "ok"
        finally:
            conn.close()
    except database_errors() as exc:
        raise InputError(db, f"unreadable database ({' '.join(str(exc).split())[:200]}); left untouched") from None
    if app_id != APPLICATION_ID:
        if app_id == 0 and version == 0 and tables == 0:
            return 0
        raise InputError(db, "an SQLite database of another program (not an EPIR Live library); left untouched")
    if problems != "ok":
        raise InputError(db, f"damaged library database ({' '.join(problems.split())[:200]}); left untouched")
    if version > SCHEMA_VERSION:
        raise InputError(db, f"library schema version {version} is newer than this EPIR Live reads "
                             f"({SCHEMA_VERSION}); update the app; left untouched")
    return version


def connect(db: Path, key: bytes | None = None) -> sqlite3.Connection:
    """A write connection to a library file, created (0600, in a 0700 folder: SQLite gives its -wal and
    -shm files the database's mode) or migrated to the current schema as needed."""
    version = inspect(db, key)
    private_dir(db.parent)
    if not db.exists():
        touch_private(db)
    conn = open_connection(db, key)
    if version < SCHEMA_VERSION:
        migrate(conn, version)
    return conn


def connect_read_only(db: Path, key: bytes | None = None) -> sqlite3.Connection:
    """A read-only connection to a library file that cannot be written (read-only disk or file).

    Where SQLite cannot even create the WAL index beside it, the file is read as immutable: the last
    commits of a writer that was killed (still in its -wal file) are then not seen, and a warning says so.
    """
    inspect(db, key)
    uri = db.resolve().as_uri()
    for extra in ("", "&immutable=1"):
        target = f"{uri}?mode=ro{extra}"
        if key is None:
            conn = sqlite3.connect(target, uri=True, check_same_thread=False)
            conn.row_factory = sqlite3.Row
        else:
            conn = crypto.connect_encrypted(target, key, uri=True, check_same_thread=False)
            conn.row_factory = crypto.sqlcipher().Row
        try:
            conn.execute("SELECT count(*) FROM sessions").fetchone()
        except database_errors():
            conn.close()
            continue
        if extra and Path(f"{db}-wal").exists():
            logging.getLogger("epir.sessions").warning(
                "warning: %s: read-only; changes still in its -wal file cannot be read", db)
        return conn
    raise InputError(db, "cannot be read (read-only and its WAL index cannot be opened)")


def open_connection(db: Path, key: bytes | None = None) -> sqlite3.Connection:
    """A connection to a file ``connect`` has already checked: autocommit (explicit transactions), WAL,
    foreign keys on, usable from the thread that holds the caller's lock; SQLCipher when ``key`` is given."""
    options = {"timeout": 10.0, "isolation_level": None, "check_same_thread": False}
    if key is None:
        conn = sqlite3.connect(db, **options)
        conn.row_factory = sqlite3.Row
    else:
        conn = crypto.connect_encrypted(str(db), key, **options)
        conn.row_factory = crypto.sqlcipher().Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def database_errors() -> tuple[type[Exception], ...]:
    """The DB-API error classes of sqlite3 and, when installed, SQLCipher (distinct classes)."""
    try:
        from sqlcipher3 import dbapi2
    except ImportError:
        return (sqlite3.Error,)
    return sqlite3.Error, dbapi2.Error


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (connections here are in autocommit mode)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, version: int, target: int = SCHEMA_VERSION) -> None:
    """Apply MIGRATIONS[version:target] in one transaction (all or nothing)."""
    with transaction(conn):
        if conn.execute("PRAGMA user_version").fetchone()[0] != version:  # another process migrated meanwhile
            return
        for step in range(version, target):
            for statement in _statements(MIGRATIONS[step]):
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {target}")


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    return [s.strip() for s in script.split(";") if s.strip()]
