"""Honest evaluation: every figure comes from the confusion matrix of the held-out test pixels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, K)`` counts, rows = true class, columns = predicted class; labels are 0-based."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} holds labels outside 0..{num_classes - 1}")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class Metrics:
    """Overall accuracy, average (per-class) accuracy, Cohen's kappa and per-class accuracy.

    ``per_class[k]`` is NaN for a class without test pixels; AA averages the classes that have some.
    """

    oa: float
    aa: float
    kappa: float
    per_class: np.ndarray
    support: np.ndarray
    confusion: np.ndarray


def metrics_from_confusion(cm: np.ndarray) -> Metrics:
    cm = np.asarray(cm, dtype=np.float64)
    total = cm.sum()
    if total == 0:
        raise ValueError("empty confusion matrix: no test pixel to evaluate")
    support = cm.sum(1)
    correct = np.diag(cm)
    oa = correct.sum() / total
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, correct / support, np.nan)
    aa = float(np.nanmean(per_class))
    expected = (support * cm.sum(0)).sum() / total**2
    kappa = 1.0 if expected == 1 else (oa - expected) / (1 - expected)
    return Metrics(float(oa), aa, float(kappa), per_class, support.astype(np.int64), cm.astype(np.int64))


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> Metrics:
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, num_classes))
