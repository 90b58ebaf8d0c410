"""Random access to the frames of a recorded video, for scrubbing without keeping decoded frames.

Frames are re-decoded on demand (sequential reads while playing, a seek otherwise), so memory does not
grow with the length of the video. Used only from the player thread.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from app.errors import InputError
from app.sources import FolderSource


class FrameReader:
    def __init__(self, path: str | Path):
        path = Path(path)
        self._paths: list[Path] | None = None
        self._cap: cv2.VideoCapture | None = None
        if path.is_dir():
            self._paths = FolderSource(path).paths
        else:
            self._cap = cv2.VideoCapture(str(path))
            if not self._cap.isOpened():
                raise InputError(path, "cannot be opened as a video")
        self._next = 0  # index the capture will decode next

    def read(self, index: int) -> np.ndarray | None:
        """BGR frame ``index`` (0-based, decode order), or None past the end."""
        if self._paths is not None:
            return cv2.imread(str(self._paths[index])) if 0 <= index < len(self._paths) else None
        assert self._cap is not None
        if index != self._next:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = self._cap.read()
        self._next = index + 1 if ok else -1
        return image if ok else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
