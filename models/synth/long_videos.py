"""Long videos for spotting evaluation: tens of seconds with several micro- and macro-expressions,
blinks, head motion and lighting changes, each with ground-truth intervals (``<name>.json``) and one
``ground_truth.csv`` for all. With ``life=True`` macro-expressions are held for seconds and the still
gaps carry distractors measured on a real face or drawn: speech, head turns and nods, a hand crossing
the face (``models.synth.distractors``); the ground truth lists them under ``distractors``.

Written as Motion-JPEG ``.avi`` by default: measured with ``python -m models.synth.codec_check``,
OpenCV's only bundled MP4 encoder (MPEG-4 part 2 at a low fixed bitrate) keeps about half of a 1-px
motion while Motion-JPEG at quality 95 keeps about 80% (lossless FFV1 ``.mkv`` keeps all of it).
"""

from __future__ import annotations

import csv
from pathlib import Path

from models.synth.aus import macro_intensity
from models.synth.canvas import VIDEO_LAYOUT
from models.synth.clips import CLASSES
from models.synth.distractors import Distractor, random_distractor
from models.synth.events import ExpressionEvent, macro_event, micro_timing
from models.synth.render import NuisanceOptions, iter_frames, plan_sequence
from models.synth.subjects import Subject, derived_rng, prepare_subject
from models.synth.video import write_video

GROUND_TRUTH_COLUMNS = ("video", "onset", "apex", "offset", "kind", "aus", "emotion", "class3", "fps")
MICRO_SHARE = 0.65  # fraction of events that are micro-expressions
GAP_S = (1.0, 2.5)  # still time between events
MACRO_FRACTION = (0.6, 1.0)  # of each AU's full macro intensity (``models.synth.aus``)
LIFE_HOLD_S = (1.0, 4.0)  # a held macro-expression's plateau
LIFE_DISTRACTOR_SHARE = 0.6  # gaps that carry a distractor
LIFE_DISTRACTOR_S = (0.8, 2.5)
CLEAR_S = 0.5  # between a distractor and an expression


def timeline(subject: Subject, duration_s: float, rng,
             life: bool = False) -> tuple[list[ExpressionEvent], list[Distractor]]:
    """Events one after another, separated by gaps, from the subject's repertoire; with ``life`` some
    macro-expressions are held and some gaps hold a distractor."""
    events, distractors, t = [], [], float(rng.uniform(*GAP_S))
    while True:
        if life and rng.random() < LIFE_DISTRACTOR_SHARE:
            distractor = random_distractor(rng, t, duration=LIFE_DISTRACTOR_S)
            if distractor.offset_s + CLEAR_S + 0.5 > duration_s:
                return events, distractors
            distractors.append(distractor)
            t = distractor.offset_s + CLEAR_S + float(rng.uniform(0, 0.5))
        class3 = str(rng.choice(CLASSES))
        combo = str(rng.choice(subject.style.combos(class3)))
        if rng.random() < MICRO_SHARE:
            aus = {c: subject.style.gain * float(rng.uniform(0.8, 1.3)) for c in combo.split("+")}
            event = ExpressionEvent(aus, *micro_timing(rng, t))
        else:
            aus = {c: subject.style.gain * macro_intensity(c) * float(rng.uniform(*MACRO_FRACTION))
                   for c in combo.split("+")}
            event = macro_event(rng, aus, t)
            if life and rng.random() < 0.5:
                hold = float(rng.uniform(*LIFE_HOLD_S))
                event = ExpressionEvent(aus, event.onset_s, event.apex_s, event.offset_s + hold,
                                        hold_s=event.hold_s + hold)
        if event.offset_s + 0.5 > duration_s:
            return events, distractors
        events.append(event)
        t = event.offset_s + float(rng.uniform(*GAP_S))


def render_long_video(subject: Subject, index: int, duration_s: float, fps: float, seed: int, out: Path,
                      suffix: str = ".avi", life: bool = False) -> list[dict]:
    """Render one long video and its JSON truth; returns the ground-truth rows for the CSV."""
    rng = derived_rng(seed, 4, index)
    face = prepare_subject(subject, VIDEO_LAYOUT)
    nuisances = NuisanceOptions(
        head_translation_px=2.5 * subject.head_motion_px + 1.0, head_rotation_deg=1.0, blinks_per_minute=15.0,
        illumination_drift=0.08, noise_sigma=subject.noise_sigma,
    )
    events, distractors = timeline(subject, duration_s, rng, life)
    plan = plan_sequence(face, events, fps, duration_s, int(rng.integers(2**31)), nuisances, distractors)
    name = f"long{index + 1:02d}_{subject.identity}"
    write_video(iter_frames(face, plan), out / f"{name}{suffix}", fps)
    plan.truth.save(out / f"{name}.json")
    return [{"video": f"{name}{suffix}", **i.to_dict(), "fps": fps} for i in plan.truth.intervals]


def write_ground_truth(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=GROUND_TRUTH_COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: (r["video"], r["onset"])))
