"""Throughput of ``batch`` (README "Batch"): the same inputs, in one run, analysed

1. one after another by ``analyze`` (one process per input, as a shell loop would),
2. by ``batch --workers 1`` and 3. ``batch --workers N`` (default: the number of cores),
each twice, in the order 1 2 3 3 2 1 (a steady drift of the machine's load cancels out), then
4. by a batch of 3. again with the same options (everything skipped),

    python scripts/bench_batch.py [--inputs 4] [--frames 135] [--workers N] [--engine local|ray]

Inputs are cut from the bundled demo clip (real face video), each a different stretch of it. Every
figure is wall time of the whole command (with the CPU time it got), measured in one run, so the
machine's load (printed before and after) affects all of them; the ratios are what to compare. On a
machine shared with other login sessions, Linux's autogroup scheduling gives each session an equal share
of the CPU: there, more workers than that share cannot run faster (``cores_busy`` shows it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent


def make_inputs(folder: Path, count: int, frames: int) -> list[Path]:
    """``count`` clips of ``frames`` frames, from successive (wrapping) stretches of assets/demo.mp4."""
    capture = cv2.VideoCapture(str(ROOT / "assets" / "demo.mp4"))
    every = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        every.append(image)
    capture.release()
    paths = []
    for i in range(count):
        start = (i * frames // 2) % max(1, len(every) - frames)
        path = folder / f"clip{i + 1:02d}.avi"
        h, w = every[0].shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h))
        for image in every[start:start + frames]:
            writer.write(image)
        writer.release()
        paths.append(path)
    return paths


CPU = {}  # phase → CPU seconds (user + system) of the command and every process it waited for


def timed(*args: object, phase: str | None = None) -> tuple[float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{done.stderr[-2000:]}")
    if phase:
        CPU[phase] = CPU.get(phase, 0.0) + (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=4)
    parser.add_argument("--frames", type=int, default=135, help="frames per input")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    options = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="epir-bench-batch-") as tmp:
        folder = Path(tmp) / "inputs"
        folder.mkdir()
        inputs = make_inputs(folder, options.inputs, options.frames)
        frames = options.inputs * options.frames
        many_name = f"batch_{options.workers}_workers"
        phases = {  # each a command line per input set; run in the order A B C C B A (a linear drift in load cancels)
            "analyze_one_after_another": lambda out: [("analyze", p, "--out", out / p.stem, "--no-progress")
                                                       for p in inputs],
            "batch_1_worker": lambda out: [("batch", folder, "--out", out, "--workers", 1, "--engine", options.engine)],
            many_name: lambda out: [("batch", folder, "--out", out, "--workers", options.workers, "--engine",
                                     options.engine)],
        }
        wall: dict[str, float] = {}
        order = list(phases) + list(phases)[::-1]
        for round_, name in enumerate(order):
            out = Path(tmp) / f"{name}-{round_}"
            wall[name] = wall.get(name, 0.0) + sum(timed(*args, phase=name)[0] for args in phases[name](out))
        wall = {name: seconds / 2 for name, seconds in wall.items()}
        for name in CPU:
            CPU[name] /= 2
        sequential, one, many = wall["analyze_one_after_another"], wall["batch_1_worker"], wall[many_name]
        rerun, done = timed("batch", folder, "--out", Path(tmp) / f"{many_name}-{order.index(many_name)}", "--workers",
                            options.workers, "--engine", options.engine)
        assert f"{options.inputs} skipped" in done.stdout, done.stdout
    result = {
        "inputs": options.inputs, "frames": frames, "engine": options.engine, "workers": options.workers,
        "cores": os.cpu_count(), "load_before": [round(x, 1) for x in load_before],
        "load_after": [round(x, 1) for x in os.getloadavg()],
        "seconds (mean of 2)": {"analyze_one_after_another": round(sequential, 1), "batch_1_worker": round(one, 1),
                                f"batch_{options.workers}_workers": round(many, 1), "rerun_all_skipped": round(rerun, 1)},
        "frames_per_s": {"analyze_one_after_another": round(frames / sequential, 2),
                         "batch_1_worker": round(frames / one, 2),
                         f"batch_{options.workers}_workers": round(frames / many, 2)},
        # CPU the commands got (local engine: the workers are waited for, so they count); cores busy = CPU / wall
        "cpu_seconds": {k: round(v, 1) for k, v in CPU.items()},
        "cores_busy": {"batch_1_worker": round(CPU["batch_1_worker"] / one, 2),
                       f"batch_{options.workers}_workers": round(CPU[f"batch_{options.workers}_workers"] / many, 2)},
        "ratios": {f"throughput_{options.workers}_workers_over_1": round(one / many, 2),
                   "batch_time_over_analyze_loop": round(many / sequential, 2),
                   "rerun_time_over_first": round(rerun / many, 2)},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
