"""Long videos for spotting evaluation: tens of seconds with several micro- and macro-expressions,
blinks, head motion and lighting changes, each with ground-truth intervals (``<name>.json``) and one
``ground_truth.csv`` for all.

Written as Motion-JPEG ``.avi`` by default: measured with ``python -m models.synth.codec_check``,
OpenCV's only bundled MP4 encoder (MPEG-4 part 2 at a low fixed bitrate) keeps about half of a 1-px
motion while Motion-JPEG at quality 95 keeps about 80% (lossless FFV1 ``.mkv`` keeps all of it).
"""

from __future__ import annotations

import csv
from pathlib import Path

from models.synth.canvas import VIDEO_LAYOUT
from models.synth.clips import CLASSES
from models.synth.events import ExpressionEvent, macro_event, micro_timing
from models.synth.render import NuisanceOptions, iter_frames, plan_sequence
from models.synth.subjects import Subject, derived_rng, prepare_subject
from models.synth.video import write_video

GROUND_TRUTH_COLUMNS = ("video", "onset", "apex", "offset", "kind", "aus", "emotion", "class3", "fps")
MICRO_SHARE = 0.65  # fraction of events that are micro-expressions
GAP_S = (1.0, 2.5)  # still time between events
MACRO_GAIN = (2.5, 4.0)


def timeline(subject: Subject, duration_s: float, rng) -> list[ExpressionEvent]:
    """Events one after another, separated by still gaps, from the subject's repertoire."""
    events, t = [], float(rng.uniform(*GAP_S))
    while True:
        class3 = str(rng.choice(CLASSES))
        combo = str(rng.choice(subject.style.combos(class3)))
        if rng.random() < MICRO_SHARE:
            aus = {c: subject.style.gain * float(rng.uniform(0.8, 1.3)) for c in combo.split("+")}
            event = ExpressionEvent(aus, *micro_timing(rng, t))
        else:
            aus = {c: subject.style.gain * float(rng.uniform(*MACRO_GAIN)) for c in combo.split("+")}
            event = macro_event(rng, aus, t)
        if event.offset_s + 0.5 > duration_s:
            return events
        events.append(event)
        t = event.offset_s + float(rng.uniform(*GAP_S))


def render_long_video(subject: Subject, index: int, duration_s: float, fps: float, seed: int, out: Path,
                      suffix: str = ".avi") -> list[dict]:
    """Render one long video and its JSON truth; returns the ground-truth rows for the CSV."""
    rng = derived_rng(seed, 4, index)
    face = prepare_subject(subject, VIDEO_LAYOUT)
    nuisances = NuisanceOptions(
        head_translation_px=2.5 * subject.head_motion_px + 1.0, head_rotation_deg=1.0, blinks_per_minute=15.0,
        illumination_drift=0.08, noise_sigma=subject.noise_sigma,
    )
    plan = plan_sequence(face, timeline(subject, duration_s, rng), fps, duration_s, int(rng.integers(2**31)), nuisances)
    name = f"long{index + 1:02d}_{subject.name}"
    write_video(iter_frames(face, plan), out / f"{name}{suffix}", fps)
    plan.truth.save(out / f"{name}.json")
    return [{"video": f"{name}{suffix}", **i.to_dict(), "fps": fps} for i in plan.truth.intervals]


def write_ground_truth(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=GROUND_TRUTH_COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: (r["video"], r["onset"])))
