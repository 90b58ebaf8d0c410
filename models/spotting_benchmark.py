"""The spotting target, reproduced: ``python -m models.spotting_benchmark [--out runs/spotting]``.

Renders synthetic long videos (micro- and macro-expressions, blinks, head motion, lighting drift), runs
``analyze`` on each exactly as a user would, and scores the spotted intervals with the MEGC rule
(``evaluate-spotting``). One command, so the figure in the README can be checked by anyone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli import main as cli_main

SYNTH_ARGS = ["--subjects", "4", "--clips-per-subject", "0", "--long-videos", "4", "--long-seconds", "30",
              "--long-fps", "30", "--seed", "7"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.spotting_benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/spotting"), help="where the videos and results go")
    parser.add_argument("--workers", type=int, default=1, help="processes for rendering")
    args = parser.parse_args(argv)
    data, pred = args.out / "data", args.out / "pred"
    code = cli_main(["synth", "--out", str(data), *SYNTH_ARGS, "--workers", str(args.workers)])
    for video in sorted((data / "long").glob("*.avi")):
        code = code or cli_main(["analyze", str(video), "--out", str(pred / video.stem), "--no-progress"])
    return code or cli_main(["evaluate-spotting", "--pred", str(pred), "--truth", str(data / "long"),
                             "--out", str(args.out / "scores.json")])


if __name__ == "__main__":
    sys.exit(main())
