"""Honest evaluation: every figure comes from the confusion matrix of the held-out test pixels."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from hsframe.metrics import CLASS_SCORES, ClassScore, Metric


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
        metrics: ``test_<name>`` of every registered metric; per class score (:class:`ClassScore`)
            ``test_class_<score>/NN_name`` of every class where it is defined (NN = the 1-based label
            value), and ``test_mean_<score>`` for the scores averaged over classes.
        per_class: one row per class: ``class`` (label value), ``name``, ``test_pixels``, then one
            column per class score (``accuracy``, ``precision``, ``recall``, ``f1``, ...; NaN where undefined).
        confusion: ``(K, K)`` counts, rows = true class.
    """

    metrics: dict[str, float]
    per_class: list[dict[str, Any]]
    confusion: np.ndarray


def evaluate_all(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], metrics: Mapping[str, Metric],
                 class_scores: Sequence[ClassScore] = CLASS_SCORES) -> Evaluation:
    """Every registered metric and the per-class scores, from the confusion matrix of 0-based classes."""
    cm = confusion_matrix(y_true, y_pred, len(class_names))
    values = {m.key: float(m.compute(cm)) for m in metrics.values()}
    scores = [(score, score.compute(cm)) for score in class_scores]
    per_class = []
    for k, name in enumerate(class_names):
        row: dict[str, Any] = {"class": k + 1, "name": name, "test_pixels": int(cm[k].sum())}
        for score, v in scores:
            row[score.title] = float(v[k])
            if not np.isnan(v[k]):
                values[score.key(k, name)] = float(v[k])
        per_class.append(row)
    for score, v in scores:
        if score.mean:
            values[score.mean_key] = float(np.nanmean(v))  # some class is defined: the matrix is not empty
    return Evaluation(values, per_class, cm)


def per_class_csv(rows: list[dict[str, Any]]) -> str:
    """The per-class table as CSV text: floats with 6 decimals (``nan`` where undefined)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows:
        writer.writerow([f"{v:.6f}" if isinstance(v, float) else v for v in row.values()])
    return out.getvalue()
