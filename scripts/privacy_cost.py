"""What encryption at rest costs here: unlocking a library (scrypt at the shipped cost) and AES-GCM
throughput on a 64 MiB file, as ``python scripts/privacy_cost.py`` prints it."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from app.sessions import crypto


def main() -> None:
    started = time.perf_counter()
    _, key = crypto.new_key("passphrase", "a passphrase")
    print(f"unlock (scrypt N=2^17, r=8, p=1): {time.perf_counter() - started:.2f} s")
    with tempfile.TemporaryDirectory() as work:
        plain, sealed, back = (Path(work) / name for name in ("plain", "sealed", "back"))
        plain.write_bytes(os.urandom(64 << 20))
        started = time.perf_counter()
        crypto.encrypt_file(plain, sealed, key)
        middle = time.perf_counter()
        crypto.decrypt_file(sealed, back, key)
        done = time.perf_counter()
        assert back.read_bytes() == plain.read_bytes()
    print(f"AES-256-GCM: encrypt {64 / (middle - started):.0f} MiB/s, decrypt {64 / (done - middle):.0f} MiB/s")


if __name__ == "__main__":
    main()
