"""Video sources behind one interface: webcam by index, video file, folder of numbered frames.

Every source yields ``Frame`` objects carrying their index and a timestamp from the source's own clock
(the file's time base, the capture time for a camera, index / fps for a frame folder), and knows its
real frame rate, which everything timing-related uses.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from app.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
DEFAULT_FOLDER_FPS = 30.0


@dataclass(frozen=True)
class Frame:
    index: int  # 0-based position in the source
    timestamp: float  # seconds, source clock
    image: np.ndarray  # BGR uint8 (H, W, 3)


@dataclass(frozen=True)
class SourceInfo:
    kind: str  # "camera" | "file" | "folder"
    name: str  # what the user asked for (path or "camera 0")
    fps: float
    width: int
    height: int
    frame_count: int | None  # None for a camera
    live: bool  # frames arrive in real time and may be dropped


class VideoSource(ABC):
    info: SourceInfo

    @abstractmethod
    def frames(self) -> Iterator[Frame]:
        """Yield frames in order until the source ends (or forever, for a camera)."""

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FileSource(VideoSource):
    """A video file decoded by OpenCV; timestamps come from the container's time base."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(path, "file not found")
        if not self.path.is_file():
            raise InputError(path, "not a file")
        self._cap = cv2.VideoCapture(str(self.path))
        opened = self._cap.isOpened()
        ok, first = self._cap.read() if opened else (False, None)
        if not opened:
            raise InputError(path, "cannot be opened as a video (unknown or corrupt format)")
        if not ok or first is None:
            self._cap.release()
            raise InputError(path, "not a playable video (no decodable frames)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            self._cap.release()
            raise InputError(path, f"video reports an invalid frame rate ({fps})")
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._first = first
        self.truncated_at: int | None = None  # set when decoding stops before the announced end
        self.info = SourceInfo("file", str(path), float(fps), first.shape[1], first.shape[0],
                               count if count > 0 else None, live=False)

    def frames(self) -> Iterator[Frame]:
        fps = self.info.fps
        if self._first is None:  # a second pass (looping playback): rewind
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, self._first = self._cap.read()
        index, image, self._first = 0, self._first, None
        while image is not None:
            msec = self._cap.get(cv2.CAP_PROP_POS_MSEC)
            # POS_MSEC is the time of the frame just read; some containers report 0: fall back.
            timestamp = msec / 1000.0 if msec > 0 or index == 0 else index / fps
            yield Frame(index, timestamp, image)
            ok, image = self._cap.read()
            if not ok:
                image = None
            index += 1
        expected = self.info.frame_count
        if expected is not None and index < expected - 1:
            self.truncated_at = index

    def close(self) -> None:
        self._cap.release()


def _frame_number(path: Path) -> int | None:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


class FolderSource(VideoSource):
    """Numbered frames in a folder (the layout of CASME II, SAMM, SMIC...), ordered by the number."""

    def __init__(self, path: str | Path, fps: float | None = None):
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError(path, "folder not found")
        numbered = [(n, p) for p in self.path.iterdir()
                    if p.suffix.lower() in IMAGE_SUFFIXES and (n := _frame_number(p)) is not None]
        if not numbered:
            raise InputError(path, "folder has no numbered image frames (.jpg, .png, .bmp)")
        numbered.sort()
        self.numbers = [n for n, _ in numbered]
        self.paths = [p for _, p in numbered]
        first = cv2.imread(str(self.paths[0]))
        if first is None:
            raise InputError(self.paths[0], "cannot be read as an image")
        self.fps_given = fps is not None
        self.info = SourceInfo("folder", str(path), float(fps or DEFAULT_FOLDER_FPS), first.shape[1],
                               first.shape[0], len(self.paths), live=False)

    def frames(self) -> Iterator[Frame]:
        for index, p in enumerate(self.paths):
            image = cv2.imread(str(p))
            if image is None:
                raise InputError(p, "cannot be read as an image")
            yield Frame(index, (self.numbers[index] - self.numbers[0]) / self.info.fps, image)


class CameraSource(VideoSource):
    """A webcam; timestamps are capture times on a monotonic clock, starting at 0."""

    def __init__(self, index: int, width: int | None = None, height: int | None = None,
                 fps: float | None = None):
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            raise InputError(f"camera {index}", "not found or already in use")
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height),
                            (cv2.CAP_PROP_FPS, fps)):
            if value:
                self._cap.set(prop, value)
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise InputError(f"camera {index}", "opened but delivers no frames")
        reported = self._cap.get(cv2.CAP_PROP_FPS)
        self._t0 = time.monotonic()
        self.info = SourceInfo("camera", f"camera {index}", float(reported) if reported > 0 else 30.0,
                               first.shape[1], first.shape[0], None, live=True)

    def frames(self) -> Iterator[Frame]:
        index = 0
        while True:
            ok = self._cap.grab()
            stamp = time.monotonic() - self._t0
            if not ok:
                raise InputError(self.info.name, "stopped delivering frames (unplugged?)")
            ok, image = self._cap.retrieve()
            if not ok:
                raise InputError(self.info.name, "stopped delivering frames (unplugged?)")
            yield Frame(index, stamp, image)
            index += 1

    def close(self) -> None:
        self._cap.release()


class RealTimeSource(VideoSource):
    """Plays a recorded source at its own pace, as a camera would deliver it (demos, live-mode tests)."""

    def __init__(self, inner: VideoSource, loop: bool = False):
        self.inner = inner
        self.loop = loop
        self.info = replace(inner.info, live=True, frame_count=None if loop else inner.info.frame_count)

    def frames(self) -> Iterator[Frame]:
        start, index, offset = time.monotonic(), 0, 0.0
        while True:
            last = 0.0
            for frame in self.inner.frames():
                stamp = offset + frame.timestamp
                wait = start + stamp - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                yield Frame(index, stamp, frame.image)
                index, last = index + 1, frame.timestamp
            if not self.loop:
                return
            offset += last + 1.0 / self.info.fps

    def close(self) -> None:
        self.inner.close()


def open_source(spec: str | int | Path, fps: float | None = None) -> VideoSource:
    """Open a camera (an integer or a string of digits), a video file or a frame folder."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CameraSource(int(spec), fps=fps)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, fps)
    return FileSource(path)


def list_cameras(max_index: int = 8) -> list[int]:
    """Indices of the cameras that open and deliver a frame."""
    found = []
    for i in range(max_index):
        cap = cv2.VideoCapture(i)
        try:
            if cap.isOpened() and cap.read()[0]:
                found.append(i)
        finally:
            cap.release()
    return found
