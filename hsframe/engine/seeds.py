"""Repeated runs over seeds: one child run per seed under a parent run holding the mean and std."""
from __future__ import annotations

import numpy as np

from hsframe import __version__
from hsframe.config import RunConfig, flatten
from hsframe.engine.prepare import load_task, prepare
from hsframe.engine.reporter import Reporter
from hsframe.engine.run import run_one
from hsframe.engine.summary import SeedsSummary
from hsframe.errors import HsframeError
from hsframe.metrics import headline
from hsframe.plugins import Plugins
from hsframe.recording import PARENT_TAG, Recorder


def run_seeds(cfg: RunConfig, seeds: list[int], plugins: Plugins, recorder: Recorder, reporter: Reporter) -> SeedsSummary:
    """Every seed as a child of one parent run; the parent records ``<metric>_mean`` / ``_std``
    (sample standard deviation, ddof=1) of every headline metric over the seeds."""
    if len(set(seeds)) != len(seeds) or not seeds:
        raise HsframeError(f"--seeds needs distinct seeds, got {seeds}")
    spec = plugins.model(cfg.model)
    # Load and check once, before the parent run exists: bad input must leave no run behind.
    task = load_task(cfg, plugins, spec)
    reporter.notices(task.notices())
    prepare(cfg.model_copy(update={"seed": seeds[0]}), task, plugins)
    recorder.check()
    name = cfg.run_name or f"{spec.name}-{task.name}-seeds{','.join(map(str, seeds))}"
    tags = {"hsframe_version": __version__, "model": spec.name, "dataset": task.name, PARENT_TAG: "parent"}
    with recorder.run(name, tags) as parent_id:
        recorder.log_params({"model": spec.name, "model_package": spec.package, "model_version": spec.version,
                             "dataset": task.name, "seeds": ",".join(map(str, seeds)), "n_seeds": len(seeds),
                             **{f"cfg.{k}": v for k, v in flatten(cfg.model_dump(exclude={"seed"})).items()}})
        runs = []
        for seed in seeds:
            reporter.seed(seed)
            runs.append(run_one(cfg.model_copy(update={"seed": seed, "run_name": None}), plugins, recorder, reporter, task))
        keys = [m.key for m in headline(plugins.metrics)]
        values = {k: np.array([r.metrics[k] for r in runs]) for k in keys}
        mean = {k: float(v.mean()) for k, v in values.items()}
        std = {k: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for k, v in values.items()}
        recorder.log_metrics({**{f"{k}_mean": x for k, x in mean.items()}, **{f"{k}_std": x for k, x in std.items()}})
    return SeedsSummary(parent_id, runs, mean, std)
