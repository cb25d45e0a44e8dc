"""A fitted estimator as a torch module, so that applying it is the same code as applying a network."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn


class EstimatorModule(nn.Module):
    """Wraps a fitted ``predict(X)`` estimator: ``(N, C, D, H, W)`` samples -> ``(N, K)`` one-hot scores.

    Each sample is flattened to ``C * D * H * W`` float32 features, as the estimator was fitted
    (:func:`hsframe.engine.fitting.flat_samples`); the argmax of the scores is the estimator's own
    ``predict`` (not a probability, which an SVM does not give without an extra calibration fit).
    It has no parameters and nothing to train: the estimator runs on the CPU whatever the device.
    """

    outputs_logits = False  # one-hot votes: their softmax is no probability (hsframe predict --probabilities refuses)

    def __init__(self, estimator: Any, num_classes: int) -> None:
        super().__init__()
        self.estimator, self.num_classes = estimator, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pred = self.estimator.predict(x.flatten(1).float().cpu().numpy())
        scores = torch.zeros(len(x), self.num_classes)
        scores[torch.arange(len(x)), torch.as_tensor(pred, dtype=torch.int64)] = 1.0
        return scores.to(x.device)
