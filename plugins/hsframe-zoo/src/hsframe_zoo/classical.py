"""The classical rows of a results table: an RBF SVM and a random forest on each pixel's spectrum.

Both are scikit-learn pipelines fitted by the core's estimator path (:class:`hsframe.registry.EstimatorSpec`):
the run flattens each sample to ``C * D * H * W`` features (the spectrum at ``data.patch_size: 1``),
standardizes them on the training pixels (the scaler is inside the pipeline, fitted by ``fit``), and
the SVM's C and gamma are chosen on the validation pixels from the spec's ``search`` grid.
"""
from __future__ import annotations

from typing import Any

from hsframe import InputSpec

# Melgani & Bruzzone (2004) pick C and gamma by a grid on held-out pixels; on standardized features a
# grid of powers of ten around gamma = 1 / features (0.005 at 200 bands) covers the usual optimum.
SVM_SEARCH = {"C": (1.0, 10.0, 100.0, 1000.0), "gamma": (0.001, 0.01, 0.1, 1.0)}


def build_svm_rbf(spec: InputSpec, C: float = 100.0, gamma: float | str = "scale") -> Any:
    """Standardize -> SVC (RBF kernel, one-vs-one as libsvm does it)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if C <= 0:
        raise ValueError(f"C must be positive, got {C}")
    return make_pipeline(StandardScaler(), SVC(kernel="rbf", C=C, gamma=gamma))


def build_random_forest(spec: InputSpec, n_estimators: int = 200, max_features: float | str = "sqrt",
                        min_samples_leaf: int = 1, n_jobs: int = 1) -> Any:
    """A random forest (Breiman, 2001) of ``n_estimators`` trees, ``sqrt(features)`` candidates per split."""
    from sklearn.ensemble import RandomForestClassifier

    if n_estimators < 1:
        raise ValueError(f"n_estimators must be at least 1, got {n_estimators}")
    return RandomForestClassifier(n_estimators=n_estimators, max_features=max_features,
                                  min_samples_leaf=min_samples_leaf, n_jobs=n_jobs)
