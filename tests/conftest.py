"""Shared fixtures: real face photographs and small real video files."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# A shell starts a background job (`pytest ... &`) with SIGINT ignored, and every process the tests start would
# inherit that: Python then installs no KeyboardInterrupt handler, and the tests that stop a child with Ctrl-C
# (SIGINT) would watch it run to the end. The children get Python's own handling, as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def private_session_library(tmp_path, monkeypatch):
    """No test may write into the user's real session library or log folder."""
    monkeypatch.setenv("EPIR_LIVE_LIBRARY", str(tmp_path / "library"))
    monkeypatch.setenv("EPIR_LIVE_LOGS", str(tmp_path / "logs"))


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """Eileen Collins, NASA portrait (public domain), shipped inside scikit-image."""
    import skimage.data

    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def hopper_bgr() -> np.ndarray:
    """Grace Hopper, US Navy portrait (public domain), shipped inside matplotlib."""
    import matplotlib

    image = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    assert image is not None
    return image


def write_video(path: Path, frames: list[np.ndarray], fps: float, codec: str = "MJPG") -> Path:
    """Write frames with OpenCV (MJPG in .avi keeps 1-px motions intact)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    assert writer.isOpened(), f"cannot write {path}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def write_bump_clip(path: Path, face_photo: np.ndarray, bumps_s: tuple[float, ...], seconds: float,
                    fps: float = 30.0, seed: int = 0) -> Path:
    """A real face whose cheek moves by 1.5 px for about 200 ms around each time in ``bumps_s``."""
    face = face_photo[0:320, 96:416]
    h, w = face.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.exp(-(((xx - 149) ** 2 + (yy - 140) ** 2) / (2 * 8 ** 2)))
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(int(seconds * fps)):
        a = sum(1.5 * np.exp(-((i / fps - t) / 0.08) ** 2) for t in bumps_s)
        moved = cv2.remap(face, xx - a * bump, yy + 0.5 * a * bump, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        frames.append(np.clip(moved + rng.normal(0, 2, moved.shape), 0, 255).astype(np.uint8))
    return write_video(path, frames, fps)
