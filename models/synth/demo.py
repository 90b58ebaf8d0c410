"""``python main.py make-demo``: render the bundled demo clip (assets/demo.mp4 + demo_truth.json).

The README's run command analyses this clip on machines without a camera or a screen, so it must be
small (committed to the repository), decodable by OpenCV's bundled FFmpeg, and show the astronaut
portrait (public domain, see ``models.synth.photos``) with a few known expressions: three
micro-expressions (positive, surprise, negative), one macro smile and two blinks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.demo import DEMO_CLIP, DEMO_TRUTH
from app.errors import InputError
from models.synth.canvas import VIDEO_LAYOUT, face_canvas
from models.synth.events import ExpressionEvent
from models.synth.render import NuisanceOptions, render_sequence
from models.synth.video import write_video

FPS = 30
DURATION_S = 9.0
EVENTS = (
    ExpressionEvent({"6": 1.5, "12": 1.5}, 1.00, 1.13, 1.40),  # micro: positive
    ExpressionEvent({"1": 1.8, "2": 1.8}, 2.60, 2.73, 2.97),  # micro: surprise
    ExpressionEvent({"4": 1.8, "7": 1.2}, 4.20, 4.33, 4.63),  # micro: anger (negative)
    ExpressionEvent({"6": 4.0, "12": 5.0, "25": 3.0}, 5.60, 6.10, 7.60, hold_s=0.6),  # macro smile
    ExpressionEvent({"45": 1.0}, 2.00, 2.08, 2.23),  # blinks (distractors)
    ExpressionEvent({"45": 1.0}, 8.10, 8.18, 8.33),
)
NUISANCES = NuisanceOptions(head_translation_px=1.0, head_rotation_deg=0.3, illumination_drift=0.03, noise_sigma=1.0)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEMO_CLIP, help=f"video path (default {DEMO_CLIP})")
    parser.add_argument("--truth", type=Path, default=DEMO_TRUTH, help=f"ground truth JSON (default {DEMO_TRUTH})")
    parser.add_argument("--seed", type=int, default=0)


def make_demo(out: Path = DEMO_CLIP, truth_path: Path = DEMO_TRUTH, seed: int = 0) -> None:
    frames, truth = render_sequence(
        face_canvas("astronaut", VIDEO_LAYOUT), EVENTS, FPS, DURATION_S, seed, NUISANCES
    )
    write_video(frames, out, FPS)
    truth.save(truth_path)


def main(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() != ".mp4":
        raise InputError(args.out, "the demo clip must be an .mp4 file")
    make_demo(args.out, args.truth, args.seed)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.2f} MB, {DURATION_S:g} s at {FPS} fps) and {args.truth}")
    return 0
