"""Short clips in a dataset layout: ``clips/<subject>/<clip>/img{n:04d}.jpg`` plus ``annotations.csv``.

Like CASME II or SAMM: one micro-expression per clip with a few neutral frames before the onset and
after the offset; frame numbers in ``annotations.csv`` are the numbers in the file names (from 1).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2

from models.synth.canvas import CLIP_LAYOUT
from models.synth.events import ExpressionEvent, micro_timing
from models.synth.render import NuisanceOptions, aus_text, iter_frames, plan_sequence
from models.synth.subjects import Subject, derived_rng, prepare_subject

ANNOTATION_COLUMNS = ("subject", "clip", "onset", "apex", "offset", "aus", "emotion", "class3", "fps")
CLASSES = ("negative", "positive", "surprise")
LEAD_S = (0.10, 0.25)  # neutral time before the onset and after the offset
FIRST_FRAME = 1


@dataclass(frozen=True)
class ClipRecord:
    subject: str
    clip: str
    onset: int
    apex: int
    offset: int
    aus: str
    emotion: str
    class3: str
    fps: float


def clip_event(subject: Subject, class3: str, rng) -> tuple[ExpressionEvent, float]:
    """A micro-expression of the subject's repertoire and the clip's duration."""
    combo = str(rng.choice(subject.style.combos(class3)))
    aus = {code: subject.style.gain * float(rng.uniform(0.8, 1.3)) for code in combo.split("+")}
    onset, apex, offset = micro_timing(rng, rng.uniform(*LEAD_S))
    return ExpressionEvent(aus, onset, apex, offset), offset + rng.uniform(*LEAD_S)


def render_subject_clips(subject: Subject, index: int, clips: int, fps: float, seed: int, out: Path) -> list[ClipRecord]:
    """Render and write all clips of one subject; classes are balanced and shuffled per subject."""
    cv2.setNumThreads(1)  # one process per subject does the parallelism
    face = prepare_subject(subject, CLIP_LAYOUT)
    order = derived_rng(seed, 2, index).permutation([CLASSES[k % 3] for k in range(clips)])
    nuisances = NuisanceOptions(
        head_translation_px=subject.head_motion_px, head_rotation_deg=0.2, blinks_per_minute=10.0,
        illumination_drift=0.02, noise_sigma=subject.noise_sigma,
    )
    records = []
    for k, class3 in enumerate(order):
        rng = derived_rng(seed, 3, index, k)
        event, duration = clip_event(subject, str(class3), rng)
        plan = plan_sequence(face, [event], fps, duration, int(rng.integers(2**31)), nuisances)
        name = f"ep{k + 1:02d}"
        folder = out / "clips" / subject.name / name
        folder.mkdir(parents=True, exist_ok=True)
        for n, frame in enumerate(iter_frames(face, plan), start=FIRST_FRAME):
            cv2.imwrite(str(folder / f"img{n:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, subject.jpeg_quality])
        truth = plan.truth.intervals[0]
        records.append(ClipRecord(
            subject.name, name, truth.onset + FIRST_FRAME, truth.apex + FIRST_FRAME, truth.offset + FIRST_FRAME,
            aus_text(event.aus), truth.emotion, truth.class3, float(fps),
        ))
    return records


def write_annotations(records: list[ClipRecord], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=ANNOTATION_COLUMNS)
        writer.writeheader()
        for record in sorted(records, key=lambda r: (r.subject, r.clip)):
            writer.writerow(record.__dict__)
