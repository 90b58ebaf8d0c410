"""Logging for the command line and the app: a rotating log file in the user's data folder with full
tracebacks, one-line messages on the terminal (everything with ``--verbose``), and ``faulthandler`` so a
native crash still leaves the Python stack of every thread.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import sys
from pathlib import Path

from app.userdata import user_data_dir

LOGS_ENV = "EPIR_LIVE_LOGS"  # folder for the log file (default: the user data folder's logs/)
LOG_NAME = "epir-live.log"
_MAX_BYTES, _BACKUPS = 1_000_000, 3
log = logging.getLogger("epir")


def log_dir() -> Path:
    return Path(os.environ[LOGS_ENV]).expanduser() if os.environ.get(LOGS_ENV) else user_data_dir() / "logs"


def log_file() -> Path:
    return log_dir() / LOG_NAME


class _Handlers:
    """The handlers this module installed, so that setting up again (tests, the app after the CLI) replaces them."""

    installed: list[logging.Handler] = []


def setup_logging(verbose: bool = False) -> Path | None:
    """Install the log file and the terminal handler; returns the log file (None where it cannot be
    written: then the terminal is the only log, and it says so once)."""
    root = logging.getLogger()
    for handler in _Handlers.installed:
        root.removeHandler(handler)
        handler.close()
    _Handlers.installed = []
    root.setLevel(logging.INFO)  # other libraries' debug chatter (matplotlib's font search...) stays out
    log.setLevel(logging.DEBUG)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(message)s"))
    # ours, or any library's errors; tracebacks only with --verbose (the caller prints its one line)
    console.addFilter(lambda record: (record.name.startswith("epir") or record.levelno >= logging.ERROR)
                      and (verbose or not record.exc_info))
    handlers: list[logging.Handler] = [console]
    path: Path | None = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS,
                                                    encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        path = None
        console.handle(logging.makeLogRecord({"msg": f"note: no log file ({exc.strerror or exc}: {log_dir()})",
                                              "levelno": logging.WARNING, "name": "epir"}))
    else:
        file.setLevel(logging.DEBUG)
        file.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s: %(message)s"))
        handlers.append(file)
    for handler in handlers:
        root.addHandler(handler)
    _Handlers.installed = handlers
    _enable_faulthandler()
    log.debug("epir-live started: %s", " ".join(sys.argv))
    return path


def _enable_faulthandler() -> None:
    """Crash traces go to file descriptor 2: the terminal, or the native filter (which also logs them)."""
    try:
        faulthandler.enable(file=2, all_threads=True)
    except (OSError, ValueError, RuntimeError):  # no descriptor 2 (a windowed app on Windows)
        pass
