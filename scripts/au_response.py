"""How rendered action units move a real-trained AU proxy, and how far real faces move: development
measurement for the renderer's amplitudes (``models.synth.aus``).

    python scripts/au_response.py synth [--people astronaut,chris_pratt,takeo_kanade] [--gains 1,2.5,4]
    python scripts/au_response.py real VIDEO NEUTRAL_S0 NEUTRAL_S1 EXPR_S0 EXPR_S1

``synth`` renders each action unit and each emotion prototype on training people (never the held-out
ones) on the long-video canvas, ramped from neutral to a held apex at 30 fps, tracks it with the product's
face tracker (VIDEO mode, blendshapes on, as ``analyze`` does) and prints the blendshape movements
(``app.evidence.movement_values``, apex minus neutral, mean over people) and the tracked landmark
displacement in eye distances (brows, upper lid, lip corners, chin), next to the rendered (true) one.
``real`` prints the same landmark displacements and movements of a real clip between two time windows.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np

from app.evidence import MOVEMENTS, movement_values
from app.face import FaceTracker, FaceTrackerOptions, RunningMode
from models.synth.aus import ACTION_UNITS, face_frame, parse_code
from models.synth.canvas import VIDEO_LAYOUT
from models.synth.events import ExpressionEvent
from models.synth.render import iter_frames, plan_sequence
from models.synth.subjects import make_subjects, prepare_subject

FPS = 30
NEUTRAL, APEX = slice(0, 8), slice(21, 34)  # frames of the ramp below: onset 0.3 s, apex 0.6 s, hold 0.6 s
# Landmark groups measured (image-left, image-right), displacement along the face's y axis (up < 0).
GROUPS = {"brow_in": (107, 336, 66, 296), "brow_out": (70, 300, 46, 276), "lid_up": (159, 386),
          "corner_y": (61, 291), "chin": (152,)}
SHOWN = ("lip_corner_pull", "inner_brow_raise", "outer_brow_raise", "upper_lid_raise", "jaw_drop",
         "brow_lower", "nose_wrinkle", "upper_lip_raise", "lip_corner_depress", "chin_raise", "lip_press",
         "lip_stretch", "dimple", "lid_tighten", "blink")
UNITS = ("1", "2", "4", "5", "6", "7", "9", "10", "12", "14", "15", "17", "20", "23", "24", "25", "26")
PROTOS = ("6+12", "1+2", "1+2+5+26", "4+7", "9+10", "1+4+15", "15+17", "17+24")


def geometry(landmarks: np.ndarray) -> dict[str, float]:
    """Per group: mean position along the face's y axis relative to the eye line, in eye distances;
    plus the lip corners' x spread and the lid gap."""
    frame = face_frame(landmarks)
    rel = (landmarks[:, :2] - frame.origin) / frame.unit
    y, x = rel @ frame.y_axis, rel @ frame.x_axis
    out = {k: float(y[list(v)].mean()) for k, v in GROUPS.items()}
    out["corner_x"] = float(x[291] - x[61]) / 2
    out["lid_gap"] = float(((y[145] - y[159]) + (y[374] - y[386])) / 2)
    return out


def track(frames) -> tuple[list[dict], np.ndarray]:
    geo, values = [], []
    with FaceTracker(FaceTrackerOptions(mode=RunningMode.VIDEO)) as tracker:
        for image in frames:
            face = tracker.detect(image)
            if face is None or face.blendshapes is None:
                geo.append(None)
                values.append(np.full(len(MOVEMENTS), np.nan))
                continue
            geo.append(geometry(face.landmarks))
            values.append(movement_values(face.blendshapes))
    return geo, np.array(values)


def change(geo: list[dict], values: np.ndarray, neutral=NEUTRAL, apex=APEX) -> tuple[dict, np.ndarray]:
    def mean(rows):
        rows = [r for r in rows if r is not None]
        return {k: np.mean([r[k] for r in rows]) for k in rows[0]}
    g0, g1 = mean(geo[neutral]), mean(geo[apex])
    return ({k: g1[k] - g0[k] for k in g0},
            np.nanmean(values[apex], axis=0) - np.nanmean(values[neutral], axis=0))


KEYS = [m.key for m in MOVEMENTS]
GEO = ("brow_in", "brow_out", "lid_gap", "corner_y", "corner_x", "chin")


def intensity(code: str, gain: float) -> float:
    """``gain`` > 0: that intensity; < 0: that fraction of the AU's macro intensity (``ActionUnit.macro``)."""
    return gain if gain > 0 else -gain * ACTION_UNITS[parse_code(code)[0]].macro


def synth(people: tuple[str, ...], gains: list[float]) -> None:
    subjects = [s for s in make_subjects(12, 0) if s.photo in people and not s.mirrored]
    faces = [prepare_subject(s, VIDEO_LAYOUT) for s in subjects]
    print("code gain | tracked geometry (eye distances; y down): " + " ".join(GEO)
          + " | true " + " ".join(GEO[:3] + GEO[3:4]) + " | movements: " + " ".join(k[:10] for k in SHOWN))
    for code in (*UNITS, *PROTOS):
        for gain in gains:
            rows_g, rows_v, rows_t = [], [], []
            for face in faces:
                event = ExpressionEvent({c: intensity(c, gain) for c in code.split("+")}, 0.3, 0.6, 1.55, hold_s=0.6)
                plan = plan_sequence(face, [event], FPS, 1.6)
                geo, values = track(iter_frames(face, plan))
                g, v = change(geo, values)
                truth = [geometry(lm) for lm in plan.truth.landmarks]
                t, _ = change(truth, np.zeros((len(truth), 1)))
                rows_g.append(g), rows_v.append(v), rows_t.append(t)
            g = {k: np.mean([r[k] for r in rows_g]) for k in GEO}
            t = {k: np.mean([r[k] for r in rows_t]) for k in GEO}
            v = np.mean(rows_v, axis=0)
            print(f"{code:>9} {gain:4.1f} | " + " ".join(f"{g[k]:+.3f}" for k in GEO) + " | "
                  + " ".join(f"{t[k]:+.3f}" for k in GEO[:4]) + " | "
                  + " ".join(f"{v[KEYS.index(k)]:+.2f}" for k in SHOWN), flush=True)


def real(video: str, n0: float, n1: float, e0: float, e1: float) -> None:
    cap = cv2.VideoCapture(video)
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    geo, values = track(frames)
    times = np.arange(len(frames)) / fps
    neutral = [i for i, t in enumerate(times) if n0 <= t < n1]
    expr = [i for i, t in enumerate(times) if e0 <= t < e1]
    g, v = change(geo, values, slice(neutral[0], neutral[-1] + 1), slice(expr[0], expr[-1] + 1))
    # The expression's peak frame for each quantity, not only the window mean.
    peak = {k: max((geo[i][k] - np.mean([geo[j][k] for j in neutral if geo[j]]) for i in expr if geo[i]), key=abs)
            for k in GEO}
    print(f"{video}: neutral {n0}-{n1} s, expression {e0}-{e1} s, {fps:.0f} fps")
    print("  window mean (eye distances): " + " ".join(f"{k} {g[k]:+.3f}" for k in GEO))
    print("  largest frame:               " + " ".join(f"{k} {peak[k]:+.3f}" for k in GEO))
    print("  movements (window mean): " + " ".join(f"{k} {v[KEYS.index(k)]:+.2f}" for k in SHOWN))
    vmax = np.nanmax(values[expr], axis=0) - np.nanmean(values[neutral], axis=0)
    print("  movements (largest):     " + " ".join(f"{k} {vmax[KEYS.index(k)]:+.2f}" for k in SHOWN))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("synth")
    s.add_argument("--people", default="astronaut,chris_pratt,takeo_kanade")
    s.add_argument("--gains", default="1,-1", help="intensities; a negative one is that fraction of the AU's macro")
    s.add_argument("--codes", default="")
    r = sub.add_parser("real")
    r.add_argument("video")
    r.add_argument("window", type=float, nargs=4)
    args = parser.parse_args(argv)
    if args.what == "real":
        real(args.video, *args.window)
        return 0
    from models.make_default import HELD_OUT
    people = tuple(p for p in args.people.split(",") if p not in HELD_OUT)
    if args.codes:
        global UNITS, PROTOS
        UNITS, PROTOS = tuple(args.codes.split(",")), ()
    synth(people, [float(g) for g in args.gains.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
