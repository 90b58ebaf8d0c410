"""Is the process that was writing a session still alive? (How an interrupted session is recognised.)

A writer is identified by host, pid and, on Linux, the process start time, so a recycled pid does not
keep a dead session "recording". Sessions written on another host are left as they are: WAL needs one
host anyway, and we cannot see that host's processes.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def host() -> str:
    return socket.gethostname()


def process_token(pid: int | None = None) -> str:
    """``pid`` or ``pid:start`` (start time in clock ticks since boot, where /proc has it)."""
    pid = os.getpid() if pid is None else pid
    start = _start_time(pid)
    return f"{pid}" if start is None else f"{pid}:{start}"


def is_alive(token: str) -> bool:
    pid = int(token.split(":")[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    fields = _stat(pid)
    if fields is not None and fields[0] == "Z":  # killed, not yet reaped by its parent
        return False
    return process_token(pid) == token


def _start_time(pid: int) -> str | None:
    fields = _stat(pid)
    return None if fields is None else fields[19]  # field 22 of /proc/PID/stat


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat fields from field 3 (state) on; None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()
