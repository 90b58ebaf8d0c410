"""Leave-one-subject-out training and evaluation of EPIR on prepared inputs.

Every fold trains for the same fixed number of epochs and predicts its held-out subject with the
model as it is after the last epoch: no epoch, checkpoint or threshold is chosen by looking at the
test fold. The class weights of the loss come from the training folds only. Predictions are pooled
over all folds before UF1, UAR and accuracy are computed (DESIGN.md 3.3).
"""

from __future__ import annotations

import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import torch

from app.model_card import InputSpec
from models.epir import EPIR, EPIREnsemble
from models.epir_config import EPIRConfig
from models.layers import mirror
from models.losses import class_weights, objective, supcon_loss
from models.metrics import Scores, confusion_matrix, scores

LOSSES = ("ce", "ce+supcon")


@dataclass(frozen=True)
class TrainConfig:
    """The fixed training recipe, identical for every fold and for the final model."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 3  # linear warm-up, then cosine decay to zero at the last epoch
    loss: str = "ce"  # "ce" or "ce+supcon"
    supcon_weight: float = 0.5
    supcon_temperature: float = 0.1
    label_smoothing: float = 0.0
    flip: bool = True  # mirror the face: flip left-right, horizontal flow the other way (EPIR's mirror options)
    noise: float = 0.02  # std of Gaussian noise added to the (normalised) input
    shift: int = 0  # random translation of the whole input by up to this many pixels (edge replicated)
    mixup: float = 0.0  # Beta(mixup, mixup) mixing of inputs and labels within a batch; 0 = off
    rotate: float = 0.0  # random rotation of the whole input by up to this many degrees (``random_affine``)
    scale: float = 0.0  # random zoom by a factor in [1 - scale, 1 + scale]
    erase: float = 0.0  # probability of erasing one random square (``random_erase``) per sample
    erase_size: int = 7  # side of the erased square in pixels
    balanced: bool = False  # class-balanced batches (sampled with replacement) and an unweighted loss
    seed: int = 0
    ensemble: int = 1  # models trained with seeds seed, seed+1, ... and run as one (logits averaged)
    threads: int = 1  # torch threads per training process (the train command: cores / workers)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss {self.loss!r} not in {list(LOSSES)}")
        if self.ensemble < 1:
            raise ValueError(f"ensemble {self.ensemble} must be at least 1")
        if not (0.0 <= self.rotate <= 45.0 and 0.0 <= self.scale < 0.5 and 0.0 <= self.erase <= 1.0 and self.erase_size > 0):
            raise ValueError(f"rotate {self.rotate} (0-45), scale {self.scale} (0-0.5), erase {self.erase} (0-1) "
                             f"or erase_size {self.erase_size} (> 0) out of range")


def input_mirror(spec: InputSpec) -> dict[str, Any]:
    """EPIR's mirror options for an input: horizontal flow changes sign under a left-right mirror (the rest
    does not); flow min-max scaled to [0, 1] per image changes as 1 - x (``layers.mirror``)."""
    return {"mirror_negate": tuple(i for i, c in enumerate(spec.channels) if c == "u"),
            "mirror_offset": 1.0 if spec.normalisation == "minmax" else 0.0}


def augment(x: torch.Tensor, model_config: EPIRConfig, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    if config.flip:
        chosen = torch.rand(x.shape[0], generator=generator) < 0.5
        x = torch.where(chosen.view(-1, 1, 1, 1), mirror(x, model_config.mirror_negate, model_config.mirror_offset), x)
    if config.shift > 0:
        x = random_shift(x, config.shift, generator)
    if config.rotate > 0 or config.scale > 0:
        x = random_affine(x, config.rotate, config.scale, generator)
    if config.erase > 0:
        x = random_erase(x, config.erase, config.erase_size, generator)
    if config.noise > 0:
        x = x + config.noise * torch.randn(x.shape, generator=generator)
    return x


def random_shift(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each sample by a random integer offset in [-pixels, pixels]², replicating the edge:
    the face is never aligned to the pixel, in the published crops or live."""
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pixels,) * 4, mode="replicate")
    dy, dx = (torch.randint(0, 2 * pixels + 1, (2, n), generator=generator)).tolist()
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def random_affine(x: torch.Tensor, degrees: float, scale: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate each sample about the image centre by up to ``degrees`` and zoom it by up to ``scale``
    (bilinear, edge values repeated): faces are never upright and sized to the pixel, live or published.

    The flow vectors are moved, not turned: per-image min-max scaling (the published flows) scales u and v
    by different unknown factors, so a rotation of the vectors cannot be computed; at 10 degrees their
    direction is off by at most that much.
    """
    n = x.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(degrees)
    zoom = 1 + (torch.rand(n, generator=generator) * 2 - 1) * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(n)], 1), torch.stack([sin, cos, torch.zeros(n)], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_erase(x: torch.Tensor, probability: float, size: int, generator: torch.Generator) -> torch.Tensor:
    """With ``probability``, replace one random ``size`` x ``size`` square of a sample by its per-channel
    median, the image's most common value (no motion): the label must not hang on a single face area."""
    n, _, h, w = x.shape
    out = x.clone()
    chosen = (torch.rand(n, generator=generator) < probability).tolist()
    tops = torch.randint(0, h - size + 1, (n,), generator=generator).tolist()
    lefts = torch.randint(0, w - size + 1, (n,), generator=generator).tolist()
    medians = x.flatten(2).median(dim=2).values
    for i in range(n):
        if chosen[i]:
            out[i, :, tops[i]:tops[i] + size, lefts[i]:lefts[i] + size] = medians[i].view(-1, 1, 1)
    return out


def balanced_order(y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One epoch's sample order drawn with replacement so that every class is equally likely."""
    counts = torch.bincount(y).float()
    return torch.multinomial(1.0 / counts[y], len(y), replacement=True, generator=generator)


def learning_rate(config: TrainConfig, step: int, total: int, per_epoch: int) -> float:
    warmup = config.warmup_epochs * per_epoch
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * progress))


def train_model(x: np.ndarray, y: np.ndarray, model_config: EPIRConfig, config: TrainConfig,
                on_epoch: Callable[[int, float], None] | None = None) -> EPIR | EPIREnsemble:
    """Train ``config.ensemble`` fresh EPIRs on (x, y), seeds ``seed``, ``seed + 1``, ...; in eval mode.

    One member is returned as it is; several as one ``EPIREnsemble``. ``on_epoch`` hears every member's epochs.
    """
    members = [train_member(x, y, model_config, replace(config, seed=config.seed + i), on_epoch)
               for i in range(config.ensemble)]
    return members[0] if len(members) == 1 else EPIREnsemble(members).eval()


def train_member(x: np.ndarray, y: np.ndarray, model_config: EPIRConfig, config: TrainConfig,
                 on_epoch: Callable[[int, float], None] | None = None) -> EPIR:
    """Train a fresh EPIR on (x, y) for exactly ``config.epochs`` epochs with ``config.seed``; in eval mode."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = EPIR(model_config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    inputs, labels = torch.from_numpy(np.ascontiguousarray(x, np.float32)), torch.from_numpy(np.asarray(y, np.int64))
    weights = torch.ones(model_config.num_classes) if config.balanced else class_weights(y, model_config.num_classes)
    per_epoch = math.ceil(len(inputs) / config.batch_size)
    total, step = config.epochs * per_epoch, 0
    model.train()
    for epoch in range(config.epochs):
        order = balanced_order(labels, generator) if config.balanced else torch.randperm(len(inputs), generator=generator)
        running = 0.0
        for start in range(0, len(inputs), config.batch_size):
            batch = order[start:start + config.batch_size]
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(config, step, total, per_epoch)
            batch_x, batch_y = augment(inputs[batch], model_config, config, generator), labels[batch]
            if config.mixup > 0:
                loss = mixup_step(model, batch_x, batch_y, weights, config, generator)
            else:
                logits, _, embedding = model(batch_x)
                loss = objective(logits, embedding, batch_y, weights, config.loss, config.supcon_weight,
                                 config.supcon_temperature, config.label_smoothing)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            running += loss.item() * len(batch)
            step += 1
        if on_epoch is not None:
            on_epoch(epoch, running / len(inputs))
    return model.eval()


def mixup_step(model: EPIR, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, config: TrainConfig,
               generator: torch.Generator) -> torch.Tensor:
    """Mixup (Zhang et al. 2018): the loss of a convex mix of two samples is the same mix of their losses.

    The contrastive term, when asked for, is computed on the unmixed batch's embeddings (a mixed sample has
    no single class to be contrasted by).
    """
    lam = float(torch.distributions.Beta(config.mixup, config.mixup).sample())
    partner = torch.randperm(len(x), generator=generator)
    logits, _, _ = model(lam * x + (1 - lam) * x[partner])
    loss = sum(w * torch.nn.functional.cross_entropy(logits, t, weight=weights, label_smoothing=config.label_smoothing)
               for w, t in ((lam, y), (1 - lam, y[partner])))
    if config.loss == "ce+supcon":
        _, _, embedding = model(x)
        loss = loss + config.supcon_weight * supcon_loss(embedding, y, config.supcon_temperature)
    return loss


@torch.no_grad()
def predict(model: EPIR | EPIREnsemble, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (N, K)."""
    model.eval()
    out = [torch.softmax(model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size], np.float32)))[0], dim=1)
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.config.num_classes), np.float32)


@dataclass(frozen=True)
class Fold:
    subject: str  # the held-out subject
    train: np.ndarray  # sample indices
    test: np.ndarray


def loso_folds(subjects: list[str]) -> list[Fold]:
    """One fold per subject: that subject's samples are the test set, everyone else's the training set."""
    subjects_arr = np.asarray(subjects)
    return [Fold(s, np.flatnonzero(subjects_arr != s), np.flatnonzero(subjects_arr == s))
            for s in sorted(set(subjects))]


@dataclass(frozen=True)
class FoldResult:
    subject: str
    test: np.ndarray  # sample indices
    probabilities: np.ndarray  # (n_test, K), from the model after the last epoch
    train_subjects: tuple[str, ...]
    seconds: float

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


@dataclass(frozen=True)
class FoldJob:
    fold: Fold
    x: np.ndarray
    y: np.ndarray
    subjects: tuple[str, ...]
    model_config: EPIRConfig
    config: TrainConfig


def run_fold(job: FoldJob) -> FoldResult:
    start = time.perf_counter()
    fold = job.fold
    model = train_model(job.x[fold.train], job.y[fold.train], job.model_config, job.config)
    train_subjects = tuple(sorted({job.subjects[i] for i in fold.train}))
    return FoldResult(fold.subject, fold.test, predict(model, job.x[fold.test]), train_subjects,
                      time.perf_counter() - start)


@dataclass(frozen=True)
class LosoResult:
    classes: tuple[str, ...]
    folds: list[FoldResult]
    truth: np.ndarray  # pooled, in sample order
    predictions: np.ndarray
    confusion: np.ndarray
    scores: Scores
    per_fold: list[dict] = field(default_factory=list)

    @property
    def probabilities(self) -> np.ndarray:
        """(N, K) out-of-fold class probabilities, in sample order."""
        out = np.zeros((len(self.truth), len(self.classes)), np.float64)
        for r in self.folds:
            out[r.test] = r.probabilities
        return out

    def as_dict(self) -> dict:
        return {**self.scores.as_dict(), "confusion": self.confusion.tolist(), "folds": self.per_fold}


def run_loso(x: np.ndarray, y: np.ndarray, subjects: list[str], classes: tuple[str, ...], model_config: EPIRConfig,
             config: TrainConfig, workers: int = 1,
             on_fold: Callable[[FoldResult], None] | None = None) -> LosoResult:
    """Leave-one-subject-out over ``subjects``; folds run in ``workers`` processes when > 1."""
    jobs = [FoldJob(f, x, y, tuple(subjects), model_config, config) for f in loso_folds(subjects)]
    results: list[FoldResult] = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(run_fold, job) for job in jobs]):
                results.append(future.result())
                if on_fold:
                    on_fold(results[-1])
    else:
        for job in jobs:
            results.append(run_fold(job))
            if on_fold:
                on_fold(results[-1])
    results.sort(key=lambda r: r.subject)
    predictions = np.empty(len(y), np.int64)
    for r in results:
        predictions[r.test] = r.predictions
    matrix = confusion_matrix(y, predictions, len(classes))
    per_fold = []
    for r in results:
        fold_scores = scores(confusion_matrix(y[r.test], r.predictions, len(classes)))
        per_fold.append({"subject": r.subject, "n_test": int(len(r.test)), "n_train": int(len(y) - len(r.test)),
                         "accuracy": fold_scores.accuracy, "uf1": fold_scores.uf1, "uar": fold_scores.uar,
                         "seconds": round(r.seconds, 2)})
    return LosoResult(classes, results, np.asarray(y), predictions, matrix, scores(matrix), per_fold)
