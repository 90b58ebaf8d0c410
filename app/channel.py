"""A bounded queue between two pipeline threads, with end-of-stream, errors and stopping built in.

``put`` waits while the channel is full, so a file's frames are never skipped and memory stays bounded;
a live channel instead drops its oldest item, so a camera's capture thread never waits for analysis.
An error raised in a producer travels down the channels to the consumer, which re-raises it in its own
thread. Every wait wakes up on ``stop``, so no thread outlives a cancelled run.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

END = object()  # returned by get once the producer has closed the channel and it is empty
_WAKE_S = 0.1  # how often a waiting thread looks at ``stop``


class Channel:
    def __init__(self, capacity: int, stop: threading.Event, drop_oldest: bool = False,
                 on_drop: Callable[[Any], None] | None = None):
        if capacity < 1:
            raise ValueError("a channel holds at least one item")
        self.capacity, self.stop, self.drop_oldest, self.on_drop = capacity, stop, drop_oldest, on_drop
        self._items: deque = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._error: BaseException | None = None

    def put(self, item: Any) -> bool:
        """Queue an item; False when the run was stopped (the producer should return)."""
        with self._cond:
            while len(self._items) >= self.capacity and not self.drop_oldest:
                if self.stop.is_set():
                    return False
                self._cond.wait(_WAKE_S)
            if self.stop.is_set():
                return False
            if len(self._items) >= self.capacity:
                dropped = self._items.popleft()
                if self.on_drop is not None:
                    self.on_drop(dropped)
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> Any:
        """The next item; ``END`` at the end of the stream or once stopped; None after ``timeout`` s.
        Re-raises a producer's error."""
        with self._cond:
            waited = 0.0
            while not self._items:
                if self._error is not None:
                    raise self._error
                if self._closed or self.stop.is_set():
                    return END
                if timeout is not None and waited >= timeout:
                    return None
                wait = _WAKE_S if timeout is None else min(_WAKE_S, timeout - waited)
                self._cond.wait(wait)
                waited += wait
            if self.stop.is_set():
                return END
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self, error: BaseException | None = None) -> None:
        """No more items; ``error``: the producer failed, and the consumer re-raises it once drained."""
        with self._cond:
            self._closed, self._error = True, error
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


def start_stage(name: str, body: Callable[[], None], out: Channel) -> threading.Thread:
    """Run ``body`` in a daemon thread that closes ``out`` when it returns, or fails it when it raises."""

    def run() -> None:
        try:
            body()
        except BaseException as exc:  # handed to the consumer, which re-raises it in its own thread
            out.close(exc)
        else:
            out.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
