"""Temperature scaling (Guo et al. 2017) fitted on out-of-fold LOSO predictions.

Every LOSO prediction comes from a model that never saw that subject, so these probabilities are the
honest ones to calibrate on. One temperature T divides the logits; it changes confidence, never the
argmax. Log-probabilities stand in for the logits: softmax(log p / T) = softmax(logits / T), because the
per-row constant that separates them cancels.
"""

from __future__ import annotations

import numpy as np

from app.model_card import Calibration

ECE_BINS = 15
_GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 400))


def softmax_with_temperature(log_probs: np.ndarray, temperature: float) -> np.ndarray:
    z = log_probs / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(probabilities: np.ndarray, truth: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sample-weighted mean |accuracy - confidence| over equal-width confidence bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(truth)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(error / max(len(truth), 1))


def negative_log_likelihood(log_probs: np.ndarray, truth: np.ndarray, temperature: float) -> float:
    p = softmax_with_temperature(log_probs, temperature)
    return float(-np.log(np.clip(p[np.arange(len(truth)), truth], 1e-12, None)).mean())


def fit_temperature(probabilities: np.ndarray, truth: np.ndarray, fitted_on: str) -> Calibration:
    """The temperature minimising the negative log-likelihood of ``truth`` (grid search over 0.05–20)."""
    truth = np.asarray(truth, int)
    log_probs = np.log(np.clip(probabilities, 1e-12, None))
    losses = [negative_log_likelihood(log_probs, truth, t) for t in _GRID]
    temperature = float(_GRID[int(np.argmin(losses))])
    return Calibration(
        temperature=round(temperature, 4),
        ece_before=round(expected_calibration_error(probabilities, truth), 4),
        ece_after=round(expected_calibration_error(softmax_with_temperature(log_probs, temperature), truth), 4),
        fitted_on=fitted_on,
    )
