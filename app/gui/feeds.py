"""Live sources for the app's analysis thread: who closes a source, and how one is opened again.

A live source is read by one thread, which closes it (``OwnedSource``); a ``Feed`` opens a camera or a
clip again at a point of its media, so Pause and Resume continue where they were (``Continued``,
``SkipTo``). Qt-free, like the controller that uses them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.sources import CameraSource, FileSource, Frame, RealTimeSource, VideoSource


class OwnedSource(VideoSource):
    """A source read once, by one thread, which closes it when it stops reading (the capture thread of a
    live source): ``close()`` from another thread while frames are being read only asks, so the device
    is never released while a native ``grab()`` is under way."""

    def __init__(self, inner: VideoSource):
        self.inner, self.info = inner, inner.info
        self._lock = threading.Lock()
        self._reading = self._closed = False

    def frames(self) -> Iterator[Frame]:
        with self._lock:
            if self._closed:
                return
            self._reading = True
        try:
            yield from self.inner.frames()
        finally:
            with self._lock:
                self._reading, self._closed, close = False, True, not self._closed
            if close:
                self.inner.close()

    def close(self) -> None:
        with self._lock:
            close = not self._reading and not self._closed
            self._closed |= close
        if close:
            self.inner.close()

    @property
    def closed(self) -> bool:
        return self._closed


class Continued(VideoSource):
    """Frames renumbered and re-timed to continue a paused session: the first comes one frame after
    ``(index, timestamp)``. Remembers where in the underlying media it got to (``media_time``)."""

    def __init__(self, inner: VideoSource, after: tuple[int, float] | None, media_start: float):
        self.inner, self.info = inner, inner.info
        self.after, self.media_start = after, media_start
        self.media_time = media_start

    def frames(self) -> Iterator[Frame]:
        index0, t0 = (0, None) if self.after is None else (self.after[0] + 1, self.after[1] + 1.0 / self.info.fps)
        first: float | None = None
        for frame in self.inner.frames():
            first = frame.timestamp if first is None else first
            self.media_time = self.media_start + frame.timestamp
            shift = 0.0 if t0 is None else t0 - first
            yield Frame(index0 + frame.index, frame.timestamp + shift, frame.image)

    def close(self) -> None:
        self.inner.close()


class SkipTo(VideoSource):
    """A recording from ``seconds`` on (its first pass), re-timed to start at 0."""

    def __init__(self, inner: VideoSource, seconds: float):
        self.inner, self.info, self.seconds = inner, inner.info, seconds

    def frames(self) -> Iterator[Frame]:
        skip, self.seconds = self.seconds, 0.0
        index = 0
        for frame in self.inner.frames():
            if frame.timestamp + 1e-6 < skip:
                continue
            yield Frame(index, frame.timestamp - skip, frame.image)
            index += 1

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class Feed:
    """A live source that can be opened again at a point of its media (``open(seconds)``): Resume
    continues a clip where it was paused; a camera simply opens again."""

    open: Callable[[float], VideoSource]
    name: str


def camera_feed(index: int, width: int | None = None, height: int | None = None, fps: float | None = None) -> Feed:
    return Feed(lambda _at: CameraSource(index, width, height, fps or None), f"camera {index}")


def clip_feed(path: str | Path, loop: bool = False) -> Feed:
    """A recording played at its own pace, as a camera would deliver it (the demo clip)."""

    def open_at(seconds: float) -> VideoSource:
        clip = FileSource(path)
        info = clip.info
        length = info.frame_count / info.fps if info.frame_count else None
        start = seconds % length if loop and length else seconds
        return RealTimeSource(SkipTo(clip, start) if start > 0 else clip, loop=loop)

    return Feed(open_at, str(path))
