"""Labels and spotting on the synthetic development set, scored like the held-out set:
``python scripts/synth_dev_set.py OUT [--model MODEL] [--name pred]``.

The development set is the seed-7 "life" set of the README (four 30-s long videos of training people with
distractors); it is rendered into ``OUT/data`` once and reused, each video is analysed by ``analyze`` into
``OUT/NAME``, and ``models.synth.heldout.run_set`` scores it (the held-out set's rules), into
``OUT/NAME.scores.json``. Thresholds and renderer choices are checked here, never on the held-out set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models.synth.heldout import run_set, summary_line

PEOPLE = ("chris_pratt", "takeo_kanade", "grace_hopper", "pexels_man_bw")
SYNTH_ARGS = ["--subjects", "4", "--clips-per-subject", "0", "--long-videos", "4", "--long-seconds", "30",
              "--long-fps", "30", "--seed", "7", "--life", "--photos", ",".join(PEOPLE)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", type=Path, help="ONNX model (default: the shipped one)")
    parser.add_argument("--name", default="pred", help="folder of this run's results inside OUT")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    result = run_set(args.out, SYNTH_ARGS, args.name, args.model, args.workers, reuse=True)
    if result is None:
        return 1
    (args.out / f"{args.name}.scores.json").write_text(json.dumps(result, indent=2))
    print(f"development set (seed 7, life): {summary_line(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
