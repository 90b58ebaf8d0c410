"""What the onset→apex optical flow shows where the face's action units move, read geometrically.

MediaPipe's blendshapes (``app.evidence``) are the real-trained reading of an event, but they do not see
micro-expressions: a 1–3 px movement of the lip corners or brows stays inside every score's noise, so a
micro event reads ``unclear`` and its label stays ``uncertain`` whatever the model says. The flow the
classifier is given does see such movements. This module measures, in eye distances on the aligned crop,
how far the brows, the lip corners, the cheeks, the lips' middles and the chin moved relative to the nose
(bone, which no expression moves), and reads them with EMFACS's prototypes as ``app.evidence`` does: lip
corners out and lifted (at the corners or the cheeks) → positive; brows raised → surprise; brows lowered
(the inner brows down and drawn in), lip corners down beyond the lower lip, chin raised or upper lip raised
beyond the corners → negative. It is geometry, not a trained model, so it reads a real face as it reads a
rendered one. It never labels an event alone: the abstention (``app.abstention.decide``) lets it stand in
for an unreadable blendshape change only as the agreement a model's label needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.evidence import UNCLEAR
from app.regions import SPOTTING_REGIONS, eye_centres, region_boxes
from app.spotting_signal import region_motion

# MediaPipe landmarks, image-left and image-right together: inner, middle and outer brow; the lip
# corners; the chin's front; the nose's ridge and tip (the reference: a brow raise reaches the bridge).
BROWS = (107, 336, 66, 296, 105, 334, 70, 300, 46, 276)
INNER_BROWS = ((107, 66), (336, 296))  # image-left, image-right: where the brow lowerer (AU4) pulls
LIP_CORNERS = (61, 291)
UPPER_LIP = (0, 37, 267)  # the upper lip's middle, lifted by the upper lip raiser (AU10)
LOWER_LIP = (17, 84, 314)  # the lower lip's middle, which parting lips (AU25, AU26) lower more than its corners
CHEEKS = (205, 50, 425, 280)  # below the eyes, where the cheek raiser (AU6) lifts the skin
CHIN = (175, 199, 200)
NOSE = (197, 195, 5, 4)
SHOWN = 0.005  # the smallest movement named in ``FlowReading.text`` (eye distances)
WORDS = {"brows_up": "brows up", "lip_corners_up": "lip corners up", "lip_corners_out": "lip corners out",
         "cheeks_up": "cheeks up", "chin_up": "chin up", "inner_brows_down": "inner brows down and in",
         "upper_lip_up": "upper lip up", "lower_lip_down": "lower lip down"}


@dataclass(frozen=True)
class FlowReadingOptions:
    """Chosen on the synthetic development set (seed 7) and checked on the real development clips; see the
    README ("Evidence and abstention")."""

    min_move: float = 0.012  # eye distances (0.55 px on the synthetic model's crop) a reading needs
    margin: float = 2.0  # the read movement must be this many times any other reading's and the bone's
    radius: float = 0.04  # flow averaged over a square of this half-side (eye distances) at each landmark


@dataclass(frozen=True)
class FlowReading:
    # The keys of ``WORDS`` and "each_corner_out" (the lesser of the two corners' outward movement, which the
    # readout leaves out): eye distances, up/out/down-and-in as named > 0.
    moves: dict[str, float]
    bone: float  # flow left at the nose after the head's motion is removed (eye distances)
    reading: str  # "positive", "surprise", "negative" or UNCLEAR
    peak: float  # the largest motion of the spotter's 11 facial regions (eye distances)

    @property
    def text(self) -> str:
        """The movements of at least ``SHOWN`` eye distances, largest first, e.g. "brows up +0.051, chin up
        -0.012 eye distances"; "no movement" when none is that large."""
        moved = sorted(((k, v) for k, v in self.moves.items() if k in WORDS and abs(v) >= SHOWN), key=lambda kv: -abs(kv[1]))
        return ", ".join(f"{WORDS[k]} {v:+.3f}" for k, v in moved) + " eye distances" if moved else "no movement"

    def to_json(self) -> dict[str, Any]:
        return {"reading": self.reading, "bone": round(self.bone, 4), "peak": round(self.peak, 4),
                "moves": {k: round(v, 4) for k, v in self.moves.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FlowReading":
        return cls({k: float(v) for k, v in data["moves"].items()}, float(data["bone"]), data["reading"], float(data["peak"]))


def read_flow(flow: np.ndarray, landmarks: np.ndarray, options: FlowReadingOptions = FlowReadingOptions()) -> FlowReading:
    """``flow`` (S, S, 2) onset→apex in crop pixels, head motion removed; ``landmarks`` (478, 2) of the
    onset crop."""
    left, right = eye_centres(landmarks)
    unit = float(np.linalg.norm(right - left))
    x_axis = (right - left) / unit
    down = np.array([-x_axis[1], x_axis[0]])
    half = max(1, round(options.radius * unit))

    def mean_flow(points: tuple[int, ...]) -> np.ndarray:
        h, w = flow.shape[:2]
        at = []
        for x, y in np.rint(landmarks[list(points), :2]).astype(int):
            patch = flow[max(0, y - half):min(h, y + half + 1), max(0, x - half):min(w, x + half + 1)]
            at.append(patch.reshape(-1, 2).mean(axis=0) if patch.size else np.zeros(2))
        return np.mean(at, axis=0)

    bone = mean_flow(NOSE)
    moved = {name: (mean_flow(points) - bone) / unit for name, points in
             (("brows", BROWS), ("chin", CHIN), ("cheeks", CHEEKS), ("left_corner", LIP_CORNERS[:1]),
              ("right_corner", LIP_CORNERS[1:]), ("left_inner_brow", INNER_BROWS[0]),
              ("right_inner_brow", INNER_BROWS[1]), ("upper_lip", UPPER_LIP), ("lower_lip", LOWER_LIP))}
    # AU4 pulls the inner brows down and towards each other (FACS): along (±1, 2)/√5 in (x, down) (inwards
    # is +x on the image-left brow, −x on the image-right one).
    inner_down = (down * 2 / 5**0.5) @ (moved["left_inner_brow"] + moved["right_inner_brow"]) / 2
    inner_in = (x_axis / 5**0.5) @ (moved["left_inner_brow"] - moved["right_inner_brow"]) / 2
    corners_out = (-float(moved["left_corner"] @ x_axis), float(moved["right_corner"] @ x_axis))
    moves = {"brows_up": -float(moved["brows"] @ down), "chin_up": -float(moved["chin"] @ down),
             "lip_corners_up": -float((moved["left_corner"] + moved["right_corner"]) @ down) / 2,
             "lip_corners_out": sum(corners_out) / 2, "each_corner_out": min(corners_out),
             "cheeks_up": -float(moved["cheeks"] @ down), "inner_brows_down": float(inner_down + inner_in),
             "upper_lip_up": -float(moved["upper_lip"] @ down), "lower_lip_down": float(moved["lower_lip"] @ down)}
    bone_move = float(np.linalg.norm(bone)) / unit
    peak = float(region_motion(flow, region_boxes(SPOTTING_REGIONS, landmarks, flow.shape[0]), np.zeros(4)).max()) / unit
    return FlowReading(moves, bone_move, read_moves(moves, bone_move, options), peak)


def brows_lowered(moves: dict[str, float]) -> float:
    """How far the brows went down (``FlowReading.moves``): all brows' fall, or the inner brows' pull down and in
    (AU4) when that is larger. (Readings recorded before the inner brows were measured lack them.)"""
    return max(-moves["brows_up"], moves.get("inner_brows_down", 0.0))


def read_moves(moves: dict[str, float], bone: float, options: FlowReadingOptions = FlowReadingOptions()) -> str:
    """The EMFACS reading of ``FlowReading.moves`` (``bone``: the reference's own motion)."""
    # Lip corners down read as AU15 only while the chin does not drop, and only when they go down further
    # than the lower lip's middle: a jaw drop or parted lips (speech, a surprise) lower the lip's middle
    # most and pull the corners down with it (rendered AU25: corners 0.011-0.018 eye distances, the middle
    # 0.024); the depressor pulls the corners (AU15: 0.016-0.023, the middle 0.004-0.008).
    # (Readings recorded before the inner brows and the lips' middles were measured lack them.)
    fall = -moves["lip_corners_up"]
    depress = fall if moves["chin_up"] > -options.min_move / 2 and fall > moves.get("lower_lip_down", 0.0) else 0.0
    # AU12 pulls the corners obliquely, up and out towards the cheekbone; straight up is the upper lip
    # raiser (AU10, disgust) lifting them with the lip: a smile needs the outward pull too. The lift shows
    # at the corners or, when parted lips hold the corners down, in the cheeks (AU6, the Duchenne smile).
    # (Readings recorded before the cheeks were measured have no "cheeks_up".)
    lift = max(moves["lip_corners_up"], moves.get("cheeks_up", 0.0))
    smile = min(lift, 2 * moves["lip_corners_out"])
    # A micro smile of about a pixel pulls the corners mostly outwards (rendered 12+25: out 0.011-0.017 eye
    # distances, up 0.001-0.010): both corners pulled out, with some lift, read as a smile too. One corner
    # alone is a dimpler's contempt (R14); both out with no lift, a lip stretch (AU20, fear).
    # (Readings recorded before each corner was measured lack "each_corner_out".)
    if lift > options.min_move / 4 and moves.get("each_corner_out", 0.0) >= options.min_move / 2:
        smile = max(smile, moves["lip_corners_out"])
    # The upper lip raised beyond the corners' lift is AU10 (disgust); a smile lifts the lip's middle less
    # than its corners. (The nose wings, AU9, are not read: a real broad smile lifts them 0.045 eye distances
    # where its corners' flow fails, and the synthetic model says negative on real smiles.)
    raiser = moves.get("upper_lip_up", 0.0) - max(moves["lip_corners_up"], 0.0)
    scores = {"positive": smile, "surprise": moves["brows_up"],
              "negative": max(brows_lowered(moves), moves["chin_up"], depress, raiser)}
    best, *rest = sorted(scores, key=scores.get, reverse=True)
    top = scores[best]
    if top < options.min_move or top < options.margin * max(bone, *(scores[k] for k in rest)):
        return UNCLEAR
    return best
