"""Encryption at rest: one 256-bit key per library; SQLCipher for the database, AES-256-GCM for files.

``LIBRARY/encryption.json`` (not secret) says how to get the key: derived from a passphrase with scrypt
(salt and cost stored there), or a random key kept in the OS keyring. It also holds a check value (an
HMAC of the key), so a wrong passphrase is refused before any other file is opened. The database and
the files get separate sub-keys. Pictures live inside the database, so SQLCipher covers them; recorded
videos are encrypted as files (``encrypt_file``), in chunks so that a long recording never sits in memory.

Unlocked keys are kept for the life of the process (``unlock``), so every connection the app or a
recorder opens later finds the key without asking again. Needs the ``privacy`` extra
(``sqlcipher3-binary``, ``cryptography``, ``keyring``); a plain library needs none of it.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import os
import shutil
import struct
import tempfile
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.errors import InputError
from app.private_files import open_private, write_private

KEY_FILE = "encryption.json"
PASSPHRASE_ENV = "EPIR_LIVE_PASSPHRASE"
KEYRING_SERVICE = "epir-live library"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1  # 128 MiB, about a second here: OWASP's recommended cost
FILE_MAGIC = b"EPIRAES1"
CHUNK = 1 << 20  # plaintext bytes per AES-GCM chunk
_NONCE, _TAG = 12, 16
EXTRA_HINT = "install the privacy extra: pip install 'epir-live[privacy]'"

_unlocked: dict[Path, bytes] = {}
_scratch: Path | None = None


class LockedError(InputError):
    """The library is encrypted and no key has been given for it in this process."""


@dataclass(frozen=True)
class KeySpec:
    """How a library's key is obtained (the content of ``encryption.json``)."""

    store: str  # "passphrase" (scrypt) or "keyring"
    check: str  # hex HMAC-SHA256 of the key: tells a wrong passphrase without touching the database
    salt: str = ""  # hex, passphrase only; n, r, p: scrypt's cost
    n: int = 0
    r: int = 0
    p: int = 0
    account: str = ""  # keyring only: the entry's name under KEYRING_SERVICE

    def to_json(self) -> dict[str, Any]:
        common = {"format": "epir-live encryption", "version": 1, "store": self.store, "check": self.check,
                  "database": "SQLCipher 4 (raw key)", "files": "AES-256-GCM, 1 MiB chunks"}
        if self.store == "keyring":
            return {**common, "keyring_service": KEYRING_SERVICE, "keyring_account": self.account}
        return {**common, "kdf": "scrypt", "salt": self.salt, "n": self.n, "r": self.r, "p": self.p}


def key_file(library: Path) -> Path:
    return Path(library) / KEY_FILE


def is_encrypted(library: Path) -> bool:
    return key_file(library).is_file()


def read_spec(library: Path) -> KeySpec:
    path = key_file(library)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["store"] == "keyring":
            return KeySpec("keyring", data["check"], account=data["keyring_account"])
        return KeySpec("passphrase", data["check"], data["salt"], int(data["n"]), int(data["r"]), int(data["p"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(path, f"unreadable encryption settings ({exc}); left untouched") from None


def new_key(store: str, passphrase: str | None) -> tuple[KeySpec, bytes]:
    """A fresh key and its spec: derived from ``passphrase``, or random and saved in the OS keyring."""
    if store == "keyring":
        keyring = _keyring()
        key, account = os.urandom(32), str(uuid.uuid4())
        keyring.set_password(KEYRING_SERVICE, account, key.hex())
        return KeySpec("keyring", _check(key), account=account), key
    if not passphrase:
        raise InputError("passphrase", "an encrypted library needs a passphrase (empty given)")
    spec = KeySpec("passphrase", "", os.urandom(16).hex(), SCRYPT_N, SCRYPT_R, SCRYPT_P)
    key = _scrypt(passphrase, spec.salt, spec.n, spec.r, spec.p)
    return replace(spec, check=_check(key)), key


def derive(library: Path, spec: KeySpec, passphrase: str | None) -> bytes:
    """The library's key; InputError (one line) for a wrong or missing passphrase. Reads nothing else."""
    if spec.store == "keyring":
        stored = _keyring().get_password(KEYRING_SERVICE, spec.account)
        if stored is None:
            raise InputError(library, f"encrypted library: its key is not in this computer's keyring "
                                      f"({KEYRING_SERVICE} / {spec.account}); nothing was changed")
        key = bytes.fromhex(stored)
    else:
        if not passphrase:
            raise LockedError(library, f"encrypted library: give its passphrase (prompt, or ${PASSPHRASE_ENV})")
        key = _scrypt(passphrase, spec.salt, spec.n, spec.r, spec.p)
    if not hmac.compare_digest(_check(key), spec.check):
        raise InputError(library, "wrong passphrase for this encrypted library; nothing was changed")
    return key


def unlock(library: Path, passphrase: str | None = None) -> bytes | None:
    """Check the passphrase (or fetch the keyring key) of an encrypted library and remember the key for
    this process; None for a plain library."""
    library = _canonical(library)
    if not is_encrypted(library):
        return None
    spec, cached = read_spec(library), _unlocked.get(library)
    if cached is None or not hmac.compare_digest(_check(cached), spec.check):  # e.g. a library made anew
        _unlocked[library] = derive(library, spec, passphrase)
    return _unlocked[library]


def remember(library: Path, key: bytes) -> None:
    _unlocked[_canonical(library)] = key


def forget(library: Path) -> None:
    _unlocked.pop(_canonical(library), None)


def cached_key(library: Path) -> bytes | None:
    """The key unlocked for this library earlier in this process, if any."""
    return _unlocked.get(_canonical(library))


def keyring_available() -> bool:
    """Whether an OS keyring backend (not keyring's fail/null placeholder) is usable here."""
    try:
        import keyring
    except ImportError:
        return False
    return keyring.get_keyring().priority > 0


def write_spec(library: Path, spec: KeySpec) -> None:
    write_private(key_file(library), json.dumps(spec.to_json(), indent=1))


def scratch_dir() -> Path:
    """A private (0700) temporary folder for decrypted copies, in memory where the OS offers one
    (/dev/shm), removed when the process ends."""
    global _scratch
    if _scratch is None:
        shm = Path("/dev/shm")
        _scratch = Path(tempfile.mkdtemp(prefix="epir-live-", dir=shm if shm.is_dir() else None))
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch


# --- the database ----------------------------------------------------------------------------------

def sqlcipher():
    """The SQLCipher DB-API module (same API as sqlite3)."""
    try:
        from sqlcipher3 import dbapi2
    except ImportError:
        raise InputError("encryption", f"encrypted libraries need SQLCipher; {EXTRA_HINT}") from None
    return dbapi2


def connect_encrypted(database: str, key: bytes, **kwargs: Any):
    """An SQLCipher connection with the library's database sub-key set (its first statement, as required)."""
    conn = sqlcipher().connect(database, **kwargs)
    conn.execute(f'PRAGMA key = "{sqlcipher_key(key)}"')
    return conn


def sqlcipher_key(key: bytes) -> str:
    """SQLCipher's raw-key literal for the database sub-key (no second key derivation inside SQLCipher)."""
    return f"x'{_subkey(key, b'database').hex()}'"


# --- files -----------------------------------------------------------------------------------------

def is_encrypted_file(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(FILE_MAGIC)) == FILE_MAGIC


def encrypt_file(src: Path, dst: Path, key: bytes) -> None:
    """``dst`` (0600, fsynced) = ``src`` encrypted: magic, a random file id, then 1 MiB chunks, each
    ``nonce | ciphertext | tag`` with the file id, chunk number and a last-chunk flag as associated data
    (so chunks cannot be reordered, dropped or the file cut short unnoticed)."""
    aes, file_id = _aes(key), os.urandom(16)
    with open(src, "rb") as inp, open_private(dst, "wb") as out:
        out.write(FILE_MAGIC + file_id)
        index, chunk = 0, inp.read(CHUNK)
        while True:
            following = inp.read(CHUNK)
            nonce = os.urandom(_NONCE)
            out.write(nonce + aes.encrypt(nonce, chunk, _aad(file_id, index, not following)))
            if not following:
                break
            index, chunk = index + 1, following
        out.flush()
        os.fsync(out.fileno())


def decrypt_file(src: Path, dst: Path, key: bytes) -> None:
    """The inverse of ``encrypt_file``; InputError when the key is wrong or the file was altered."""
    from cryptography.exceptions import InvalidTag

    aes, size = _aes(key), CHUNK + _NONCE + _TAG
    with open(src, "rb") as inp, open_private(dst, "wb") as out:
        head = inp.read(len(FILE_MAGIC) + 16)
        if head[:len(FILE_MAGIC)] != FILE_MAGIC:
            raise InputError(src, "not an EPIR Live encrypted file")
        file_id, index, block = head[len(FILE_MAGIC):], 0, inp.read(size)
        while True:
            following = inp.read(size)
            try:
                out.write(aes.decrypt(block[:_NONCE], block[_NONCE:], _aad(file_id, index, not following)))
            except InvalidTag:
                raise InputError(src, "cannot decrypt (wrong key, or the file was altered or cut short)") from None
            if not following:
                return
            index, block = index + 1, following


def _aad(file_id: bytes, index: int, last: bool) -> bytes:
    return FILE_MAGIC + file_id + struct.pack(">Q?", index, last)


def _aes(key: bytes):
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise InputError("encryption", f"encrypted files need the cryptography package; {EXTRA_HINT}") from None
    return AESGCM(_subkey(key, b"files"))


def _keyring():
    try:
        import keyring
    except ImportError:
        raise InputError("keyring", f"keeping the key in the OS keyring needs the keyring package; {EXTRA_HINT}") \
            from None
    if keyring.get_keyring().priority <= 0:
        raise InputError("keyring", "no OS keyring is available on this computer; use a passphrase")
    return keyring


def _scrypt(passphrase: str, salt: str, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(passphrase.encode("utf-8"), salt=bytes.fromhex(salt), n=n, r=r, p=p,
                          maxmem=256 * n * r + (1 << 20), dklen=32)


def _subkey(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, b"epir-live " + purpose, hashlib.sha256).digest()


def _check(key: bytes) -> str:
    return _subkey(key, b"key check").hex()


def _canonical(library: Path) -> Path:
    return Path(library).expanduser().resolve()

