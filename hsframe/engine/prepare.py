"""Everything a run can check before it starts: bad input costs nothing and leaves no run behind."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hsframe.config import RunConfig
from hsframe.data.resolve import load_dataset, resolve_dataset
from hsframe.errors import HsframeError
from hsframe.output_paths import check_output
from hsframe.plugins import Plugins
from hsframe.registry import ModelSpec
from hsframe.tasks import Task, TaskSplit, make_task


def load_task(cfg: RunConfig, plugins: Plugins, spec: ModelSpec) -> Task:
    """The run's data as a task, checked against the config and the model's data kinds."""
    dspec = resolve_dataset(cfg, plugins)
    if dspec.kind not in spec.data_kinds:
        raise HsframeError(
            f"model '{spec.name}' serves {', '.join(spec.data_kinds)} data, but dataset '{dspec.name}' is {dspec.kind}; "
            f"pick a model that declares '{dspec.kind}' (see `hsframe plugins`)"
        )
    task = make_task(cfg, load_dataset(cfg, dspec))
    task.check_classes()
    return task


@dataclass
class Prepared:
    """What a run knows before it starts: the split and its leakage."""

    split: TaskSplit
    leakage: dict[str, Any]


def prepare(cfg: RunConfig, task: Task, plugins: Plugins) -> Prepared:
    # Checked now: a checkpoint folder that cannot be made would fail the run after its first epoch.
    check_output("train.checkpoint_dir", cfg.train.checkpoint_dir, folder=True)
    method = plugins.split(cfg.split.method)
    options = method.options(cfg.split.model_dump())
    split = task.split(method, options, cfg.seed)
    return Prepared(split, task.leakage(split))
