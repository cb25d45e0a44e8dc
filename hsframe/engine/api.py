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
    resume: str | None = None,
    **load_options: Any,
) -> RunSummary | SeedsSummary:
    """Train, evaluate and record one run (or one per seed under a parent run).

    ``config`` and ``load_options`` (``model``, ``preset``, ``sets``) as for :func:`load_config`.
    Records go to ``recorder`` when given (e.g. a ``MemoryRecorder``), else to the MLflow store
    of ``tracking_uri`` / ``mlflow.yml``. Returns the run id, config and test metrics.

    ``resume``: the id of a run that did not finish; it continues, in the same record, after the
    last epoch its checkpoint saved, with its logged config (``sets`` may change only
    ``train.device`` and ``train.checkpoint_dir``).
    """
    from hsframe.distributed import World, leave

    plugins = _plugins(plugins)
    world = World.from_env()
    if world.parallel and not world.main:  # only rank 0 records and reports; the others train beside it
        from hsframe.recording import MemoryRecorder

        recorder, quiet, console = MemoryRecorder(), True, Console(quiet=True)
    try:
        return _run(config, seeds, tracking_uri, recorder, plugins, quiet, console, resume, world, load_options)
    finally:
        leave()


def _run(config: Any, seeds: Sequence[int] | None, tracking_uri: str | None, recorder: Any, plugins: Plugins, quiet: bool,
         console: Console | None, resume: str | None, world: Any, load_options: dict[str, Any]) -> RunSummary | SeedsSummary:
    from hsframe.engine.run import run_one
    from hsframe.engine.seeds import run_seeds
    from hsframe.errors import HsframeError

    if world.parallel and seeds:
        raise HsframeError("repeated seeds run one at a time in one process; start one data-parallel run per seed "
                           "(--seed N with --nproc-per-node) or drop --nproc-per-node")
    if resume is not None:
        if world.parallel:
            raise HsframeError(f"--resume {resume} continues a run in one process; drop --nproc-per-node / torchrun to resume it")
        return _resume(resume, config, seeds, tracking_uri, recorder, plugins, Reporter(console, quiet=quiet), load_options)
    cfg = load_config(config, plugins=plugins, **load_options)
    if recorder is None:
        from hsframe.recording import MLflowRecorder
        from hsframe.tracking import load_settings

        recorder = MLflowRecorder(load_settings(uri=tracking_uri), cfg.experiment)
    reporter = Reporter(console, quiet=quiet)
    if seeds:
        return run_seeds(cfg, list(seeds), plugins, recorder, reporter)
    return run_one(cfg, plugins, recorder, reporter)


def _resume(run_id: str, config: Any, seeds: Sequence[int] | None, tracking_uri: str | None, recorder: Any,
            plugins: Plugins, reporter: Reporter, load_options: dict[str, Any]) -> RunSummary:
    from hsframe.engine.resume import resume_config
    from hsframe.engine.run import run_one
    from hsframe.errors import HsframeError

    given = [name for name, value in (("a config", config), ("seeds", seeds), *load_options.items())
             if value not in (None, (), []) and name != "sets"]
    if given:
        raise HsframeError(f"--resume {run_id} continues that run with its logged config; drop {', '.join(given)} "
                           f"(only --device, --tracking-uri and --set train.checkpoint_dir=... go with --resume)")
    if recorder is None:
        from hsframe.recording import MLflowRecorder
        from hsframe.stores import require_store
        from hsframe.tracking import load_settings

        settings = load_settings(uri=tracking_uri)
        require_store(settings.tracking_uri)
        recorder = MLflowRecorder(settings)
    cfg, resume = resume_config(run_id, recorder, plugins, load_options.get("sets") or ())
    return run_one(cfg, plugins, recorder, reporter, resume=resume)
