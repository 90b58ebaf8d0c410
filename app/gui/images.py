"""numpy ↔ Qt images. A QImage built on a numpy buffer shares its memory, so every image is copied."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage


def rgb_image(rgb: np.ndarray) -> QImage:
    """An owning QImage of an (H, W, 3) RGB or (H, W, 4) RGBA uint8 array."""
    rgb = np.ascontiguousarray(rgb)
    h, w, c = rgb.shape
    fmt = QImage.Format_RGB888 if c == 3 else QImage.Format_RGBA8888
    return QImage(rgb.data, w, h, rgb.strides[0], fmt).copy()


def bgr_image(bgr: np.ndarray) -> QImage:
    """An owning QImage of an OpenCV BGR frame, converted in the calling thread (the analysis thread) to
    the 32-bit format Qt paints without converting: an RGB888 frame was converted again on every paint, on
    the UI thread (about half of the cost of drawing it). B, G, R, A bytes are Format_RGB32 on the
    little-endian machines Qt runs on."""
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    h, w = bgra.shape[:2]
    return QImage(bgra.data, w, h, bgra.strides[0], QImage.Format_RGB32).copy()
