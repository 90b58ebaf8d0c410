"""Keep native libraries' diagnostics (FFmpeg, MediaPipe's C++ graphs, ONNX Runtime) off the terminal.

They write straight to file descriptor 2, bypassing Python, and would bury the one clear line the
command line promises under theirs. Python's own ``sys.stderr`` (errors, progress bars) keeps
writing to the real terminal through a duplicate of the original descriptor.
"""

from __future__ import annotations

import os
import sys

NATIVE_LOGS_ENV = "EPIR_LIVE_NATIVE_LOGS"  # set to 1 to see the libraries' own logs (debugging)


def silence_native_stderr() -> None:
    if os.environ.get(NATIVE_LOGS_ENV) == "1":
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr is not a real file: nothing reaches it natively
        return
    sys.stderr.flush()
    python_side = os.fdopen(os.dup(fd), "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    sys.stderr = python_side
