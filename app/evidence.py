"""The real-face evidence of an event: which facial movements changed, in plain words, and what an
EMFACS-like reading of them says.

EPIR's label comes from a model trained on synthetic faces or on a few hundred real micro-expression
flows; the blendshapes (``app.blendshapes``) come from MediaPipe's network trained on many real
faces. An event's evidence is the change of the blendshapes from its onset to the frame inside it
where they moved most, grouped into FACS-style movements (each
named after the action unit it stands in for). The reading follows EMFACS's prototypes: cheek raise +
lip corner pull → positive; brow raise + upper lid raise or jaw drop → surprise; brow lowerer, nose
wrinkle, upper lip raise, lip corner depressor, chin raise, lip press, lip stretch, dimpler → negative.
The wording (``describe``) is shared by the app, the files and the session report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from app.blendshapes import BLENDSHAPE_INDEX, BLENDSHAPE_NAMES

READINGS = ("positive", "surprise", "negative")
UNCLEAR = "unclear"  # no expression movement rose enough to read


@dataclass(frozen=True)
class Movement:
    key: str
    words: str  # what a person sees, for the readout
    au: str  # the FACS action unit it stands in for
    blendshapes: tuple[str, ...]  # averaged (left and right)


MOVEMENTS = (
    Movement("lip_corner_pull", "lip corners up (smile)", "AU12", ("mouthSmileLeft", "mouthSmileRight")),
    Movement("cheek_raise", "cheeks raised", "AU6", ("cheekSquintLeft", "cheekSquintRight")),
    Movement("inner_brow_raise", "inner brows raised", "AU1", ("browInnerUp",)),
    Movement("outer_brow_raise", "outer brows raised", "AU2", ("browOuterUpLeft", "browOuterUpRight")),
    Movement("upper_lid_raise", "eyes widened", "AU5", ("eyeWideLeft", "eyeWideRight")),
    Movement("jaw_drop", "jaw dropped", "AU26", ("jawOpen",)),
    Movement("brow_lower", "brows lowered", "AU4", ("browDownLeft", "browDownRight")),
    Movement("nose_wrinkle", "nose wrinkled", "AU9", ("noseSneerLeft", "noseSneerRight")),
    Movement("upper_lip_raise", "upper lip raised", "AU10", ("mouthUpperUpLeft", "mouthUpperUpRight")),
    Movement("lip_corner_depress", "lip corners down", "AU15", ("mouthFrownLeft", "mouthFrownRight")),
    Movement("chin_raise", "chin raised", "AU17", ("mouthShrugLower",)),
    Movement("lip_press", "lips pressed", "AU24", ("mouthPressLeft", "mouthPressRight")),
    Movement("lip_stretch", "lips stretched", "AU20", ("mouthStretchLeft", "mouthStretchRight")),
    Movement("dimple", "mouth corners tightened (dimpler)", "AU14", ("mouthDimpleLeft", "mouthDimpleRight")),
    Movement("lid_tighten", "eyes narrowed", "AU7", ("eyeSquintLeft", "eyeSquintRight")),
    Movement("pucker", "lips puckered", "AU18", ("mouthPucker",)),
    Movement("funnel", "lips funnelled", "AU22", ("mouthFunnel",)),
    Movement("blink", "eyes closed (blink)", "AU45", ("eyeBlinkLeft", "eyeBlinkRight")),
)
MOVEMENT_BY_KEY = {m.key: m for m in MOVEMENTS}
NEGATIVE_MOVEMENTS = ("brow_lower", "nose_wrinkle", "upper_lip_raise", "lip_corner_depress", "chin_raise",
                      "lip_press", "lip_stretch", "dimple")
# A broad smile or a laugh raises the upper lip and stretches the mouth too: with a smile these are not
# read as negative (EMFACS's disgust is AU9/AU10 without AU12).
SMILE_COMPANIONS = ("upper_lip_raise", "lip_stretch", "dimple")
# A laugh moves the mouth, the jaw and the eyes (lids narrowed or shut); these are no part of it: the brows
# and upper lids (surprise, anger, fear, sadness), a nose wrinkle, lip corners pulled down, the chin raised.
NOT_LAUGH_MOVEMENTS = ("inner_brow_raise", "outer_brow_raise", "brow_lower", "upper_lid_raise", "nose_wrinkle",
                       "lip_corner_depress", "chin_raise")
# Crying's signs (inner brows raised, lip corners down, chin raised, lips stretched): none may be held in a laugh.
GRIEF_MOVEMENTS = ("inner_brow_raise", "lip_corner_depress", "chin_raise", "lip_stretch")
_COLUMNS = [np.array([BLENDSHAPE_INDEX[n] for n in m.blendshapes]) for m in MOVEMENTS]
_LOWER_LIP_DOWN = np.array([BLENDSHAPE_INDEX["mouthLowerDownLeft"], BLENDSHAPE_INDEX["mouthLowerDownRight"]])
# A blink inside an event must not decide where its apex is.
_APEX_COLUMNS = np.array([i for i, m in enumerate(MOVEMENTS) if m.key != "blink"])


@dataclass(frozen=True)
class ReadingOptions:
    """Blendshape score units (0–1). Chosen on the portraits and development clips named in the README
    ("Evidence and abstention"), which says which figures are development figures."""

    min_rise: float = 0.15  # a movement smaller than this is not read
    held_level: float = 0.4  # a level at the apex that reads as an expression already on the face
    listed_change: float = 0.05  # smallest change named in the readout
    # A smile with the eyes shut and the lips closed is a crying grimace as often as a smile (it reads
    # mouthSmile 0.8-0.9 in WolfgangLanger_Pexels.mp4's crying): not read as positive.
    shut_eyes: float = 0.5  # eye closure (AU45 level) at the apex
    parted_lips: float = 0.3  # upper lip raise (AU10 level) that shows a laugh's teeth
    lower_lip_down: float = 0.1  # lower lip lowered (``mouthLowerDown*`` level): a laugh's mouth is open
    grief_level: float = 0.3  # a level of a crying sign (``GRIEF_MOVEMENTS``) that rules out a laugh


def movement_values(scores: np.ndarray) -> np.ndarray:
    """(..., 52) blendshape scores → (..., len(MOVEMENTS)) movement values."""
    return np.stack([scores[..., cols].mean(axis=-1) for cols in _COLUMNS], axis=-1)


def brows_raised(change: dict[str, float], options: ReadingOptions = ReadingOptions()) -> float:
    """How far the brows went up: the brow raisers' mean rise, or the brow lowerer's fall when that is larger
    and as large as a held expression's level. Heavy brows read as lowered at rest (``browDown`` 0.85-0.92
    on a neutral development face), and raising them reads as that falling (0.77), with the raisers unmoved;
    a smaller fall is a frown easing, as in speech (0.16, with the jaw dropping: it read as a surprise)."""
    raisers = (max(0.0, change["inner_brow_raise"]) + max(0.0, change["outer_brow_raise"])) / 2
    fall = -change["brow_lower"]
    return max(raisers, fall if fall >= options.held_level else 0.0)


def read_movements(change: dict[str, float],
                   options: ReadingOptions = ReadingOptions()) -> tuple[str, dict[str, float]]:
    """EMFACS-like reading of movement rises: (reading, score per reading). A change dominated by a
    movement going back (a smile relaxing) is the end of an expression, not a new one: unclear."""
    rise = {k: max(0.0, v) for k, v in change.items()}
    t = options.min_rise
    smile = rise["lip_corner_pull"]
    brows = brows_raised(change, options)
    scores = {
        # AU12 is required; AU6 (a Duchenne smile) strengthens it.
        "positive": smile + 0.5 * rise["cheek_raise"] if smile >= t else 0.0,
        # AU1+2 with AU5 or AU26: a brow raise alone is common in speech, a jaw drop alone too.
        "surprise": brows + 0.5 * max(rise["upper_lid_raise"], rise["jaw_drop"])
        if brows >= t and max(rise["upper_lid_raise"], rise["jaw_drop"]) >= t / 2 else 0.0,
        "negative": max(rise[k] for k in NEGATIVE_MOVEMENTS if smile < t or k not in SMILE_COMPANIONS),
    }
    best = max(scores, key=scores.get)
    release = max(-v for k, v in change.items() if k != "blink")
    return (best if scores[best] >= t and scores[best] > release else UNCLEAR), scores


def read_held(levels: dict[str, float], options: ReadingOptions = ReadingOptions()) -> tuple[str, float]:
    """What the face holds at the apex, from levels, and its score: only a smile or a surprise.
    Resting levels of the negative movements differ from face to face (and the tracked mesh reads
    brows lower than MediaPipe's own landmarks do), so a level is no evidence of a negative expression."""
    reading, scores = read_movements(levels, replace(options, min_rise=options.held_level))
    return (reading, scores[reading]) if reading in ("positive", "surprise") else (UNCLEAR, 0.0)


def read_event(change: dict[str, float], levels: dict[str, float],
               options: ReadingOptions = ReadingOptions()) -> tuple[str, dict[str, float], str, float]:
    """(change reading, its scores, held reading, held score) of an event whose apex shows ``levels``.
    A smile is not read when the eyes are shut and the lips closed at the apex (see ``ReadingOptions``)."""
    reading, scores = read_movements(change, options)
    held, held_score = read_held(levels, options)
    if levels["blink"] >= options.shut_eyes and levels["upper_lip_raise"] < options.parted_lips:
        reading = UNCLEAR if reading == "positive" else reading
        held, held_score = (UNCLEAR, 0.0) if held == "positive" else (held, held_score)
    return reading, scores, held, held_score


@dataclass(frozen=True)
class Evidence:
    onset_frame: int
    apex_frame: int  # the frame inside the event where the blendshapes changed most
    onset: np.ndarray  # (52,) blendshape scores
    apex: np.ndarray
    movements: dict[str, float]  # movement key → change onset → apex
    reading: str  # one of READINGS or UNCLEAR: what the change onset → apex shows
    reading_scores: dict[str, float] = field(default_factory=dict)
    held: str = UNCLEAR  # what the face shows at the apex (levels, not change): a smile held through the event
    held_score: float = 0.0  # the held reading's score (levels)

    @property
    def face_reading(self) -> str:
        """The change's reading, or when the change is unreadable, what the face holds."""
        return self.reading if self.reading != UNCLEAR else self.held

    @property
    def strength(self) -> float:
        """How strongly the event's own movement shows its ``reading`` (blendshape units; 0 when unclear).
        A level held through the event does not count: it says what the face shows, not what moved."""
        return self.reading_scores.get(self.reading, 0.0) if self.reading != UNCLEAR else 0.0

    def laughing(self, options: ReadingOptions = ReadingOptions()) -> bool:
        """A laugh held through the event: the face holds an open-mouthed smile (lip corners up, the upper
        lip raised off the teeth, the lower lip lowered), no crying sign is held, and nothing moved but the
        laugh's own mouth, jaw and eyes (no ``NOT_LAUGH_MOVEMENTS`` change of ``min_rise``). A smiling face
        whose brows move is not a laugh (the demo clip's smiling portrait shows a surprise micro-expression)."""
        if self.reading != UNCLEAR or self.held != "positive":
            return False
        levels = dict(zip((m.key for m in MOVEMENTS), movement_values(self.apex).tolist()))
        lower_lip = float(self.apex[_LOWER_LIP_DOWN].mean())
        return (levels["upper_lip_raise"] >= options.parted_lips and lower_lip >= options.lower_lip_down
                and max(levels[k] for k in GRIEF_MOVEMENTS) < options.grief_level
                and max(abs(self.movements[k]) for k in NOT_LAUGH_MOVEMENTS) < options.min_rise)

    def reread(self, options: ReadingOptions = ReadingOptions()) -> "Evidence":
        """The same movements read with ``options`` (development: a stored event under today's rules)."""
        levels = {m.key: float(v) for m, v in zip(MOVEMENTS, movement_values(self.apex))}
        reading, scores, held, held_score = read_event(self.movements, levels, options)
        return replace(self, reading=reading, reading_scores=scores, held=held, held_score=held_score)

    def top(self, n: int = 3, options: ReadingOptions = ReadingOptions()) -> list[tuple[Movement, float]]:
        """The movements that changed most (largest |change| first), at least ``listed_change``."""
        ranked = sorted(self.movements.items(), key=lambda kv: -abs(kv[1]))
        return [(MOVEMENT_BY_KEY[k], v) for k, v in ranked[:n] if abs(v) >= options.listed_change]

    @property
    def text(self) -> str:
        return describe(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "onset_frame": self.onset_frame, "apex_frame": self.apex_frame,
            "reading": self.reading, "held": self.held, "held_score": round(self.held_score, 3),
            "reading_scores": {k: round(v, 3) for k, v in self.reading_scores.items()},
            "text": self.text,
            "top": [{"movement": m.key, "au": m.au, "words": m.words, "change": round(v, 3)} for m, v in self.top()],
            "movements": {k: round(v, 3) for k, v in self.movements.items()},
            "blendshapes_onset": _named(self.onset),
            "blendshapes_apex": _named(self.apex),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Evidence":
        return cls(int(data["onset_frame"]), int(data["apex_frame"]),
                   np.array([data["blendshapes_onset"][n] for n in BLENDSHAPE_NAMES], np.float32),
                   np.array([data["blendshapes_apex"][n] for n in BLENDSHAPE_NAMES], np.float32),
                   dict(data["movements"]), data["reading"], dict(data.get("reading_scores", {})),
                   data.get("held", UNCLEAR), float(data.get("held_score", 0.0)))


def _named(scores: np.ndarray) -> dict[str, float]:
    return {n: round(float(v), 4) for n, v in zip(BLENDSHAPE_NAMES, scores)}


def describe(evidence: Evidence | None, n: int = 3) -> str:
    """Plain words, e.g. "lip corners up (smile) +0.82, cheeks raised +0.40"; for a laugh held through the
    event (``Evidence.laughing``) also what the face holds, so a label shown for it has its reason in view."""
    if evidence is None:
        return "no blendshape evidence"
    top = evidence.top(n)
    moved = ", ".join(f"{m.words} {v:+.2f}" for m, v in top) if top else "no visible facial movement"
    if not evidence.laughing():
        return moved
    levels = dict(zip((m.key for m in MOVEMENTS), movement_values(evidence.apex).tolist()))
    return (f"{moved}; holds a laugh (lip corners up {levels['lip_corner_pull']:.2f}, "
            f"upper lip raised {levels['upper_lip_raise']:.2f})")


def build_evidence(frames: list[int], scores: np.ndarray, options: ReadingOptions = ReadingOptions()) -> Evidence:
    """Evidence from the blendshapes of an event's frames (onset first), one row per frame."""
    values = movement_values(scores)
    change = values - values[0]
    expression = np.abs(change[:, _APEX_COLUMNS]).max(axis=1)
    k = int(np.argmax(expression if expression.max() >= options.listed_change else np.abs(change).max(axis=1)))
    movements = {m.key: float(change[k, i]) for i, m in enumerate(MOVEMENTS)}
    levels = {m.key: float(values[k, i]) for i, m in enumerate(MOVEMENTS)}
    reading, reading_scores, held, held_score = read_event(movements, levels, options)
    return Evidence(frames[0], frames[k], scores[0], scores[k], movements, reading, reading_scores, held, held_score)
