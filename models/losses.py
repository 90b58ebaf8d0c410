"""Training objectives: class-balanced cross-entropy and supervised contrastive loss (Khosla et al. 2020)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights from the training labels, mean 1 over the classes present.

    Micro-expression datasets are unbalanced (MEGC2019: 250 negative vs 109 positive vs 83
    surprise), and UF1/UAR weigh every class equally, so the loss does too.
    """
    counts = np.bincount(np.asarray(labels, int), minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts[present].sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def supcon_loss(embedding: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss over L2-normalised embeddings; anchors without a positive are skipped."""
    n = embedding.shape[0]
    similarity = embedding @ embedding.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=embedding.device)
    similarity = similarity.masked_fill(self_mask, float("-inf"))
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    counts = positives.sum(dim=1)
    anchors = counts > 0
    if not anchors.any():
        return embedding.sum() * 0.0
    mean_log_prob = log_prob.masked_fill(~positives, 0.0).sum(dim=1)[anchors] / counts[anchors]
    return -mean_log_prob.mean()


def objective(logits: torch.Tensor, embedding: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
              loss: str, supcon_weight: float, temperature: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """``ce`` or ``ce+supcon``: class-balanced cross-entropy, plus the weighted contrastive term."""
    value = F.cross_entropy(logits, labels, weight=weights, label_smoothing=label_smoothing)
    if loss == "ce+supcon":
        value = value + supcon_weight * supcon_loss(embedding, labels, temperature)
    return value
