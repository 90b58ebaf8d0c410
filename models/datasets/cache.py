"""Model inputs for dataset samples, computed with the runtime's own preprocessing and cached on disk.

The path of a cached input encodes what determines it: the InputSpec and the preprocessing code
(hashed together), the dataset, subject,
clip, onset and apex frame numbers, and a fingerprint of the two frame files (path, size, mtime), so a
re-rendered or moved dataset is never served stale inputs. A sample whose face cannot be found is cached as a failure with its
reason, and reported every time rather than silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

import app.align
import app.face
import app.flow
import app.model_input
import app.regions
from app.errors import InputError
from app.model_card import InputSpec
from models.datasets.record import Sample

DEFAULT_CACHE = Path(".cache/flows")


@dataclass(frozen=True)
class PreparedSet:
    """Inputs for the samples that could be prepared, in order, and why the others could not."""

    tensors: np.ndarray  # (N, C, H, W) float32
    samples: list[Sample]
    failed: list[str]


# The code that turns frames into the model's input: a change to any of it invalidates the cache.
_PREPROCESSING_SOURCES = tuple(
    Path(module.__file__) for module in (app.align, app.face, app.flow, app.model_input, app.regions)
)


def spec_hash(spec: InputSpec) -> str:
    """Key of an input description and of the preprocessing code that realises it."""
    digest = hashlib.sha1(json.dumps(asdict(spec), sort_keys=True).encode())
    for source in _PREPROCESSING_SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _fingerprint(sample: Sample) -> str:
    parts = []
    for path in (sample.onset_path, sample.apex_path):
        stat = path.stat()
        parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:8]


def cache_path(sample: Sample, spec: InputSpec, cache_dir: Path) -> Path:
    name = f"{_safe(sample.clip)}_{sample.onset}_{sample.apex}_{_fingerprint(sample)}.npy"
    return Path(cache_dir) / spec_hash(spec) / _safe(sample.dataset) / _safe(sample.subject) / name


_tracker = None  # one FaceTracker per process


def compute_input(sample: Sample, spec: InputSpec) -> np.ndarray | str:
    """The (C, H, W) model input, or the reason it cannot be computed."""
    import cv2

    from app.align import align_face
    from app.face import FaceTracker, FaceTrackerOptions, RunningMode
    from app.model_input import build_model_input

    global _tracker
    if _tracker is None:
        _tracker = FaceTracker(FaceTrackerOptions(mode=RunningMode.IMAGE))
    crops = []
    for role, path in (("onset", sample.onset_path), ("apex", sample.apex_path)):
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            return f"{role} frame {path} cannot be read"
        face = _tracker.detect(frame)
        if face is None:
            return f"no face found in the {role} frame {path}"
        crops.append(align_face(frame, face.landmarks, spec.template()))
    return build_model_input(crops[0], crops[1], spec).tensor


def _prepare_one(job: tuple[Sample, InputSpec, Path]) -> str | None:
    sample, spec, path = job
    result = compute_input(sample, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(result, str):
        path.with_suffix(".failed.txt").write_text(result)
        return result
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, result)
    tmp.replace(path)  # atomic: a reader never sees half a file
    return None


def read_published(samples: list[Sample], spec: InputSpec) -> PreparedSet:
    """Inputs of samples that carry a published flow image (nothing to compute or cache)."""
    from models.datasets.megc2019_flows import SPEC, read_flow_png

    if (spec.channels, spec.height, spec.width, spec.normalisation) != (SPEC.channels, SPEC.height, SPEC.width, SPEC.normalisation):
        raise InputError("--config-json input", f"the published flows are {SPEC.height}x{SPEC.width} "
                         f"{'/'.join(SPEC.channels)} with {SPEC.normalisation} normalisation; the input asks for "
                         f"{spec.height}x{spec.width} {'/'.join(spec.channels)} with {spec.normalisation}")
    tensors = np.stack([read_flow_png(s.flow) for s in samples])
    return PreparedSet(tensors, list(samples), [])


def prepare(samples: list[Sample], spec: InputSpec, cache_dir: Path = DEFAULT_CACHE, workers: int = 1,
            progress: bool = True) -> PreparedSet:
    """Compute the missing inputs (in ``workers`` processes), then read every sample's from the cache."""
    if samples and all(s.flow is not None for s in samples):
        return read_published(samples, spec)
    paths = [cache_path(s, spec, cache_dir) for s in samples]
    todo = [(s, spec, p) for s, p in zip(samples, paths)
            if not p.exists() and not p.with_suffix(".failed.txt").exists()]
    if todo:
        bar = tqdm(total=len(todo), desc="preprocessing (face, alignment, flow)", disable=not progress)
        if workers > 1:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for _ in pool.imap_unordered(_prepare_one, todo, chunksize=4):
                    bar.update()
        else:
            for job in todo:
                _prepare_one(job)
                bar.update()
        bar.close()
    tensors, kept, failed = [], [], []
    for sample, path in zip(samples, paths):
        if path.exists():
            tensors.append(np.load(path))
            kept.append(sample)
        else:
            reason = path.with_suffix(".failed.txt").read_text()
            failed.append(f"{sample.dataset}/{sample.subject}/{sample.clip}: {reason}")
    shape = (0, len(spec.channels), spec.height, spec.width)
    return PreparedSet(np.stack(tensors) if tensors else np.zeros(shape, np.float32), kept, failed)
