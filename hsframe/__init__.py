"""hsframe: a plugin-based research framework for hyperspectral and volumetric deep learning.

Importing this package must stay cheap (no torch, no mlflow): plugins import it to register.

    import hsframe
    summary = hsframe.run({"model": "hybridsn", "train": {"epochs": 5}})
    print(summary.run_id, summary.metrics["test_oa"])
    model = hsframe.load_model(summary.run_id)
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from hsframe.hookspecs import hookimpl
from hsframe.registry import DatasetSpec, EstimatorSpec, InputSpec, ModelSpec

if TYPE_CHECKING:
    import torch

    from hsframe.config import RunConfig
    from hsframe.engine.summary import RunSummary, SeedsSummary
    from hsframe.plugins import Plugins
    from hsframe.study.sweep import SweepSummary

__version__ = "0.1.0"
PLUGIN_API_VERSION = 1

__all__ = ["hookimpl", "DatasetSpec", "EstimatorSpec", "InputSpec", "ModelSpec", "__version__", "PLUGIN_API_VERSION", "run", "load_config", "sweep",
           "load_model"]

# MLflow 3 unpickles a logged model (and its sample inputs) unless told not to: a tampered pickle in a
# store would run code. hsframe never loads one; every entry point (the CLI's main, the functions below)
# also turns MLflow's own pickle loading off, for whatever MLflow does under it.
PICKLE_SWITCH = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


def refuse_pickles() -> None:
    """Turn MLflow's pickle deserialization off for this process and the processes it starts."""
    os.environ[PICKLE_SWITCH] = "false"


def run(config: Any = None, **options: Any) -> "RunSummary | SeedsSummary":
    """Train, evaluate and record one run; see :func:`hsframe.engine.api.run` for the options."""
    from hsframe.engine.api import run as run_api

    refuse_pickles()

    return run_api(config, **options)


def load_config(config: Any = None, **options: Any) -> "RunConfig":
    """A resolved, validated config; see :func:`hsframe.engine.api.load_config`."""
    from hsframe.engine.api import load_config as load_config_api

    refuse_pickles()

    return load_config_api(config, **options)


def sweep(space: Any, **options: Any) -> "SweepSummary":
    """Run (or continue) an Optuna sweep, each trial a recorded run; see :func:`hsframe.study.sweep.sweep`."""
    from hsframe.study.sweep import sweep as sweep_api

    refuse_pickles()

    return sweep_api(space, **options)


def load_model(run_id: str, tracking_uri: str | None = None, plugins: "Plugins | None" = None) -> "torch.nn.Module":
    """The fitted model of run ``run_id`` (CPU, eval mode), rebuilt by the installed plugin that made it; nothing is unpickled.

    A torch model comes back with the run's weights (safetensors); an estimator model as an
    :class:`~hsframe.estimator_module.EstimatorModule` around the run's estimator (skops), mapping
    ``(N, C, D, H, W)`` to one-hot ``(N, K)`` scores. ``tracking_uri``: default from ``mlflow.yml`` /
    ``MLFLOW_TRACKING_URI``; ``plugins``: default, the installed ones. See :mod:`hsframe.model_artifact`."""
    from hsframe.model_artifact import load_model as load_model_api

    refuse_pickles()
    return load_model_api(run_id, tracking_uri, plugins)
