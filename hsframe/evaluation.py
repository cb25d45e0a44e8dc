"""Honest evaluation: every figure comes from the confusion matrix of the held-out test pixels."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:
    from hsframe.metrics import Metric


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
class Evaluation:
    """The test figures of a run.

    Attributes:
        metrics: ``test_<name>`` of every registered metric, and ``test_class_acc/NN_name`` of
            every class with test samples (NN = the 1-based label value).
        per_class: one row per class: ``class`` (label value), ``name``, ``test_pixels``, ``accuracy``.
        confusion: ``(K, K)`` counts, rows = true class.
    """

    metrics: dict[str, float]
    per_class: list[dict[str, Any]]
    confusion: np.ndarray


def evaluate_all(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], metrics: Mapping[str, "Metric"]) -> Evaluation:
    """Every registered metric and the per-class accuracy, from the confusion matrix of 0-based classes."""
    from hsframe.metrics import per_class_accuracy

    cm = confusion_matrix(y_true, y_pred, len(class_names))
    values = {m.key: float(m.compute(cm)) for m in metrics.values()}
    acc = per_class_accuracy(cm)
    per_class = []
    for k, name in enumerate(class_names):
        per_class.append({"class": k + 1, "name": name, "test_pixels": int(cm[k].sum()), "accuracy": float(acc[k])})
        if not np.isnan(acc[k]):
            values[f"test_class_acc/{k + 1:02d}_{slug(name)}"] = float(acc[k])
    return Evaluation(values, per_class, cm)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
