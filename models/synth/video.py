"""Writing frames to a video file that OpenCV (and so the runtime) can read back."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

# Suffix → fourcc available in the opencv-python wheels (no H.264 encoder is bundled there).
CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}


def write_video(frames: Iterable[np.ndarray], path: str | Path, fps: float, quality: int = 95) -> int:
    """Write BGR frames; the codec follows the suffix (.mp4 MPEG-4 part 2, .avi Motion-JPEG at
    ``quality``, .mkv lossless FFV1). Returns the number of frames written."""
    path = Path(path)
    if path.suffix.lower() not in CODECS:
        raise ValueError(f"{path}: unsupported video suffix; use one of {', '.join(CODECS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    count = 0
    try:
        for frame in frames:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*CODECS[path.suffix.lower()]), fps, (w, h))
                if not writer.isOpened():
                    raise RuntimeError(f"{path}: OpenCV cannot open a video writer for this format")
                writer.set(cv2.VIDEOWRITER_PROP_QUALITY, quality)
            writer.write(frame)
            count += 1
    finally:
        if writer is not None:
            writer.release()
    return count
