"""How the commands open a library: the passphrase from ``$EPIR_LIVE_PASSPHRASE`` or a prompt, and one
warning line when other users of the computer can read it."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from app.errors import InputError
from app.sessions import crypto
from app.sessions.library import Library, default_library_dir

KEY_STORES = ("passphrase", "keyring")


def passphrase(library: Path, confirm: bool = False) -> str | None:
    """``$EPIR_LIVE_PASSPHRASE``, else asked on the terminal (twice for a new one); None without a terminal."""
    if os.environ.get(crypto.PASSPHRASE_ENV):
        return os.environ[crypto.PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass(f"Passphrase for {library}: ")
    if confirm and getpass.getpass("The same passphrase again: ") != first:
        raise InputError(library, "the two passphrases differ; nothing was changed")
    return first


def open_library(path: Path | None, encrypt: str | None = None, warn: bool = True, create: bool = True) -> Library:
    """The library at ``path`` (default folder if None), unlocked; ``encrypt`` creates a new one encrypted
    ("passphrase" or "keyring"); ``warn``: say when other users can read it; ``create=False``: refuse a
    folder without a library instead of starting one."""
    path = Path(path).expanduser() if path is not None else default_library_dir()
    secret = None
    if crypto.is_encrypted(path):
        if crypto.read_spec(path).store == "passphrase" and crypto.cached_key(path) is None:
            secret = passphrase(path)
    elif encrypt == "passphrase":
        secret = passphrase(path, confirm=True)
    library = Library(path, secret, encrypt, create)
    if warn:
        warn_exposed(library)
    return library


def warn_exposed(library: Library) -> None:
    """One line on stderr when the library's files are readable by others, with the command that fixes it."""
    if library.exposed:
        print(f"warning: {library.path}: {len(library.exposed)} files or folders can be read by other users of "
              f"this computer (e.g. {library.exposed[0]}); make them private with: python main.py sessions "
              f"--library {library.path} --fix-permissions", file=sys.stderr)
