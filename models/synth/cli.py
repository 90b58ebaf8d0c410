"""``python main.py synth``: render the synthetic micro-expression benchmark.

    python main.py synth --out DIR --subjects 16 --clips-per-subject 12 --fps 200 --seed 0 \\
        [--long-videos 4 --long-seconds 30 --long-fps 30] [--photos astronaut,obama] [--life]

writes ``DIR/clips/<person>/<clip>/img{n:04d}.jpg`` + ``DIR/annotations.csv`` and, with
``--long-videos``, ``DIR/long/<name>.avi`` + ``<name>.json`` + ``DIR/long/ground_truth.csv``.
Subjects render in parallel processes; the output depends only on the arguments, not on ``--workers``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from functools import partial
from pathlib import Path

from tqdm import tqdm

from app.errors import InputError
from models.synth.clips import render_subject_clips, write_annotations
from models.synth.long_videos import render_long_video, write_ground_truth
from models.synth.photos import PHOTO_NAMES
from models.synth.subjects import make_subjects

FPS_CHOICES = (25, 30, 60, 100, 200)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--subjects", type=int, default=16, help="number of synthetic subjects (default 16)")
    parser.add_argument("--clips-per-subject", type=int, default=12, help="short clips per subject (default 12)")
    parser.add_argument("--fps", type=int, default=200, choices=FPS_CHOICES, help="frame rate of the clips")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--long-videos", type=int, default=0, help="number of long videos for spotting (default 0)")
    parser.add_argument("--long-seconds", type=float, default=30.0, help="length of each long video")
    parser.add_argument("--long-fps", type=int, choices=FPS_CHOICES, help="frame rate of the long videos (default --fps)")
    parser.add_argument("--long-format", choices=(".avi", ".mp4", ".mkv"), default=".avi",
                        help="long-video container: .avi Motion-JPEG (default), .mp4 MPEG-4, .mkv lossless FFV1")
    parser.add_argument("--photos", type=_photo_list, default=PHOTO_NAMES,
                        help=f"comma-separated people to render (default all {len(PHOTO_NAMES)}: "
                             f"{','.join(PHOTO_NAMES)})")
    parser.add_argument("--life", action="store_true",
                        help="closer to life: micro to macro amplitudes, a 'none' class of clips (speech, head "
                             "movements, a hand, blinks), held expressions and distractors in the long videos")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="parallel processes")


def _photo_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in PHOTO_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown photo(s) {unknown}; choose from {', '.join(PHOTO_NAMES)}")
    return names


def _check(args: argparse.Namespace) -> None:
    if args.subjects < 1 or args.clips_per_subject < 0 or args.long_videos < 0 or args.workers < 1:
        raise InputError("synth", "--subjects and --workers must be >= 1, counts must be >= 0")
    if args.long_seconds < 3:
        raise InputError("synth", "--long-seconds must be at least 3")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(args.out, "exists and is not a folder")


def _run(tasks: list, workers: int, label: str) -> list:
    """Run zero-argument callables in a process pool with a progress bar; results in task order."""
    if workers == 1:
        return [task() for task in tqdm(tasks, desc=label, unit="task")]
    # spawn, not fork: a forked child inherits MediaPipe's and OpenCV's thread pools half-alive and hangs.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = list(tqdm(pool.imap(_call, tasks), total=len(tasks), desc=label, unit="task"))
    return results


def _call(task):
    return task()


def main(args: argparse.Namespace) -> int:
    _check(args)
    life = args.life
    subjects = make_subjects(args.subjects, args.seed, args.photos)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    if args.clips_per_subject:
        tasks = [partial(render_subject_clips, s, i, args.clips_per_subject, args.fps, args.seed, args.out, life)
                 for i, s in enumerate(subjects)]
        records = [r for rs in _run(tasks, args.workers, "clips") for r in rs]
        write_annotations(records, args.out / "annotations.csv")
        frames = sum(len(list((args.out / "clips" / r.subject / r.clip).glob("img*.jpg"))) for r in records)
        print(f"{len(records)} clips, {frames} frames at {args.fps} fps → {args.out / 'annotations.csv'} "
              f"({time.perf_counter() - start:.0f} s)")

    if args.long_videos:
        start_long = time.perf_counter()
        long_dir = args.out / "long"
        long_dir.mkdir(exist_ok=True)
        fps = args.long_fps or args.fps
        tasks = [partial(render_long_video, subjects[i % len(subjects)], i, args.long_seconds, fps, args.seed,
                         long_dir, args.long_format, life) for i in range(args.long_videos)]
        rows = [row for rs in _run(tasks, args.workers, "long videos") for row in rs]
        write_ground_truth(rows, long_dir / "ground_truth.csv")
        print(f"{args.long_videos} long videos, {len(rows)} expressions at {fps} fps → "
              f"{long_dir / 'ground_truth.csv'} ({time.perf_counter() - start_long:.0f} s)")
    return 0
