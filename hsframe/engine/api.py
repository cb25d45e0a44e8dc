"""The Python API: ``hsframe.load_config`` and ``hsframe.run``. The CLI is a thin layer over these."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from rich.console import Console

from hsframe.config import RunConfig, build_config
from hsframe.engine.reporter import Reporter
from hsframe.engine.summary import RunSummary, SeedsSummary
from hsframe.plugins import Plugins


def _plugins(plugins: Plugins | None) -> Plugins:
    from hsframe import plugins as plugins_module

    return plugins if plugins is not None else plugins_module.get_plugins()


def load_config(
    config: RunConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    model: str | None = None,
    preset: str | None = None,
    sets: Sequence[str] = (),
    plugins: Plugins | None = None,
) -> RunConfig:
    """A resolved, validated config.

    ``config``: a YAML file's path, or a mapping (nested like the YAML, or with dotted keys such
    as ``{"train.epochs": 5}``), or a ``RunConfig`` (returned as is). Layers, lowest first:
    framework defaults < the model's < the dataset's < ``preset`` < ``config`` < ``sets``
    (``"key=value"`` strings) < ``model``.
    """
    if isinstance(config, RunConfig):
        return config
    file = config if isinstance(config, (str, Path)) else None
    mapping = config if isinstance(config, Mapping) else None
    return build_config(_plugins(plugins), model, preset, file, list(sets), mapping)


def run(
    config: RunConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    seeds: Sequence[int] | None = None,
    tracking_uri: str | None = None,
    recorder: Any = None,
    plugins: Plugins | None = None,
    quiet: bool = False,
    console: Console | None = None,
    **load_options: Any,
) -> RunSummary | SeedsSummary:
    """Train, evaluate and record one run (or one per seed under a parent run).

    ``config`` and ``load_options`` (``model``, ``preset``, ``sets``) as for :func:`load_config`.
    Records go to ``recorder`` when given (e.g. a ``MemoryRecorder``), else to the MLflow store
    of ``tracking_uri`` / ``mlflow.yml``. Returns the run id, config and test metrics.
    """
    from hsframe.engine.run import run_one
    from hsframe.engine.seeds import run_seeds

    plugins = _plugins(plugins)
    cfg = load_config(config, plugins=plugins, **load_options)
    if recorder is None:
        from hsframe.recording import MLflowRecorder
        from hsframe.tracking import load_settings

        recorder = MLflowRecorder(load_settings(uri=tracking_uri), cfg.experiment)
    reporter = Reporter(console, quiet=quiet)
    if seeds:
        return run_seeds(cfg, list(seeds), plugins, recorder, reporter)
    return run_one(cfg, plugins, recorder, reporter)
