"""Shared fixtures: real face photographs and small real video files."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def private_session_library(tmp_path, monkeypatch):
    """No test may write into the user's real session library."""
    monkeypatch.setenv("EPIR_LIVE_LIBRARY", str(tmp_path / "library"))


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
