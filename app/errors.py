"""Exception types for what the user must fix, their exit codes, and safe display of user-given text.

Every entry point turns these into one clear line naming the input (or output) and the problem.
"""

from __future__ import annotations

import os
import re

# Exit codes of the command line (README "Bad input").
EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug: the traceback is in the log file
EXIT_INPUT = 2  # bad input or option: nothing was written
EXIT_OUTPUT = 3  # an output could not be written (read-only, full disk, ...): earlier results are kept
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: object) -> str:
    """``text`` safe for a terminal, a log and UTF-8 files: control characters (ANSI escapes, newlines)
    and undecodable file-name bytes (surrogate escapes) are shown as backslash escapes."""
    value = os.fspath(text) if isinstance(text, os.PathLike) else str(text)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)


class InputError(Exception):
    """A user-supplied input (file, folder, camera, model, option) cannot be used.

    The message names the input and the problem in one line, e.g.
    ``clip.mp4: not a video file (no decodable frames)``.
    """

    exit_code = EXIT_INPUT

    def __init__(self, source: object, problem: str):
        self.source = printable(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class OutputError(InputError):
    """An output (folder, file, library) cannot be written; what was there before is left as it was."""

    exit_code = EXIT_OUTPUT


def output_error(path: object, exc: OSError) -> OutputError:
    """An OSError while writing ``path`` as one line (e.g. ``out/frames.csv: No space left on device``)."""
    where = exc.filename if isinstance(exc.filename, (str, bytes, os.PathLike)) else path
    return OutputError(where, exc.strerror or str(exc) or type(exc).__name__)
