"""One colour per label, the same in the app, the timeline plots and the session report."""

from __future__ import annotations

import zlib

LABEL_COLOURS = {
    "negative": "#e5534b",
    "positive": "#57ab5a",
    "surprise": "#daaa3f",
    "happiness": "#57ab5a",
    "disgust": "#986ee2",
    "repression": "#4f9bd9",
    "others": "#8b949e",
    "uncertain": "#adbac7",  # the model and the face disagree, or the model is unsure (app.abstention)
    "none": "#545d68",  # not an expression: blink, speech, head movement...
}
UNLABELLED_COLOUR = "#39c5cf"  # spotted, no model to classify it
_SPARE = ("#f69d50", "#dc6fa0", "#4f9bd9", "#b083f0", "#6bc46d", "#c69026")


def label_hex(label: str | None) -> str:
    """A stable colour for any label: the known ones fixed, others hashed onto a spare palette."""
    if label is None:
        return UNLABELLED_COLOUR
    return LABEL_COLOURS.get(label.lower()) or _SPARE[zlib.crc32(label.encode()) % len(_SPARE)]
