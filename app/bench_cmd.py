"""``python main.py bench [VIDEO]``: how fast analysis runs against what the machine allows, on a real clip.

The floor is decoding plus MediaPipe's face mesh alone, one after the other on one thread: analysis
cannot beat it by much (tracking is its longest stage), and it is measured in the same run, before and
after analysis, because this machine's load changes minute to minute. Then the clip is played live at
its own pace for the live figures (dropped frames, latency, label delay). Per-frame stages come from the
pipeline's own timings; per-event stages (onset→apex flow with each method, model input, ONNX inference)
are timed on onset/apex pairs taken from the same run. Stage timings in the threaded run include time
spent waiting for a core while the other stages run. ``--max-faces 1 2`` measures the analysis (and the
live figures) once per value, in the same run, to show how the per-frame cost grows with the faces followed.
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np

from app.analyze_cmd import MAX_FACES, load_classifier
from app.classifier import PROVIDER_CHOICES
from app.demo import DEMO_CLIP
from app.errors import InputError
from app.flow import compute_flow
from app.live_figures import live_line
from app.model_card import FLOW_METHODS
from app.model_input import build_model_input
from app.pipeline import FrameResult, Pipeline, PipelineOptions, STAGES
from app.sources import RealTimeSource, open_source


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", default=str(DEMO_CLIP), help="video or frame folder (default: demo clip)")
    parser.add_argument("--model", type=Path, help="EPIR ONNX model (default: the shipped one, if installed)")
    parser.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto")
    parser.add_argument("--pairs", type=int, default=20, help="onset/apex pairs for the per-event stages")
    parser.add_argument("--live-seconds", type=float, default=30.0,
                        help="how much of the clip to play live at its own pace (0: skip the live figures)")
    parser.add_argument("--max-faces", type=int, nargs="+", default=[1], metavar="N",
                        help="faces analysed at once; several values are measured one after the other, in one run "
                             "(the stage table is of the first)")


def _stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>8}  {'-':>8}  {0:>6}"
    a = np.asarray(values)
    return f"{np.median(a):8.2f}  {np.percentile(a, 90):8.2f}  {len(a):>6}"


FACE_PARTS = {"face_mesh": "  of which: face mesh alone", "face_detector": "  of which: detector (0 when skipped)",
              "face_blendshapes": "  of which: blendshapes (ONNX)"}


def _face_budget(per_frame: dict[str, list[float]], detector_runs: int, frames: int) -> list[str]:
    """The face stage against the face mesh alone, same frames, same run (the issue's 1.3× budget)."""
    face, mesh = per_frame["face"], per_frame["face_mesh"]
    if not face or not mesh:
        return []
    mean_ratio = float(np.mean(face) / np.mean(mesh))
    median_ratio = float(np.median(face) / np.median(mesh))
    return [f"face stage / face mesh alone: {mean_ratio:.2f}x (mean), {median_ratio:.2f}x (median); "
            f"detector ran on {detector_runs} of {frames} frames"]


def _time(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


@dataclass(frozen=True)
class Rate:
    """Frames per second, and the process's CPU time per frame (all threads): under a load that shares
    the cores out per process, CPU time is what decides, and it does not depend on the load."""

    fps: float
    cpu_ms: float
    load: float

    @classmethod
    def measure(cls, run) -> "Rate":
        wall, cpu = time.perf_counter(), time.process_time()
        frames = run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return cls(frames / wall, cpu * 1000 / max(frames, 1), os.getloadavg()[0])

    def __str__(self) -> str:
        return f"{self.fps:.1f} frames/s, {self.cpu_ms:.1f} ms CPU per frame (load {self.load:.1f})"


def floor_rate(path: str) -> Rate:
    """Decoding plus MediaPipe face mesh (478 points, tracking), nothing else, on one thread."""

    def run() -> int:
        with open_source(path) as source, mp.solutions.face_mesh.FaceMesh(max_num_faces=1, refine_landmarks=True) as mesh:
            frames = 0
            for frame in source.frames():
                mesh.process(cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB))
                frames += 1
            return frames

    return Rate.measure(run)


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


@dataclass
class Analysis:
    """One measured analysis of the clip with ``max_faces``."""

    max_faces: int
    rate: Rate | None = None
    per_frame: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in (*STAGES, *FACE_PARTS)})
    crops: list = field(default_factory=list)
    faces: int = 0  # faces analysed, all frames together
    frames: int = 0
    detector_runs: int = 0

    def line(self, first: "Analysis") -> str:
        return (f"--max-faces {self.max_faces}: {self.rate}; {self.faces / max(self.frames, 1):.2f} faces per frame; "
                f"CPU per frame {self.rate.cpu_ms / first.rate.cpu_ms:.2f} x that of --max-faces {first.max_faces}")


def analyse(path: str, classifier, max_faces: int) -> tuple[Analysis, object]:
    """The whole clip analysed as ``analyze`` does (threaded pipeline), timed; with the source's info."""
    measured = Analysis(max_faces)
    with open_source(path) as source, Pipeline(source.info.fps, PipelineOptions(max_faces=max_faces),
                                              classifier) as pipeline:
        def run() -> int:
            for result in pipeline.run(source, live=False):
                if isinstance(result, FrameResult):
                    for stage, ms in result.timings_ms.items():
                        measured.per_frame[stage].append(ms)
                    for part, ms in result.face_parts_ms.items():
                        measured.per_frame[f"face_{part}"].append(ms)
                    measured.crops += [f.aligned for f in result.faces]
                    measured.faces += len(result.faces)
            return pipeline.stats.processed

        measured.rate = Rate.measure(run)
        measured.frames = pipeline.stats.processed
        measured.detector_runs = pipeline.tracker.detector_runs
        return measured, source.info


def main(args: argparse.Namespace) -> int:
    for n in args.max_faces:
        if not 1 <= n <= MAX_FACES:
            raise InputError(f"--max-faces {n}", f"must be a number from 1 to {MAX_FACES}")
    classifier = load_classifier(args.model, args.provider)
    floors = [floor_rate(args.input)]
    runs = []
    for max_faces in args.max_faces:
        measured, info = analyse(args.input, classifier, max_faces)
        runs.append(measured)
    first = runs[0]
    rate, per_frame, crops, frames, detector_runs = (first.rate, first.per_frame, first.crops, first.frames,
                                                     first.detector_runs)
    floors.append(floor_rate(args.input))
    floor_fps = float(np.mean([f.fps for f in floors]))
    floor_cpu = float(np.mean([f.cpu_ms for f in floors]))
    cores = os.cpu_count() or 1
    lines = [f"clip: {info.name} ({info.width}x{info.height}, {info.fps:g} fps, {frames} frames)",
             f"machine: {platform.processor() or platform.machine()}, {cores} cores "
             f"(other processes share the cores: compare within one run)",
             f"floor (decode + face mesh, one thread): {floors[0]} before; {floors[1]} after",
             f"analyze: {rate}: {rate.fps / floor_fps:.2f} x the floor's rate",
             f"CPU per frame: analyze / floor = {rate.cpu_ms / floor_cpu:.1f}; on {cores} idle cores analyze could "
             f"reach at most {cores * floor_cpu / rate.cpu_ms:.2f} x the floor"]
    if len(runs) > 1:
        lines += [r.line(first) for r in runs]
    if args.live_seconds > 0:
        lines += [(f"--max-faces {n}: " if len(runs) > 1 else "") + _live(args.input, classifier, args.live_seconds, n)
                  for n in args.max_faces]
    lines += ["", f"{'stage':<38}  {'median ms':>8}  {'p90 ms':>8}  {'count':>6}"]
    labels = {"face": "face (mesh + detector + blendshapes)", "align": "alignment + pose + EAR",
              "spot": "spotting (2-3 DIS flows + regions)"}
    for stage in STAGES:
        lines.append(f"{labels[stage]:<38}  {_stats(per_frame[stage])}")
        if stage == "face":
            for part, label in FACE_PARTS.items():
                lines.append(f"{label:<38}  {_stats(per_frame[part])}")
    lines += _face_budget(per_frame, detector_runs, frames)
    if len(crops) > 10:
        step = max(1, round(0.1 * info.fps))  # a typical onset→apex distance
        rng = np.random.default_rng(0)
        picks = rng.choice(len(crops) - step, size=min(args.pairs, len(crops) - step), replace=False)
        pairs = [(crops[i], crops[i + step]) for i in picks]
        for method in FLOW_METHODS:
            times = [t for a, b in pairs for t in _time(lambda: compute_flow(a.image, b.image, method), 1)]
            lines.append(f"{'flow per event: ' + method:<38}  {_stats(times)}")
        if classifier is not None:
            spec = classifier.card.input
            times = [t for a, b in pairs for t in _time(lambda: build_model_input(a, b, spec), 1)]
            lines.append(f"{'model input (' + spec.flow_method + ' + regions)':<38}  {_stats(times)}")
            tensor = build_model_input(*pairs[0], spec).tensor[None]
            classifier.run(tensor)
            times = _time(lambda: classifier.run(tensor), 200)
            lines.append(f"{'inference per event (' + classifier.provider_label + ')':<38}  {_stats(times)}")
            batch = np.repeat(tensor, 16, axis=0)
            classifier.run(batch)  # a new shape: TensorRT builds its engine for it once
            times = _time(lambda: classifier.run(batch), 50)
            lines.append(f"{'inference per batch of 16':<38}  {_stats(times)}")
        else:
            lines.append("inference per event: no model installed")
    print("\n".join(lines))
    return 0


def _live(path: str, classifier, seconds: float, max_faces: int = 1) -> str:
    """The clip played at its own pace for ``seconds``, as a camera would deliver it."""
    with RealTimeSource(open_source(path)) as source, Pipeline(source.info.fps, PipelineOptions(max_faces=max_faces),
                                                              classifier) as pipeline:
        stop = threading.Event()
        started = time.monotonic()
        for result in pipeline.run(source, stop):
            if isinstance(result, FrameResult) and time.monotonic() - started >= seconds:
                stop.set()
        stats, elapsed = pipeline.stats, time.monotonic() - started
    figures = stats.live.summary(stats.dropped)
    return (f"{live_line(figures)} ({stats.processed + stats.dropped} frames at {source.info.fps:g} fps: "
            f"{stats.processed / elapsed:.1f} analysed per second, {_load()})")
