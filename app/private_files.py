"""Files holding clinical data are created readable by their owner only: files 0600, folders 0700.

They are created with that mode (``os.open``), not chmod'ed afterwards, so no other user can open them
in between, whatever the umask. Files written by other code (OpenCV's video writer, a PDF converter) are
created empty here first: truncating an existing file keeps its mode. On Windows ``os.chmod`` only sets
the read-only flag; there the per-user profile folders' ACLs are what keeps the files private.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700
POSIX = os.name == "posix"


def private_dir(path: str | Path) -> Path:
    """Create ``path`` and its missing parents, each 0700 (folders that exist are left as they are)."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        if POSIX:
            os.chmod(folder, DIR_MODE)
    return path


def open_private(path: str | Path, mode: str = "w", **kwargs: Any) -> IO:
    """``open(path, mode)`` for writing, the file 0600 (also when it existed with a wider mode)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        if POSIX:
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def touch_private(path: str | Path) -> Path:
    """An empty 0600 file (kept if it exists), for a writer that does not set modes itself."""
    with open_private(path, "ab"):
        pass
    return Path(path)


def write_private(path: str | Path, data: str | bytes) -> Path:
    """Replace ``path`` atomically (temporary file + rename) with ``data``, 0600."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open_private(tmp, "wb" if isinstance(data, bytes) else "w", **({} if isinstance(data, bytes)
                                                                        else {"encoding": "utf-8"})) as handle:
        handle.write(data)
    os.replace(tmp, path)
    return path


def readable_by_others(path: str | Path) -> bool:
    """Whether group or other users have any permission on ``path`` (a link's own mode does not count;
    always False off POSIX)."""
    mode = os.lstat(path).st_mode
    return POSIX and not stat.S_ISLNK(mode) and bool(mode & 0o077)


def make_private(path: str | Path) -> None:
    """chmod a folder 0700 or a file 0600 (links are left alone)."""
    mode = os.lstat(path).st_mode
    if POSIX and not stat.S_ISLNK(mode):
        os.chmod(path, DIR_MODE if stat.S_ISDIR(mode) else FILE_MODE)
