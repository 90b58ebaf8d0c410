"""Short clips in a dataset layout: ``clips/<person>/<clip>/img{n:04d}.jpg`` plus ``annotations.csv``.

Like CASME II or SAMM: one micro-expression per clip with a few neutral frames before the onset and
after the offset; frame numbers in ``annotations.csv`` are the numbers in the file names (from 1). The
``subject`` column is the photographed person, so every rendering of one photograph is one LOSO fold.
With ``life=True`` the amplitudes range from micro (about 1 px) to macro (several px) and a fourth class,
``none``, holds motion that is not an expression (speech, a head movement, a hand crossing the face,
a blink), annotated with its onset, the frame where it moves the face most as apex, and its offset.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import cv2

from models.synth.aus import macro_intensity
from models.synth.canvas import DATASET_LAYOUT
from models.synth.distractors import random_distractor
from models.synth.events import ExpressionEvent, blink_event, micro_timing
from models.synth.render import NuisanceOptions, aus_text, iter_frames, plan_sequence
from models.synth.subjects import Subject, derived_rng, prepare_subject

ANNOTATION_COLUMNS = ("subject", "clip", "onset", "apex", "offset", "aus", "emotion", "class3", "fps")
CLASSES = ("negative", "positive", "surprise")
NONE = "none"  # the non-expression class, after the three MEGC classes in logit order
LIFE_CLASSES = (*CLASSES, NONE)
MICRO_GAIN = (0.8, 1.3)  # intensity: about 1-1.5 px on the 128-px aligned face
LIFE_MACRO_SHARE, LIFE_MACRO_FRACTION = 0.4, (0.4, 1.0)  # of each AU's full macro intensity: several px
NONE_KINDS = ("speech", "head", "hand", "blink")
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


def clip_event(subject: Subject, class3: str, rng, life: bool = False) -> tuple[ExpressionEvent, float]:
    """An expression of the subject's repertoire and the clip's duration."""
    combo = str(rng.choice(subject.style.combos(class3)))
    macro = life and rng.random() < LIFE_MACRO_SHARE
    aus = {code: subject.style.gain * (macro_intensity(code) * float(rng.uniform(*LIFE_MACRO_FRACTION)) if macro
                                       else float(rng.uniform(*MICRO_GAIN))) for code in combo.split("+")}
    onset, apex, offset = micro_timing(rng, rng.uniform(*LEAD_S))
    return ExpressionEvent(aus, onset, apex, offset), offset + rng.uniform(*LEAD_S)


def none_clip(rng) -> tuple[list, list, float]:
    """(events, distractors, duration) of a clip whose only motion is not an expression."""
    lead = rng.uniform(*LEAD_S)
    kind = str(rng.choice(NONE_KINDS))
    if kind == "blink":
        blink = blink_event(rng, lead)
        return [blink], [], blink.offset_s + rng.uniform(*LEAD_S)
    distractor = random_distractor(rng, lead, kind, duration=(0.3, 0.8))
    return [], [distractor], distractor.offset_s + rng.uniform(*LEAD_S)


def render_subject_clips(subject: Subject, index: int, clips: int, fps: float, seed: int, out: Path,
                         life: bool = False) -> list[ClipRecord]:
    """Render and write all clips of one subject; classes are balanced and shuffled per subject."""
    cv2.setNumThreads(1)  # one process per subject does the parallelism
    face = prepare_subject(subject, DATASET_LAYOUT)
    classes = LIFE_CLASSES if life else CLASSES
    order = derived_rng(seed, 2, index).permutation([classes[k % len(classes)] for k in range(clips)])
    nuisances = NuisanceOptions(
        head_translation_px=subject.head_motion_px, head_rotation_deg=0.2, blinks_per_minute=10.0,
        illumination_drift=0.02, noise_sigma=subject.noise_sigma,
    )
    records = []
    for k, class3 in enumerate(order):
        rng = derived_rng(seed, 3, index, k)
        if class3 == NONE:
            events, distractors, duration = none_clip(rng)
            clip_nuisances = nuisances if distractors else replace(nuisances, blinks_per_minute=0.0)
        else:
            event, duration = clip_event(subject, str(class3), rng, life)
            events, distractors, clip_nuisances = [event], [], nuisances
        plan = plan_sequence(face, events, fps, duration, int(rng.integers(2**31)), clip_nuisances, distractors)
        name = f"{subject.name}_ep{k + 1:02d}"
        folder = out / "clips" / subject.identity / name
        folder.mkdir(parents=True, exist_ok=True)
        for n, frame in enumerate(iter_frames(face, plan), start=FIRST_FRAME):
            cv2.imwrite(str(folder / f"img{n:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, subject.jpeg_quality])
        if class3 == NONE:
            truth = (plan.truth.others or plan.truth.blinks)[0]
            aus, emotion = "", truth.kind
        else:
            truth = plan.truth.intervals[0]
            aus, emotion = aus_text(events[0].aus), truth.emotion
        records.append(ClipRecord(
            subject.identity, name, truth.onset + FIRST_FRAME, truth.apex + FIRST_FRAME, truth.offset + FIRST_FRAME,
            aus, emotion, str(class3), float(fps),
        ))
    return records


def write_annotations(records: list[ClipRecord], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=ANNOTATION_COLUMNS)
        writer.writeheader()
        for record in sorted(records, key=lambda r: (r.subject, r.clip)):
            writer.writerow(record.__dict__)
