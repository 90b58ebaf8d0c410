"""Ctrl-C and SIGTERM held back while one result is handed to the sinks.

Both signals raise in the main thread wherever it is, so without this a run stopped between writing a
frame's row and counting it reports one frame fewer than its frames.csv holds. Outside ``held()`` they
raise at once, as before, so a stalled decoder can still be interrupted.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class HeldSignals:
    """Wraps the SIGINT and SIGTERM handlers in force (those that raise) for the duration of a ``with``."""

    def __init__(self) -> None:
        self._holding = False
        self._pending: Callable[[], None] | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> HeldSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                handler = signal.getsignal(sig)
                if callable(handler):  # SIG_DFL / SIG_IGN: nothing raises there, nothing to hold
                    self._previous[sig] = handler
                    signal.signal(sig, self._make_handler(handler))
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Signals arriving inside take effect on leaving it (the first one, if several came)."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            pending, self._pending = self._pending, None
            if pending is not None:
                pending()

    def _make_handler(self, handler: Callable) -> Callable:
        def on_signal(signum, frame) -> None:
            if not self._holding:
                handler(signum, frame)
            elif self._pending is None:
                self._pending = lambda: handler(signum, frame)
        return on_signal
