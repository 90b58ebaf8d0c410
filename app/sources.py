"""Video sources behind one interface: webcam by index, video file, folder of numbered frames.

Every source yields ``Frame`` objects carrying their index and a timestamp from the source's own clock
(the file's time base, the capture time for a camera, index / fps for a frame folder), and knows its
real frame rate, which everything timing-related uses.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import shutil
import stat
import struct
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from app.errors import InputError, printable

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
DEFAULT_FOLDER_FPS = 30.0
log = logging.getLogger("epir.sources")


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

    skipped: int = 0  # frames that could not be decoded and were left out

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FileSource(VideoSource):
    """A video file decoded by OpenCV; timestamps come from the container's time base.

    Undecodable frames inside the file are skipped and counted (``skipped``) instead of ending the
    analysis; timestamps that are not finite, negative or running backwards (an image renamed ``.mp4``)
    give way to index / fps, with a warning.
    """

    MAX_CONSECUTIVE_FAILURES = 50  # unreadable frames in a row before the rest of the file counts as lost

    def __init__(self, path: str | Path, fps: float | None = None):
        """``fps`` is used only for a file that declares no frame rate (OpenCV would assume 25)."""
        self.path = Path(path)
        _check_path(self.path, want_dir=False)
        self.fps_from_option = _declares_no_frame_rate(self.path)
        if self.fps_from_option and fps is None:
            raise InputError(path, "the file declares no frame rate (OpenCV would assume 25 fps); "
                                   "give the real rate with --fps")
        self._opened = _OpenCvName(self.path)
        self._cap = cv2.VideoCapture(self._opened.name)
        opened = self._cap.isOpened()
        ok, first = self._cap.read() if opened else (False, None)
        if not opened:
            self.close()
            raise InputError(path, "cannot be opened as a video (unknown or corrupt format)")
        if not ok or first is None:
            self.close()
            raise InputError(path, "not a playable video (no decodable frames)")
        fps = fps if self.fps_from_option else self._cap.get(cv2.CAP_PROP_FPS)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            self.close()
            raise InputError(path, f"video reports an invalid frame rate ({fps})")
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        count = int(count) if np.isfinite(count) and 0 < count < 2**31 else None
        if count is None and not self._has_second_frame():
            self.close()
            raise InputError(path, "holds a single image, not a video")
        self._first = first
        self.truncated_at: int | None = None  # set when decoding stops before the announced end
        self.skipped = 0  # undecodable frames skipped inside the file
        self.clock_warning: str | None = None  # set when the container's timestamps were unusable
        self.info = SourceInfo("file", printable(path), float(fps), first.shape[1], first.shape[0], count, live=False)

    def frames(self) -> Iterator[Frame]:
        fps, expected = self.info.fps, self.info.frame_count
        if self._first is None:  # a second pass (looping playback): rewind
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, self._first = self._cap.read()
        index, image, self._first = 0, self._first, None
        self.skipped, attempts, last_time = 0, 1, -math.inf
        while image is not None:
            timestamp = index / fps if self.fps_from_option else self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if index > 0 and timestamp == 0.0:  # some containers report 0 after the first frame
                timestamp = last_time + 1.0 / fps
            if not (math.isfinite(timestamp) and 0.0 <= timestamp < 1e7 and timestamp > last_time):
                if self.clock_warning is None:
                    self.clock_warning = (f"the file's timestamps are unusable ({timestamp:g} s at frame {index}); "
                                          f"using frame number / {fps:g} fps")
                    log.warning("warning: %s: %s", self.info.name, self.clock_warning)
                timestamp = max(last_time + 1.0 / fps, 0.0)
            yield Frame(index, timestamp, image)
            index, last_time, image = index + 1, timestamp, None
            failures = 0
            while failures < self.MAX_CONSECUTIVE_FAILURES:
                ok, image = self._cap.read()
                attempts += 1
                if ok and image is not None:
                    self.skipped += failures  # undecodable frames with decodable ones after them
                    if failures:
                        log.debug("%s: %d undecodable frames skipped before frame %d", self.info.name, failures, index)
                    break
                image = None
                if expected is None or attempts > expected or self._cap.get(cv2.CAP_PROP_POS_FRAMES) >= expected:
                    break
                failures += 1
        if expected is not None and index + self.skipped < expected - 1:
            self.truncated_at = index

    def close(self) -> None:
        self._cap.release()
        self._opened.close()

    def _has_second_frame(self) -> bool:
        """For a file that does not say how many frames it has (an image renamed .mp4 does not)."""
        probe = cv2.VideoCapture(self._opened.name)
        try:
            return probe.read()[0] and probe.grab()
        finally:
            probe.release()


def _declares_no_frame_rate(path: Path) -> bool:
    """An AVI whose video stream header gives a rate or scale of 0 (FFmpeg then guesses 25 fps). Other
    containers carry timestamps, or OpenCV reports their missing rate as 0 (refused elsewhere)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536)
    except OSError:
        return False
    if head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        return False
    at = head.find(b"strh")
    while at >= 0 and head[at + 8:at + 12] != b"vids":  # chunk id, size, then the stream type
        at = head.find(b"strh", at + 4)
    if at < 0 or at + 36 > len(head):
        return False
    scale, rate = struct.unpack_from("<II", head, at + 28)
    return scale == 0 or rate == 0


class _OpenCvName:
    """A name OpenCV can open for ``path``: the path itself, or, where it is not valid UTF-8 (OpenCV
    crashes on such names), a symbolic link with a plain name in a private temporary folder."""

    def __init__(self, path: Path):
        self._tmp: str | None = None
        self.name = str(path)
        try:
            self.name.encode("utf-8")
        except UnicodeEncodeError:
            self._tmp = tempfile.mkdtemp(prefix="epir-name-")
            self.name = os.path.join(self._tmp, "input" + printable(path.suffix))
            os.symlink(os.path.abspath(path), self.name)

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def _check_path(path: Path, want_dir: bool) -> None:
    """InputError for a path that cannot be what is wanted, with the real reason (loop, permission...)."""
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(path, "symbolic link loop") from None
        if exc.errno == errno.ENOENT:
            if os.path.lexists(path):
                raise InputError(path, "broken symbolic link (its target does not exist)") from None
            raise InputError(path, "folder not found" if want_dir else "file not found") from None
        raise InputError(path, exc.strerror or str(exc)) from None
    if want_dir and not stat.S_ISDIR(st.st_mode):
        raise InputError(path, "not a folder")
    if not want_dir and not stat.S_ISREG(st.st_mode):
        raise InputError(path, "a folder, not a video file" if stat.S_ISDIR(st.st_mode) else
                         "not a regular file (a device, pipe or socket)")
    if not os.access(path, os.R_OK | (os.X_OK if want_dir else 0)):
        raise InputError(path, "permission denied")


def _frame_number(path: Path) -> int | None:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


def read_image(path: Path) -> np.ndarray | None:
    """An image file as BGR uint8, or None: read through Python (any file name), decoded by OpenCV."""
    try:
        data = np.fromfile(path, np.uint8)
    except (OSError, ValueError):
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return image


class FolderSource(VideoSource):
    """Numbered frames in a folder (the layout of CASME II, SAMM, SMIC...), ordered by the number.

    Only regular files are read (a pipe would block); unreadable frames are skipped and counted.
    """

    def __init__(self, path: str | Path, fps: float | None = None):
        self.path = Path(path)
        _check_path(self.path, want_dir=True)
        numbered: dict[int, Path] = {}
        for p in sorted(self.path.iterdir()):
            if p.suffix.lower() not in IMAGE_SUFFIXES or (n := _frame_number(p)) is None:
                continue
            if not p.is_file():
                log.warning("warning: %s: not a regular file; skipped", printable(p))
                continue
            if n in numbered:
                raise InputError(path, f"frame number {n} appears twice ({printable(numbered[n].name)}, "
                                       f"{printable(p.name)}); keep one of them")
            numbered[n] = p
        if not numbered:
            raise InputError(path, "folder has no numbered image frames (.jpg, .png, .bmp)")
        self.numbers = sorted(numbered)
        self.paths = [numbered[n] for n in self.numbers]
        first = next((image for p in self.paths[:10] if (image := read_image(p)) is not None), None)
        if first is None:
            raise InputError(self.paths[0], "cannot be read as an image")
        self.fps_given = fps is not None
        self.skipped = 0
        self.info = SourceInfo("folder", printable(path), float(fps or DEFAULT_FOLDER_FPS), first.shape[1],
                               first.shape[0], len(self.paths), live=False)

    def frames(self) -> Iterator[Frame]:
        self.skipped, index, size = 0, 0, (self.info.height, self.info.width)
        for number, p in zip(self.numbers, self.paths):
            image = read_image(p)
            if image is None or image.shape[:2] != size:
                self.skipped += 1
                problem = "cannot be read as an image" if image is None else \
                    f"is {image.shape[1]}x{image.shape[0]}, not {size[1]}x{size[0]} like the first frame"
                log.warning("warning: %s: %s; skipped", printable(p), problem)
                continue
            yield Frame(index, (number - self.numbers[0]) / self.info.fps, image)
            index += 1


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
    """Open a camera (an integer, or a string of digits that names no file), a video file or a frame folder."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit() and not os.path.lexists(spec)):
        return CameraSource(int(spec), fps=fps)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path, fps)
    return FileSource(path, fps)


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
