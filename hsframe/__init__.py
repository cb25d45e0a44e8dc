"""hsframe: a plugin-based research framework for hyperspectral and volumetric deep learning.

Importing this package must stay cheap (no torch, no mlflow): plugins import it to register.

    import hsframe
    summary = hsframe.run({"model": "hybridsn", "train": {"epochs": 5}})
    print(summary.run_id, summary.metrics["test_oa"])
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hsframe.hookspecs import hookimpl
from hsframe.registry import DatasetSpec, InputSpec, ModelSpec

if TYPE_CHECKING:
    from hsframe.config import RunConfig
    from hsframe.engine.summary import RunSummary, SeedsSummary
    from hsframe.study.sweep import SweepSummary

__version__ = "0.1.0"
PLUGIN_API_VERSION = 1

__all__ = ["hookimpl", "DatasetSpec", "InputSpec", "ModelSpec", "__version__", "PLUGIN_API_VERSION", "run", "load_config", "sweep"]


def run(config: Any = None, **options: Any) -> "RunSummary | SeedsSummary":
    """Train, evaluate and record one run; see :func:`hsframe.engine.api.run` for the options."""
    from hsframe.engine.api import run as run_api

    return run_api(config, **options)


def load_config(config: Any = None, **options: Any) -> "RunConfig":
    """A resolved, validated config; see :func:`hsframe.engine.api.load_config`."""
    from hsframe.engine.api import load_config as load_config_api

    return load_config_api(config, **options)


def sweep(space: Any, **options: Any) -> "SweepSummary":
    """Run (or continue) an Optuna sweep, each trial a recorded run; see :func:`hsframe.study.sweep.sweep`."""
    from hsframe.study.sweep import sweep as sweep_api

    return sweep_api(space, **options)
