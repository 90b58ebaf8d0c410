"""Native libraries' diagnostics (FFmpeg, MediaPipe's C++ graphs, ONNX Runtime, Qt) filtered, not discarded.

They write straight to file descriptor 2, bypassing Python, and would bury the one clear line the
command line promises under theirs. Descriptor 2 is therefore piped through a small filter process:
every line goes to the log file; lines that announce a fatal failure (a missing Qt plugin, an abort, a fatal
error and the Python stacks ``faulthandler`` writes after it) also reach the terminal, and with
``--verbose`` everything does. A separate process, because what a dying process writes last (Qt's
``qFatal`` before ``abort()``, a segmentation fault's stacks) must still be read after it died.
Python's own ``sys.stderr`` keeps writing to the terminal through a duplicate of the original descriptor.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
from pathlib import Path

NATIVE_LOGS_ENV = "EPIR_LIVE_NATIVE_LOGS"  # set to 1 to see the libraries' own logs unfiltered (debugging)

_FILTER = r"""
import re, sys
log, verbose = sys.argv[1], sys.argv[2] == "1"
serious = re.compile(rb"fatal|abort|qt platform plugin|segmentation|out of memory|bad_alloc|terminate called", re.I)
chatter = re.compile(rb"^[IWE]\d{4} |^INFO: |^WARNING: All log messages before absl|\[[EWIV]:onnxruntime")
crashed = False
for line in sys.stdin.buffer:
    crashed = crashed or line.startswith(b"Fatal Python error")
    if log:
        try:
            with open(log, "ab") as out:
                out.write(b"native: " + line)
        except OSError:
            pass
    if verbose or crashed or (serious.search(line) and not chatter.search(line)):
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
"""


def filter_native_stderr(log_file: Path | None, verbose: bool = False) -> None:
    """Route descriptor 2 through the filter (POSIX, when stderr is a real file and not already routed).
    Called once, by the process's entry point (main.py), never from library code or tests."""
    if os.environ.get(NATIVE_LOGS_ENV) == "1" or os.name != "posix" or sys.stderr is not sys.__stderr__:
        return  # debugging, not POSIX, already routed, or stderr is someone else's (a test runner capturing it)
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr is not a real file: nothing reaches it natively
        return
    sys.stderr.flush()
    terminal = os.dup(fd)
    try:
        child = subprocess.Popen([sys.executable, "-I", "-S", "-c", _FILTER, str(log_file or ""), "1" if verbose else "0"],
                                 stdin=subprocess.PIPE, stdout=terminal, stderr=subprocess.DEVNULL, close_fds=True)
    except OSError:
        os.close(terminal)
        return
    os.dup2(child.stdin.fileno(), fd)
    python_side = os.fdopen(terminal, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    sys.stderr = python_side

    def drain() -> None:  # at exit: end the pipe (restore descriptor 2) and let the filter write what is left
        try:
            os.dup2(terminal, fd)
        except OSError:  # the terminal side is already closed: closing our pipe end is all that is left
            with contextlib.suppress(OSError):
                os.close(fd)
        child.stdin.close()
        try:
            child.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            child.kill()

    atexit.register(drain)
