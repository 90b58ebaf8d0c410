"""The spotting target, reproduced: ``python -m models.spotting_benchmark [--seed 8] [--out DIR]``.

Renders synthetic long videos (micro- and macro-expressions, blinks, head motion, lighting drift), runs
``analyze`` on each exactly as a user would, and scores the spotted intervals with the MEGC rule
(``evaluate-spotting``). One command, so the figure in the README can be checked by anyone.

``--choose`` is the development side: on another seed (``DEV_SEED``; the reported seed is refused) it
records the motion signal of each video once, then replays the event detector over a grid of its
options and prints the best by overall F1. The spotter's defaults were chosen this way; the README
reports them on ``REPORT_SEED``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import sys
from dataclasses import asdict, replace
from pathlib import Path

from app.cli import main as cli_main
from app.pipeline import Pipeline
from app.sources import open_source
from app.spotting import Spotter, SpottingOptions
from app.spotting_events import EventDetector
from app.spotting_signal import MotionSample
from models.spotting_eval import Interval, SpotCounts, evaluate, read_truth

DEV_SEED = 7  # defaults are chosen on this seed ...
REPORT_SEED = 8  # ... and reported on this one
SYNTH_ARGS = ["--subjects", "4", "--clips-per-subject", "0", "--long-videos", "4", "--long-seconds", "30",
              "--long-fps", "30"]
GRID = {  # detector options searched by --choose
    "sensitivity": (3.0, 3.5, 4.0, 5.0, 6.0),
    "min_amplitude_px": (0.15, 0.2, 0.3, 0.4),
    "boundary": (0.2, 0.3, 0.4),
    "refractory_ms": (100.0, 200.0, 300.0),
    "history_s": (4.0, 10.0),
}


class _RecordingSpotter(Spotter):
    """The pipeline's spotter, keeping the motion signal of each face track for replay."""

    def __init__(self, fps: float, options: SpottingOptions):
        super().__init__(fps, options)
        self.tracks: list[list[MotionSample]] = [[]]

    def _detect(self, motion):
        self.tracks[-1].extend(motion)
        return super()._detect(motion)

    def flush(self):
        result = super().flush()
        self.tracks.append([])
        return result


def record_motion(video: Path) -> tuple[float, list[list[MotionSample]]]:
    """The motion signal of a video's face tracks, through the pipeline exactly as ``analyze`` runs it."""
    spotters: list[_RecordingSpotter] = []  # one per face track (one face here)
    with open_source(video) as source, Pipeline(source.info.fps, spotter=lambda *a: spotters.append(
            _RecordingSpotter(*a)) or spotters[-1]) as pipeline:
        for _ in pipeline.run(source, live=False):
            pass
        return source.info.fps, [t for s in spotters for t in s.tracks if t]


def replay(fps: float, tracks: list[list[MotionSample]], options: SpottingOptions) -> list[Interval]:
    """The intervals the event detector finds in recorded motion with ``options``."""
    found = []
    for track in tracks:
        detector = EventDetector(fps, options)
        for m in track:
            found += detector.push(m)[1]
        found += detector.finish()
    return [Interval(i.onset, i.offset, i.kind) for i in found]


def _render(out: Path, seed: int, workers: int) -> int:
    return cli_main(["synth", "--out", str(out), *SYNTH_ARGS, "--seed", str(seed), "--workers", str(workers)])


def report(out: Path, seed: int, workers: int) -> int:
    data, pred = out / "data", out / "pred"
    code = 0 if (data / "long" / "ground_truth.csv").is_file() else _render(data, seed, workers)
    for video in sorted((data / "long").glob("*.avi")):
        code = code or cli_main(["analyze", str(video), "--out", str(pred / video.stem), "--no-progress"])
    return code or cli_main(["evaluate-spotting", "--pred", str(pred), "--truth", str(data / "long"),
                             "--out", str(out / "scores.json")])


def choose(out: Path, seed: int, workers: int) -> int:
    if seed == REPORT_SEED:
        print(f"--choose on the reported seed {REPORT_SEED} would tune on the figures it reports; use another seed",
              file=sys.stderr)
        return 2
    data = out / "data"
    if not (data / "long" / "ground_truth.csv").is_file() and (code := _render(data, seed, workers)):
        return code
    truth = read_truth(data / "long")
    motion = {}
    for video in sorted((data / "long").glob("*.avi")):
        cache = out / "motion" / f"{video.stem}.pkl"  # delete to re-measure after changing the signal part
        if cache.is_file():
            motion[video.stem] = pickle.loads(cache.read_bytes())
        else:
            motion[video.stem] = record_motion(video)
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(pickle.dumps(motion[video.stem]))
    base = SpottingOptions()
    results = []
    for values in itertools.product(*GRID.values()):
        options = replace(base, **dict(zip(GRID, values)))
        scores = evaluate({name: replay(fps, tracks, options) for name, (fps, tracks) in motion.items()}, truth)
        results.append((scores["overall"].f1, scores["micro"].f1, dict(zip(GRID, values)), scores))
    results.sort(key=lambda r: (r[0], r[1]), reverse=True)
    current = evaluate({n: replay(fps, t, base) for n, (fps, t) in motion.items()}, truth)
    print(f"seed {seed}: current defaults {_line(current)}")
    for f1, _, values, scores in results[:8]:
        print(f"{values}  {_line(scores)}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "choose.json").write_text(json.dumps(
        {"seed": seed, "defaults": asdict(base), "current": {k: v.as_dict() for k, v in current.items()},
         "best": [{"options": v, "scores": {k: c.as_dict() for k, c in s.items()}} for _, _, v, s in results[:20]]},
        indent=1))
    return 0


def _line(scores: dict[str, SpotCounts]) -> str:
    return "  ".join(f"{k} F1 {c.f1:.3f} (TP {c.tp}, FP {c.spotted - c.tp}, FN {c.truth - c.tp})" for k, c in scores.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.spotting_benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="where the videos and results go (default runs/spotting/seed<SEED>;"
                        " videos already there are reused)")
    parser.add_argument("--seed", type=int, help=f"rendering seed (default {REPORT_SEED}; with --choose {DEV_SEED})")
    parser.add_argument("--choose", action="store_true", help="grid-search the detector's options on this seed")
    parser.add_argument("--workers", type=int, default=1, help="processes for rendering")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else DEV_SEED if args.choose else REPORT_SEED
    out = args.out or Path(f"runs/spotting/seed{seed}")
    return (choose if args.choose else report)(out, seed, args.workers)


if __name__ == "__main__":
    sys.exit(main())
