"""The two small pictures kept per event: the onset face crop, and the attention map laid over it.

Made once when the event is recorded (the crops are gone afterwards) and stored as PNG bytes, so a
review or a report years later shows exactly what the model looked at.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.pipeline import EventResult

ATTENTION_ALPHA = 0.55  # weight of the heat map over the grey face


def event_pictures(result: EventResult) -> tuple[bytes | None, bytes | None]:
    """(onset crop PNG, attention overlay PNG); the overlay only when the event was classified."""
    face = result.onset_face.image
    onset = _png(face)
    if result.classification is None:
        return onset, None
    return onset, _png(attention_overlay(face, result.classification.attention_crop))


def attention_overlay(face: np.ndarray, attention: np.ndarray) -> np.ndarray:
    """BGR picture: the grey crop with the attention map (scaled to its maximum) as a heat map."""
    heat = attention.astype(np.float32)
    if heat.shape != face.shape[:2]:
        heat = cv2.resize(heat, (face.shape[1], face.shape[0]), interpolation=cv2.INTER_LINEAR)
    heat = np.clip(heat / max(float(heat.max()), 1e-12), 0.0, 1.0)
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    grey = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR) if face.ndim == 2 else face
    weight = (ATTENTION_ALPHA * heat)[..., None]
    return (grey * (1 - weight) + colour * weight).astype(np.uint8)


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed")
    return data.tobytes()
