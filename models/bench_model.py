"""``python main.py bench-model``: ONNX Runtime CPU latency of EPIR vs a plain ViT of equal depth/width.

Both models are exported fresh (random weights: latency does not depend on them) into a temporary
folder and timed in the same process at batch 1. Rounds alternate between the two models, so load
from other processes hits both alike; the ratio from one run is the robust figure. With one intra-op
thread ONNX Runtime runs on the calling thread, so its CPU time per call is also reported: it leaves
out the time spent waiting for a core while other processes load the machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.epir import EPIR, count_parameters
from models.epir_config import EPIRConfig
from models.export import to_onnx

THREADS_DEFAULT = 1  # measured fastest for a model this small; also keeps the calling thread's CPU time exact


@dataclass(frozen=True)
class Latency:
    name: str
    params: int
    tokens: list[int]
    times_ms: list[float]  # wall clock per call
    cpu_ms: list[float]  # calling thread's CPU time per call
    round_medians_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p90_ms(self) -> float:
        return float(np.percentile(self.times_ms, 90))

    @property
    def median_cpu_ms(self) -> float:
        return statistics.median(self.cpu_ms)


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def measure(configs: dict[str, EPIRConfig], threads: int, runs: int, warmup: int, rounds: int) -> list[Latency]:
    """Median batch-1 latency of each configuration, rounds interleaved."""
    with tempfile.TemporaryDirectory() as folder:
        sessions, models = {}, {}
        for name, config in configs.items():
            models[name] = EPIR(config).eval()
            path = Path(folder) / f"{name}.onnx"
            to_onnx(models[name], path)
            sessions[name] = session(path, threads)
        times: dict[str, list[float]] = {name: [] for name in configs}
        cpu: dict[str, list[float]] = {name: [] for name in configs}
        medians: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(rounds):
            for name, config in configs.items():
                feed = {"flow": np.random.default_rng(0).standard_normal((1, config.in_channels, config.image_size, config.image_size), dtype=np.float32)}
                run = sessions[name].run
                for _ in range(warmup):
                    run(None, feed)
                batch = []
                for _ in range(runs):
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    run(None, feed)
                    batch.append((time.perf_counter() - start) * 1e3)
                    cpu[name].append((time.thread_time() - start_cpu) * 1e3)
                times[name].extend(batch)
                medians[name].append(statistics.median(batch))
    return [
        Latency(name, count_parameters(models[name]), config.token_counts(), times[name], cpu[name], medians[name])
        for name, config in configs.items()
    ]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="override EPIRConfig options")
    parser.add_argument("--threads", type=int, default=THREADS_DEFAULT, help="ONNX Runtime intra-op threads (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=1000, help="timed calls per model per round")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls before each round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per model")


def main(args: argparse.Namespace) -> int:
    import onnxruntime as ort

    config = EPIRConfig().with_overrides(args.set)
    results = measure({"EPIR": config, "ViT": config.plain_vit()}, args.threads, args.runs, args.warmup, args.rounds)
    print(
        f"ONNX Runtime {ort.__version__} CPUExecutionProvider, batch 1, intra_op_num_threads={args.threads}, "
        f"{args.rounds} rounds x {args.runs} runs (after {args.warmup} warm-up calls each)"
    )
    print(f"config: dim={config.dim} depth={config.depth} heads={config.heads} patch={config.patch_size} image={config.image_size}")
    print(f"{'model':<6} {'params':>9} {'patch tokens per block':<26} {'median ms':>9} {'p90 ms':>7} {'CPU ms':>7}  round medians ms")
    for r in results:
        rounds = " ".join(f"{m:.3f}" for m in r.round_medians_ms)
        print(f"{r.name:<6} {r.params:>9,} {str(r.tokens[:-1]):<26} {r.median_ms:>9.3f} {r.p90_ms:>7.3f} {r.median_cpu_ms:>7.3f}  {rounds}")
    epir, vit = results
    print(
        f"EPIR / ViT: median latency {epir.median_ms / vit.median_ms:.2f}, median CPU time "
        f"{epir.median_cpu_ms / vit.median_cpu_ms:.2f}  (ViT = the same network without token integration and DTSM)"
    )
    if args.threads != 1:
        print("note: with more than one thread, CPU ms counts the calling thread only")
    return 0
