"""The metrics registry: every test figure a run logs, each computed from the test confusion matrix.

A metric is one :class:`Metric`, registered through the ``register_metrics`` hook: the built-ins
below use the same hook as a plugin would. A run logs each as ``test_<name>``; headline metrics
(OA, AA, kappa) also go into the summary tables, the repeated-seed means and ``hsframe compare``.
Kept free of torch and MLflow.
"""
from __future__ import annotations

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


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` recall of every class; NaN for a class without test samples."""
    cm = np.asarray(cm, dtype=np.float64)
    support = cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.where(support > 0, support, 1), np.nan)


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


BUILTIN_METRICS = (
    Metric("oa", overall_accuracy, headline=True, label="OA", description="overall accuracy"),
    Metric("aa", average_accuracy, headline=True, label="AA", description="average per-class accuracy"),
    Metric("kappa", cohen_kappa, headline=True, label="kappa", description="Cohen's kappa"),
)


@hookimpl
def register_metrics(register: Callable[[Metric], None]) -> None:
    for metric in BUILTIN_METRICS:
        register(metric)


def headline(metrics: dict[str, Metric]) -> list[Metric]:
    """The headline metrics of a registry, in registration order."""
    return [m for m in metrics.values() if m.headline]
