"""Labels and spotting on the synthetic development set, scored like the held-out set:
``python scripts/synth_dev_set.py OUT [--model MODEL] [--name pred] [--seed 7]``.

The development set is the seed-7 "life" set of the README (four 30-s long videos of training people with
distractors; ``--seed 8`` renders a second one of the same people with other events); it is rendered into ``OUT/data`` once and reused, each video is analysed by ``analyze`` into
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
              "--long-fps", "30", "--life", "--photos", ",".join(PEOPLE)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", type=Path, help="ONNX model (default: the shipped one)")
    parser.add_argument("--name", default="pred", help="folder of this run's results inside OUT")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7, help="the set's seed (never the held-out set's, 101)")
    args = parser.parse_args(argv)
    result = run_set(args.out, [*SYNTH_ARGS, "--seed", str(args.seed)], args.name, args.model, args.workers, reuse=True)
    if result is None:
        return 1
    (args.out / f"{args.name}.scores.json").write_text(json.dumps(result, indent=2))
    print(f"development set (seed {args.seed}, life): {summary_line(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
