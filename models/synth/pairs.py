"""Two people side by side, each with their own expressions, one of them leaving the picture for a while:
the test material (and the bench clip) for tracking several faces (issue 12).

``python -m models.synth.pairs OUT.avi [--seconds S]`` writes such a clip (smiles and raised brows of each
person at different times; the right one away from 40 % to 60 % of the clip).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from models.synth.events import ExpressionEvent
from models.synth.render import render_sequence
from models.synth.video import write_video

GREY = 128  # what is left where the person who left sat


def two_people(left: tuple[str, Sequence[ExpressionEvent]], right: tuple[str, Sequence[ExpressionEvent]],
               fps: float, duration_s: float, away_s: tuple[float, float] | None = None) -> list[np.ndarray]:
    """BGR frames: ``left`` and ``right`` (photo name, expression events) rendered side by side; the right
    person is gone (a grey canvas) for ``away_s`` (start, end), seconds."""
    a, _ = render_sequence(left[0], list(left[1]), fps=fps, duration_s=duration_s, seed=1)
    b, _ = render_sequence(right[0], list(right[1]), fps=fps, duration_s=duration_s, seed=2)
    return [np.hstack([x, np.full_like(y, GREY) if away_s and away_s[0] <= i / fps < away_s[1] else y])
            for i, (x, y) in enumerate(zip(a, b))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="video file to write (.avi: Motion-JPEG, .mp4: MPEG-4)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    s = args.seconds

    def expressions(start: float) -> list[ExpressionEvent]:
        return [ExpressionEvent({"6": 1.2, "12": 1.2}, t, t + 0.15, t + 0.4) for t in np.arange(start, s - 1, 5.0)]

    frames = two_people(("obama", expressions(1.0)), ("biden", expressions(3.5)), args.fps, s, (0.4 * s, 0.6 * s))
    write_video(frames, args.out, args.fps)
    print(f"wrote {len(frames)} frames to {args.out}")


if __name__ == "__main__":
    main()
