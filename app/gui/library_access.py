"""The app's side of a private library, applied when it opens the library of the settings: the passphrase
of an encrypted library (asked once per run; wrong: one clear message, nothing touched), a new library
created encrypted or a plain one converted when Settings ask for it, the offer to make a library other
users can read private, and the retention period (old sessions listed, deleted when the user agrees)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from app.errors import InputError
from app.sessions import Library, crypto, store

_asked: set[tuple[str, Path]] = set()  # (question, library) already put to the user in this run


def open_private_library(parent: QWidget, path: Path, encrypt: bool, retention_days: int) -> Library:
    """The library at ``path``, unlocked; InputError (shown by the caller) when it cannot be opened."""
    new = not (path / store.DB_NAME).exists() and not crypto.is_encrypted(path)
    passphrase = None
    if crypto.is_encrypted(path) and crypto.cached_key(path) is None and crypto.read_spec(path).store == "passphrase":
        passphrase = ask_passphrase(parent, path, new=False)
    elif encrypt and new:
        passphrase = ask_passphrase(parent, path, new=True)
    library = Library(path, passphrase, "passphrase" if encrypt and new else None)
    if encrypt and not library.encrypted and _first_time("encrypt", path):
        _offer_encryption(parent, library)
    if library.exposed and _first_time("exposed", path):
        offer_make_private(parent, library)
    if retention_days > 0 and _first_time(f"retention {retention_days}", path):
        _apply_retention(parent, library, retention_days)
    return library


def ask_passphrase(parent: QWidget, path: Path, new: bool) -> str | None:
    """The passphrase typed by the user (twice for a new one); None when cancelled or the two differ."""
    title = "Encrypted session library"
    text, ok = QInputDialog.getText(parent, title, f"{'New passphrase' if new else 'Passphrase'} for {path}:",
                                    QLineEdit.Password)
    if not ok or not text:
        return None
    if new:
        again, ok = QInputDialog.getText(parent, title, "The same passphrase again:", QLineEdit.Password)
        if not ok or again != text:
            QMessageBox.warning(parent, title, "The two passphrases differ; nothing was changed.")
            return None
    return text


def offer_make_private(parent: QWidget, library: Library) -> None:
    """Say once that other users can read the library, and make it private if the user agrees."""
    answer = QMessageBox.question(parent, "Session library",
                                  f"{len(library.exposed)} files or folders of the library {library.path} can be "
                                  f"read by other users of this computer (e.g. {library.exposed[0].name}).\n\n"
                                  "Make the library private (readable by you only) now?")
    if answer == QMessageBox.Yes:
        library.make_private()


def _offer_encryption(parent: QWidget, library: Library) -> None:
    answer = QMessageBox.question(parent, "Encrypt the session library",
                                  f"The library {library.path} is not encrypted. Encrypt it in place now (its "
                                  "database and recorded videos)? Keep the passphrase safe: without it the "
                                  "sessions cannot be read.")
    if answer != QMessageBox.Yes:
        return
    passphrase = ask_passphrase(parent, library.path, new=True)
    if passphrase is None:
        return
    try:
        count = library.encrypt("passphrase", passphrase)
    except InputError as exc:
        QMessageBox.warning(parent, "Encrypt the session library", str(exc))
        return
    QMessageBox.information(parent, "Encrypt the session library",
                            f"The library is encrypted (the database and {count} session files).")


def _apply_retention(parent: QWidget, library: Library, days: int) -> None:
    expired = library.expired(days)
    if not expired:
        return
    names = "\n".join(f"  {s.id}: {s.label or '(no label)'}, {s.started_at.astimezone():%Y-%m-%d}"
                      for s in expired[:15]) + ("\n  …" if len(expired) > 15 else "")
    answer = QMessageBox.question(parent, "Session retention",
                                  f"{len(expired)} sessions started more than {days} days ago (Settings → Session "
                                  f"library → Keep sessions):\n{names}\n\nDelete them now (rows and files)?")
    if answer == QMessageBox.Yes:
        library.purge(days)


def _first_time(question: str, path: Path) -> bool:
    key = (question, path.expanduser().resolve())
    if key in _asked:
        return False
    _asked.add(key)
    return True
