"""Recognition metrics of the micro-expression literature, on predictions pooled over all LOSO folds.

UF1 is the unweighted (macro) mean of per-class F1 and UAR the unweighted mean of per-class recall
(MEGC2019). A class with no samples and no predictions is left out of both means, as in the MEGC
evaluation scripts; a class that is predicted but never true counts with F1 = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(matrix, (np.asarray(truth, int), np.asarray(pred, int)), 1)
    return matrix


@dataclass(frozen=True)
class Scores:
    uf1: float
    uar: float
    accuracy: float
    f1: tuple[float, ...]  # per class, NaN where the class is absent
    recall: tuple[float, ...]

    def as_dict(self) -> dict[str, object]:
        nan_free = lambda xs: [None if np.isnan(x) else round(float(x), 6) for x in xs]  # noqa: E731
        return {"uf1": self.uf1, "uar": self.uar, "accuracy": self.accuracy,
                "f1_per_class": nan_free(self.f1), "recall_per_class": nan_free(self.recall)}


def scores(matrix: np.ndarray) -> Scores:
    matrix = np.asarray(matrix, float)
    tp = np.diag(matrix)
    true_count, pred_count = matrix.sum(axis=1), matrix.sum(axis=0)
    present = (true_count + pred_count) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2 * tp / (true_count + pred_count), np.nan)
        recall = np.where(true_count > 0, tp / true_count, np.nan)
    total = matrix.sum()
    return Scores(
        uf1=float(np.nanmean(f1)) if present.any() else 0.0,
        uar=float(np.nanmean(recall)) if (true_count > 0).any() else 0.0,
        accuracy=float(tp.sum() / total) if total else 0.0,
        f1=tuple(float(x) for x in f1),
        recall=tuple(float(x) for x in recall),
    )
