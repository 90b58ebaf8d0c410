"""A library's privacy on disk: who can read its files, and turning a plain library into an encrypted one.

Conversion in place is made crash-safe with one commit point. Everything encrypted is first written
beside its original as ``NAME.encrypting`` (the database through ``sqlcipher_export``, each session file
with AES-GCM) and fsynced; then ``encryption.json`` is written atomically: that is the commit. Opening a
library settles a conversion left unfinished: without ``encryption.json`` the ``.encrypting`` files are
removed (the old library is intact); with it they replace their originals (the rename is repeatable).
A SIGKILL at any point therefore leaves a library that opens, plain or encrypted.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.private_files import make_private, readable_by_others, touch_private
from app.sessions import crypto, store

PENDING = ".encrypting"


def exposed(root: Path) -> list[Path]:
    """The library folder, its sub-folders and files that other users can read (empty off POSIX)."""
    if not root.is_dir():
        return []
    found = [root] if readable_by_others(root) else []
    for folder, dirs, files in os.walk(root):
        found += [p for name in dirs + files if readable_by_others(p := Path(folder) / name)]
    return found


def make_library_private(root: Path) -> int:
    """chmod the library's folders 0700 and files 0600; returns how many were changed."""
    paths = exposed(root)
    for path in paths:
        make_private(path)
    return len(paths)


def settle_conversion(root: Path) -> None:
    """Finish (after the commit) or undo (before it) an encryption interrupted by a crash."""
    pending = sorted(root.rglob(f"*{PENDING}")) if root.is_dir() else []
    if not pending:
        return
    committed = crypto.is_encrypted(root)
    for path in pending:
        if not committed:
            path.unlink()
            continue
        target = path.with_name(path.name[:-len(PENDING)])
        if target.name == store.DB_NAME:  # the plain database's WAL is already checkpointed into it
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(path, target)


def convert(root: Path, spec: crypto.KeySpec, key: bytes) -> list[Path]:
    """Encrypt a plain library in place (no connection to it may be open); returns the files encrypted."""
    files = prepare_conversion(root, key)
    crypto.write_spec(root, spec)  # the commit
    settle_conversion(root)
    return files


def prepare_conversion(root: Path, key: bytes) -> list[Path]:
    """Write the encrypted database and session files beside the plain ones (``NAME.encrypting``)."""
    db = root / store.DB_NAME
    encrypted_db = Path(f"{db}{PENDING}")
    encrypted_db.unlink(missing_ok=True)
    touch_private(encrypted_db)
    conn = crypto.sqlcipher().connect(str(db), isolation_level=None)  # the plain file, read by SQLCipher
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("ATTACH DATABASE ? AS encrypted KEY ?", (str(encrypted_db), crypto.sqlcipher_key(key)))
        conn.execute("SELECT sqlcipher_export('encrypted')")
        conn.execute(f"PRAGMA encrypted.application_id = {store.APPLICATION_ID}")
        conn.execute(f"PRAGMA encrypted.user_version = {version}")
        conn.execute("DETACH DATABASE encrypted")
    finally:
        conn.close()
    _fsync(encrypted_db)
    files = [p for p in sorted((root / "sessions").rglob("*")) if p.is_file() and not p.name.endswith(PENDING)
             and not crypto.is_encrypted_file(p)] if (root / "sessions").is_dir() else []
    for path in files:
        crypto.encrypt_file(path, Path(f"{path}{PENDING}"), key)
    return files


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
