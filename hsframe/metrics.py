"""The metrics registry: every test figure a run logs, each computed from the test confusion matrix.

A metric is one :class:`Metric`, registered through the ``register_metrics`` hook: the built-ins
below use the same hook as a plugin would. A run logs each as ``test_<name>``; headline metrics
(OA, AA, kappa, macro F1) also go into the summary tables, the repeated-seed means and ``hsframe compare``.

Per-class figures are :class:`ClassScore` s: every run logs :data:`CLASS_SCORES` (accuracy, precision,
recall, F1), a task adds its own (a dense volume's Dice and IoU, :data:`SEGMENTATION_SCORES`).

A figure whose denominator is zero is undefined and NaN, as scikit-learn's ``zero_division=np.nan``:
the precision of a class never predicted, the recall of a class without test samples, the F1 / Dice /
IoU of a class neither in the test samples nor predicted. NaN figures are not logged and averages
leave them out; a class without test samples that was predicted has precision and F1 0.
Kept free of torch and MLflow.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from hsframe.hookspecs import hookimpl


@dataclass
class Metric:
    """One figure from a ``(K, K)`` confusion matrix (rows = true class, columns = predicted).

    Args:
        name: short name; the run logs it as ``test_<name>``.
        compute: ``compute(confusion) -> float``; classes without test samples are in the matrix
            with zero rows, so a metric decides how to treat them.
        headline: shown in summary tables and compared by default.
        label: column title in tables (default: the name).
        description: one line for the docs.
    """

    name: str
    compute: Callable[[np.ndarray], float]
    headline: bool = False
    label: str = ""
    description: str = ""
    # Filled in by the plugin manager.
    plugin: str = ""
    package: str = ""
    version: str = ""

    @property
    def key(self) -> str:
        """The MLflow metric name: ``test_<name>`` (computed on the test samples)."""
        return f"test_{self.name}"

    @property
    def title(self) -> str:
        return self.label or self.name


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` per class, NaN where ``den`` is 0."""
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _counts(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(TP, TP + FN, TP + FP)`` per class: hits, test samples (row sums), predictions (column sums)."""
    cm = np.asarray(cm, dtype=np.float64)
    return np.diag(cm), cm.sum(1), cm.sum(0)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` recall (producer's accuracy) of every class; NaN for a class without test samples."""
    tp, support, _ = _counts(cm)
    return _ratio(tp, support)


def per_class_precision(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` precision (user's accuracy): TP / predictions of the class; NaN for a class never predicted."""
    tp, _, predicted = _counts(cm)
    return _ratio(tp, predicted)


def per_class_f1(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` F1 = 2 TP / (2 TP + FP + FN) (= Dice); NaN for a class neither in the test samples nor predicted."""
    tp, support, predicted = _counts(cm)
    return _ratio(2 * tp, support + predicted)


def per_class_iou(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` intersection over union TP / (TP + FP + FN); NaN as :func:`per_class_f1`."""
    tp, support, predicted = _counts(cm)
    return _ratio(tp, support + predicted - tp)


def _total(cm: np.ndarray) -> float:
    total = float(np.asarray(cm).sum())
    if total == 0:
        raise ValueError("empty confusion matrix: no test sample to evaluate")
    return total


def overall_accuracy(cm: np.ndarray) -> float:
    """Correct predictions over all test samples."""
    return float(np.trace(np.asarray(cm, dtype=np.float64)) / _total(cm))


def average_accuracy(cm: np.ndarray) -> float:
    """Mean per-class accuracy over the classes that have test samples."""
    _total(cm)
    return float(np.nanmean(per_class_accuracy(cm)))


def cohen_kappa(cm: np.ndarray) -> float:
    """Agreement beyond chance: ``(OA - p_e) / (1 - p_e)``, ``p_e`` from the row and column totals."""
    cm = np.asarray(cm, dtype=np.float64)
    total = _total(cm)
    expected = float((cm.sum(1) * cm.sum(0)).sum() / total**2)
    oa = overall_accuracy(cm)
    return 1.0 if expected == 1 else (oa - expected) / (1 - expected)


def macro_f1(cm: np.ndarray) -> float:
    """Mean per-class F1 over the classes in the test samples or the predictions."""
    _total(cm)
    return float(np.nanmean(per_class_f1(cm)))


def weighted_f1(cm: np.ndarray) -> float:
    """Per-class F1 weighted by the class's test samples."""
    _, support, _ = _counts(cm)
    f1 = per_class_f1(cm)
    present = support > 0  # F1 is defined wherever there are test samples
    return float((f1[present] * support[present]).sum() / _total(cm))


BUILTIN_METRICS = (
    Metric("oa", overall_accuracy, headline=True, label="OA", description="overall accuracy"),
    Metric("aa", average_accuracy, headline=True, label="AA", description="average per-class accuracy"),
    Metric("kappa", cohen_kappa, headline=True, label="kappa", description="Cohen's kappa"),
    Metric("macro_f1", macro_f1, headline=True, label="macro F1", description="mean per-class F1"),
    Metric("weighted_f1", weighted_f1, label="weighted F1", description="per-class F1 weighted by test samples"),
)


@dataclass(frozen=True)
class ClassScore:
    """One figure per class from the confusion matrix.

    Args:
        name: the run logs class NN's value as ``test_class_<name>/NN_name`` (NN = the 1-based label value).
        compute: ``compute(confusion) -> (K,)`` values, NaN where undefined (then not logged).
        column: its column in the per-class table (default: the name).
        mean: also log ``test_mean_<name>``, the mean over the classes where it is defined.
    """

    name: str
    compute: Callable[[np.ndarray], np.ndarray]
    column: str = ""
    mean: bool = False

    @property
    def family(self) -> str:
        """The MLflow metric names' common start: ``test_class_<name>/``."""
        return f"test_class_{self.name}/"

    def key(self, index: int, class_name: str) -> str:
        """The MLflow name of 0-based class ``index`` called ``class_name``."""
        return f"{self.family}{index + 1:02d}_{slug(class_name)}"

    @property
    def mean_key(self) -> str:
        return f"test_mean_{self.name}"

    @property
    def title(self) -> str:
        return self.column or self.name


# Every run's per-class figures: the table columns accuracy (= recall, kept under its old name), precision, recall, f1.
CLASS_SCORES = (
    ClassScore("acc", per_class_accuracy, column="accuracy"),
    ClassScore("precision", per_class_precision),
    ClassScore("recall", per_class_accuracy),
    ClassScore("f1", per_class_f1),
)
# Overlap figures of segmentation, over voxels: Dice equals F1.
SEGMENTATION_SCORES = (
    ClassScore("dice", per_class_f1, mean=True),
    ClassScore("iou", per_class_iou, mean=True),
)


def slug(text: str) -> str:
    """A class name as it goes into a metric name: lower case, runs of other characters as one ``_``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


@hookimpl
def register_metrics(register: Callable[[Metric], None]) -> None:
    for metric in BUILTIN_METRICS:
        register(metric)


def headline(metrics: dict[str, Metric]) -> list[Metric]:
    """The headline metrics of a registry, in registration order."""
    return [m for m in metrics.values() if m.headline]
