"""Training losses (``train.loss``), with class weights taken from the training samples' class counts.

Class weights are inverse frequencies normalized to mean 1 over the classes present in training:

    w_c = (1 / n_c) / mean_{k: n_k > 0} (1 / n_k),   and w_c = 0 for a class with no training sample,

so a class ten times rarer weighs ten times more, and on balanced counts every weight is 1.

A loss gives the mean loss of a chunk of a batch and that chunk's ``share`` of the batch, so that the
micro-batched gradient (chunks weighted by share) equals the whole batch's. Weighted losses are
weighted means, ``sum_i w_{y_i} l_i / sum_i w_{y_i}`` (as ``torch.nn.CrossEntropyLoss(weight=...)``):
the weights set the classes' relative say, not the size of the step.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from hsframe.config import TrainConfig


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Inverse-frequency weights of class ``counts`` (see the module docstring): float64, mean 1 over present classes."""
    counts = np.asarray(counts, dtype=np.float64)
    inverse = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    present = counts > 0
    if not present.any():
        return inverse
    return inverse / inverse[present].mean()


class Loss:
    """Plain cross-entropy: the batch mean of ``-log p(y)``."""

    @classmethod
    def build(cls, cfg: TrainConfig, weights: np.ndarray, device: torch.device) -> "Loss":
        return cls()

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y)

    def share(self, chunk: torch.Tensor, batch: torch.Tensor) -> float:
        """How much of ``batch``'s mean loss the mean over ``chunk`` (a part of its targets) stands for."""
        return len(chunk) / len(batch)


class WeightedCrossEntropy(Loss):
    """Cross-entropy weighted by class: ``sum w_y CE / sum w_y`` over the batch."""

    def __init__(self, weights: np.ndarray, device: torch.device) -> None:
        self.weights = torch.as_tensor(weights, dtype=torch.float32, device=device)

    @classmethod
    def build(cls, cfg: TrainConfig, weights: np.ndarray, device: torch.device) -> "Loss":
        return cls(weights, device)

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, reduction="none")

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        w = self.weights[y]
        return (w * self.per_sample(logits, y)).sum() / w.sum()

    def share(self, chunk: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.weights[chunk].sum() / self.weights[batch].sum()  # a 0-d tensor: stays on the device, no host sync


class FocalLoss(WeightedCrossEntropy):
    """Focal loss (Lin et al., 2017), multi-class, with the class weights as alpha:
    ``sum w_y (1 - p_y)^gamma CE / sum w_y``. Easy (mostly majority-class) samples count less; gamma = 0
    is :class:`WeightedCrossEntropy`, and on balanced counts (weights all 1) plain cross-entropy."""

    def __init__(self, weights: np.ndarray, device: torch.device, gamma: float) -> None:
        super().__init__(weights, device)
        self.gamma = gamma

    @classmethod
    def build(cls, cfg: TrainConfig, weights: np.ndarray, device: torch.device) -> "Loss":
        return cls(weights, device, cfg.focal_gamma)

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits, dim=1).gather(1, y[:, None]).squeeze(1)
        return -((1 - log_p.exp()) ** self.gamma) * log_p


LOSSES: dict[str, type[Loss]] = {"cross_entropy": Loss, "weighted_cross_entropy": WeightedCrossEntropy, "focal": FocalLoss}


def make_loss(cfg: TrainConfig, train_targets: np.ndarray, device: torch.device) -> Loss:
    """The loss ``cfg.loss`` names; weighted ones take the class counts of ``train_targets`` (0-based)."""
    weights = class_weights(np.bincount(np.asarray(train_targets, dtype=np.int64)))
    return LOSSES[cfg.loss].build(cfg, weights, device)
