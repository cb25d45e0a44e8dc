"""Sweeps on Optuna: each trial is one ordinary run (a child of the sweep's parent run), selected on validation only.

Optuna owns the study (sampler, pruner, trials) in an RDB storage that any number of processes
and machines share; MLflow holds the runs. The study records its parent run's id, so every
process that joins the study, now or after an interruption, nests its trials under that run.

The objective of a trial is the best per-epoch value of a validation metric (``val_oa``); the
test split is evaluated and recorded by every finished trial, as by any run, and never read here
for selection. The parent records the best trial's config (``best_config.yaml``, runnable with
``hsframe run --config``) and that trial's test metrics.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from hsframe.config import RunConfig, build_config, canonical_key, fingerprint, parse_set
from hsframe.engine.reporter import Reporter
from hsframe.errors import HsframeError
from hsframe.plugins import Plugins
from hsframe.recording import BEST_TRIAL_TAG, SWEEP_TAG, TRIAL_TAG, Recorder, RunStopped
from hsframe.stores import display_uri
from hsframe.study.space import SearchSpace
from hsframe.study.storage import open_storage

# Per-epoch records a trial may select on, and which way is better. Test metrics are not among them.
OBJECTIVES = {"val_oa": "maximize", "train_loss": "minimize"}
PARENT_ATTR = "mlflow_parent_run_id"
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "none")
# After an interruption, how long a worker process may take to end on its own before it is sent SIGTERM.
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class SweepRequest:
    """What a sweep trains: the base config's inputs (as for ``hsframe run``), the space, the budget.

    Plain data: it is sent to worker processes, which rebuild each trial's config from it.
    """

    space: SearchSpace
    trials: int
    model: str | None = None
    preset: str | None = None
    config_file: str | None = None
    sets: tuple[str, ...] = ()
    metric: str = "val_oa"
    study: str | None = None
    storage: str | None = None
    workers: int = 1
    sampler: str = "tpe"
    pruner: str = "median"

    def trial_config(self, plugins: Plugins, values: dict[str, Any]) -> RunConfig:
        return build_config(plugins, self.model, self.preset, self.config_file, list(self.sets), values)


@dataclass
class TrialRecord:
    number: int
    state: str                       # COMPLETE, PRUNED, FAIL, RUNNING
    value: float | None
    params: dict[str, Any]
    run_id: str | None
    note: str = ""


@dataclass
class SweepSummary:
    """A sweep as it stands in the storage after this command: every trial, the best one, this command's time."""

    study: str
    storage: str                     # password redacted
    parent_run_id: str
    metric: str
    direction: str
    trials: list[TrialRecord]
    best: TrialRecord | None
    best_config: dict[str, Any] | None
    best_test_metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    joined: bool = False             # this command joined a study whose parent run another command holds

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.trials)

    def to_json(self) -> str:
        from dataclasses import asdict

        return json.dumps(asdict(self), indent=2, default=str)


def check_request(request: SweepRequest, plugins: Plugins) -> RunConfig:
    """Every check that needs no storage and no training; returns the base config. Bad input leaves nothing behind."""
    if request.trials < 1:
        raise HsframeError(f"--trials must be at least 1, got {request.trials}")
    if request.workers < 1:
        raise HsframeError(f"--workers must be at least 1, got {request.workers}")
    if request.metric not in OBJECTIVES:
        hint = " (a test metric: selecting on it would tune on the test split)" if request.metric.startswith("test_") else ""
        raise HsframeError(f"--metric {request.metric}{hint} is not a validation metric; choose one of {', '.join(OBJECTIVES)}")
    if request.sampler not in SAMPLERS:
        raise HsframeError(f"--sampler {request.sampler}: choose one of {', '.join(SAMPLERS)}")
    if request.pruner not in PRUNERS:
        raise HsframeError(f"--pruner {request.pruner}: choose one of {', '.join(PRUNERS)}")
    base = request.trial_config(plugins, {})
    spec = plugins.model(base.model)
    if request.metric not in spec.fitting().records:
        raise HsframeError(f"--metric {request.metric}: model '{spec.name}' records no {request.metric} per epoch "
                           f"(it records {', '.join(spec.fitting().records)}); choose one of those")
    fixed = parse_set(list(request.sets))
    both = sorted(set(request.space.keys) & {canonical_key(k) for k in fixed})
    if both:
        raise HsframeError(f"{', '.join(both)} is both fixed with --set and searched in the space; drop one of them")
    # Each bound and each choice on its own must make a valid config (types, ranges): caught now, not at trial 5.
    for dim in request.space.dimensions:
        for value in dim.extremes():
            try:
                request.trial_config(plugins, {dim.key: value})
            except HsframeError as exc:
                raise HsframeError(f"search space key '{dim.key}': the value {value!r} is not valid: {exc}") from None
    return base


def default_study_name(request: SweepRequest, base: RunConfig) -> str:
    """The same command gives the same name, so running it again continues the study."""
    text = json.dumps({"base": fingerprint(base), "seed": base.seed, "space": request.space.to_dict(), "metric": request.metric},
                      sort_keys=True, default=str)
    return f"{base.model}-{base.data.dataset}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def default_storage(tracking_uri: str) -> str:
    """Beside a SQLite tracking store, a SQLite study file; a server store needs its own database named."""
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri[len("sqlite:///"):])
        return f"sqlite:///{db.parent / 'optuna.db'}" if str(db.parent) not in ("", ".") else "sqlite:///optuna.db"
    raise HsframeError(f"the tracking store {display_uri(tracking_uri)} is a server: name the study storage with --storage, "
                       "e.g. --storage postgresql://USER:PASSWORD@HOST:5432/optuna (a database apart from MLflow's)")


def _sampler(name: str, seed: int | None) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed) if name == "random" else optuna.samplers.TPESampler(seed=seed)


def _pruner(name: str) -> Any:
    import optuna

    # Never at epoch 1: the first epoch of a network says little about where it ends up. Steps are
    # 1-based epochs and the pruner skips steps below n_warmup_steps, hence 2.
    return optuna.pruners.NopPruner() if name == "none" else optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)


def sampler_seed(seed: int | None, trials_so_far: int, worker: int) -> int | None:
    """The seed itself for worker 0 of a new study (a one-worker sweep is reproducible); else one drawn
    from (seed, trials so far, worker), so that a continued study or a second worker does not replay
    the values the study already tried."""
    if seed is None or (trials_so_far == 0 and worker == 0):
        return seed
    return int(hashlib.sha256(f"{seed}/{trials_so_far}/{worker}".encode()).hexdigest()[:8], 16)


def open_study(request: SweepRequest, study_name: str, storage_url: str, seed: int | None, worker: int = 0) -> Any:
    import optuna

    storage = open_storage(storage_url)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # hsframe prints one line per trial itself
    try:
        study = optuna.create_study(study_name=study_name, storage=storage, direction=OBJECTIVES[request.metric],
                                    sampler=_sampler(request.sampler, seed), pruner=_pruner(request.pruner), load_if_exists=True)
    except ValueError as exc:  # e.g. the study exists with another direction
        raise HsframeError(f"study '{study_name}' in {display_uri(storage_url)}: {exc}; choose another --study") from None
    reseeded = sampler_seed(seed, len(study.get_trials(deepcopy=False)), worker)
    if reseeded != seed:
        study.sampler = _sampler(request.sampler, reseeded)
    return study


def _done(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _running(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


class Objective:
    """One trial = one run: the space's values over the base config, val metric reported per epoch to the pruner."""

    def __init__(self, request: SweepRequest, plugins: Plugins, recorder: Recorder, reporter: Reporter) -> None:
        self.request, self.plugins, self.recorder, self.reporter = request, plugins, recorder, reporter

    def __call__(self, trial: Any) -> float:
        import optuna

        from hsframe.engine.run import run_one
        from hsframe.metrics import headline

        values = self.request.space.suggest(trial)
        cfg = self.request.trial_config(self.plugins, values)
        cfg = cfg.model_copy(update={"run_name": f"{cfg.model}-trial{trial.number}-s{cfg.seed}"})
        trial.set_user_attr("config", json.loads(json.dumps(cfg.model_dump(), default=str)))
        metric, best = self.request.metric, []
        sign = 1.0 if OBJECTIVES[metric] == "maximize" else -1.0

        def on_epoch(epoch: int, record: dict[str, float]) -> None:
            value = float(record[metric])
            best.append(value)
            trial.report(value, epoch)
            # Never at the last epoch: the training is paid for, pruning would only throw its result away.
            if epoch < cfg.train.epochs and trial.should_prune():
                raise RunStopped(f"pruned at epoch {epoch} ({metric} {value:.4f}, {self.request.pruner} pruner)")

        tags = {SWEEP_TAG: "trial", TRIAL_TAG: str(trial.number)}
        try:
            summary = run_one(cfg, self.plugins, self.recorder, self.reporter, on_epoch=on_epoch, tags=tags)
        except RunStopped as exc:
            trial.set_user_attr("note", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        except HsframeError as exc:  # a combination of values the data cannot take: this trial fails, the sweep goes on
            trial.set_user_attr("note", str(exc)[:500])
            raise
        trial.set_user_attr("run_id", summary.run_id)
        trial.set_user_attr("test_metrics", {m.key: summary.metrics[m.key] for m in headline(self.plugins.metrics)})
        return max(best, key=lambda v: sign * v)


def _report_trial(reporter: Reporter, metric: str, worker: int):
    def callback(study: Any, trial: Any) -> None:
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        note = trial.user_attrs.get("note", "")
        who = f" [worker {worker}]" if worker else ""
        reporter.console.print(f"trial {trial.number} {trial.state.name.lower()}{who}: {metric} {value}  {params}"
                               + (f"  ({note})" if note else ""), highlight=False, soft_wrap=True, markup=False)
    return callback


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _optimize(study: Any, objective: Objective, n_trials: int, reporter: Reporter, worker: int) -> None:
    if n_trials > 0:
        study.optimize(objective, n_trials=n_trials, catch=(HsframeError,), gc_after_trial=True,
                       callbacks=[_report_trial(reporter, objective.request.metric, worker)])


@dataclass(frozen=True)
class _WorkerJob:
    """What a spawned worker process needs: plain data only (it is pickled to the child)."""

    request: SweepRequest
    study_name: str
    storage_url: str
    tracking_uri: str
    experiment: str | None
    parent_run_id: str
    n_trials: int
    seed: int | None
    worker: int


def _worker_main(job: _WorkerJob) -> None:
    """A local worker process: the same objective, its trials children of the parent run by id."""
    from hsframe.plugins import get_plugins
    from hsframe.recording import MLflowRecorder
    from hsframe.signals import signals_as_interrupts
    from hsframe.tracking import load_settings

    plugins = get_plugins()
    recorder = MLflowRecorder(load_settings(uri=job.tracking_uri), job.experiment, parent_id=job.parent_run_id)
    reporter = Reporter(Console(quiet=True))
    study = open_study(job.request, job.study_name, job.storage_url, job.seed, job.worker)
    try:
        with signals_as_interrupts():
            _optimize(study, Objective(job.request, plugins, recorder, reporter), job.n_trials,
                      Reporter(Console()), job.worker)
    except KeyboardInterrupt:
        pass  # the trial was marked FAIL by Optuna and its run KILLED; the parent process reports


def _shares(total: int, workers: int) -> list[int]:
    """``total`` trials over ``workers`` as evenly as possible (the first get one more)."""
    return [total // workers + (i < total % workers) for i in range(workers)]


def run_sweep(request: SweepRequest, base: RunConfig, plugins: Plugins, recorder: Recorder, reporter: Reporter,
              tracking_uri: str) -> SweepSummary:
    """Run (or continue, or join) the study until it holds ``request.trials`` finished trials (complete or pruned).

    Worker processes need a store other processes can reach: ``request.workers > 1`` requires an
    MLflow recorder (``tracking_uri``). A Ctrl-C stops every worker; the parent run ends KILLED, and
    the same call again continues the study. ``base``: the request's config, from :func:`check_request`.
    """
    started = time.perf_counter()
    experiment = base.experiment
    if request.workers > 1 and not recorder.shared:
        raise HsframeError("--workers above 1 needs an MLflow store that worker processes share, not an in-memory recorder")
    recorder.check()
    storage_url = request.storage or default_storage(tracking_uri)
    name = request.study or default_study_name(request, base)
    study = open_study(request, name, storage_url, base.seed)

    import optuna
    from optuna.storages import fail_stale_trials

    with warnings.catch_warnings():  # "experimental" since Optuna 2.9; nothing the user can act on
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        fail_stale_trials(study)  # trials of a worker killed outright (no heartbeat for GRACE_SECONDS) are not running
    parent_id = study.user_attrs.get(PARENT_ATTR)
    stored = recorder.stored_run(parent_id) if parent_id else None
    status = stored.status if stored else None
    remaining = max(0, request.trials - _done(study) - _running(study))
    if status == "RUNNING":
        # Another command holds the parent run (another machine, or a second terminal): work on the same study.
        reporter.console.print(f"joining study '{name}' ({display_uri(storage_url)}): {remaining} trial(s) left; "
                               f"trials go under parent run {parent_id}", highlight=False, soft_wrap=True)
        _run_workers(request, study, name, storage_url, tracking_uri, experiment, parent_id, remaining, base.seed,
                     plugins, recorder.children_of(parent_id), reporter)
        return _summary(study, request, storage_url, parent_id, time.perf_counter() - started, joined=True)

    tags = {SWEEP_TAG: "parent", "model": base.model, "dataset": base.data.dataset}
    reopen = {"resume_id": parent_id} if status is not None else {}
    with recorder.run(f"sweep-{name}", tags, **reopen) as parent_id:
        study.set_user_attr(PARENT_ATTR, parent_id)
        if not reopen:
            _record_request(recorder, request, base, name, storage_url)
        reporter.console.print(f"study '{name}' in {display_uri(storage_url)}: {_done(study)} of {request.trials} trial(s) done, "
                               f"{remaining} to run with {min(request.workers, max(remaining, 1))} worker(s); "
                               f"parent run {parent_id}", highlight=False, soft_wrap=True)
        _run_workers(request, study, name, storage_url, tracking_uri, experiment, parent_id, remaining, base.seed,
                     plugins, recorder, reporter)
        summary = _summary(study, request, storage_url, parent_id, time.perf_counter() - started)
        _record_summary(recorder, summary)
    return summary


def _run_workers(request: SweepRequest, study: Any, name: str, storage_url: str, tracking_uri: str, experiment: str | None,
                 parent_id: str, remaining: int, seed: int | None, plugins: Plugins, recorder: Recorder, reporter: Reporter) -> None:
    """This process is worker 0; workers 1..K-1 are spawned processes sharing the storage."""
    import multiprocessing

    shares = [s for s in _shares(remaining, request.workers) if s > 0]
    if not shares:
        return
    context = multiprocessing.get_context("spawn")  # no forked torch / MLflow state in the children
    children = [context.Process(target=_worker_main, name=f"hsframe-sweep-worker-{i}",
                                args=(_WorkerJob(request, name, storage_url, tracking_uri, experiment, parent_id, share,
                                                 seed, i),))
                for i, share in enumerate(shares[1:], 1)]
    for child in children:
        child.start()
    quiet = Reporter(Console(quiet=True))
    try:
        _optimize(study, Objective(request, plugins, recorder, quiet), shares[0], reporter, 0)
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group, but `kill PID` (SIGTERM) only this process: pass it on to
        # workers still training after a moment, so that they too end their trials KILLED instead of going on.
        for child in children:
            child.join(timeout=STOP_GRACE_SECONDS)
            if child.is_alive():
                os.kill(child.pid, signal.SIGTERM)
        raise
    finally:
        for child in children:
            child.join()
    failed = [c.name for c in children if c.exitcode not in (0, None)]
    if failed:
        raise HsframeError(f"sweep worker(s) {', '.join(failed)} exited with an error (see above); "
                           "run the same command again to continue the study")


def _summary(study: Any, request: SweepRequest, storage_url: str, parent_id: str, seconds: float,
             joined: bool = False) -> SweepSummary:
    from optuna.trial import TrialState

    records = [TrialRecord(t.number, t.state.name, t.value, dict(t.params), t.user_attrs.get("run_id"), t.user_attrs.get("note", ""))
               for t in study.get_trials(deepcopy=False)]
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    best = best_config = None
    test: dict[str, float] = {}
    if complete:
        winner = study.best_trial
        best = next(r for r in records if r.number == winner.number)
        best_config = winner.user_attrs.get("config")
        test = dict(winner.user_attrs.get("test_metrics", {}))
    return SweepSummary(study.study_name, display_uri(storage_url), parent_id, request.metric, OBJECTIVES[request.metric],
                        records, best, best_config, test, seconds, joined)


def _record_request(recorder: Recorder, request: SweepRequest, base: RunConfig, name: str, storage_url: str) -> None:
    recorder.log_params({"model": base.model, "dataset": base.data.dataset, "study": name, "storage": display_uri(storage_url),
                         "metric": request.metric, "direction": OBJECTIVES[request.metric], "n_trials": request.trials,
                         "sampler": request.sampler, "pruner": request.pruner, "space_keys": ",".join(request.space.keys)})
    recorder.log_dict(request.space.to_dict(), "sweep/space.yaml")
    recorder.log_dict(base.model_dump(), "sweep/base_config.yaml")


def _record_summary(recorder: Recorder, summary: SweepSummary) -> None:
    recorder.log_metrics({"n_complete": summary.count("COMPLETE"), "n_pruned": summary.count("PRUNED"),
                          "n_failed": summary.count("FAIL"), "sweep_seconds": summary.seconds})
    recorder.log_table({"trial": [t.number for t in summary.trials], "state": [t.state for t in summary.trials],
                        summary.metric: [t.value for t in summary.trials],
                        "params": [json.dumps(t.params, default=str) for t in summary.trials],
                        "run_id": [t.run_id or "" for t in summary.trials]}, "sweep/trials.json")
    if summary.best is None:
        return
    recorder.set_tags({BEST_TRIAL_TAG: summary.best.run_id or ""})
    recorder.log_metrics({f"best_{summary.metric}": summary.best.value, "best_trial": summary.best.number,
                          **summary.best_test_metrics})
    recorder.log_text(best_config_text(summary), "best_config.yaml")


def best_config_text(summary: SweepSummary) -> str:
    """The best trial's resolved config as YAML, with where it came from; ``hsframe run --config`` runs it."""
    if summary.best is None:
        raise ValueError("the study has no complete trial, hence no best config")
    config = {k: v for k, v in (summary.best_config or {}).items() if k != "run_name"}
    return (f"# best trial {summary.best.number} of study {summary.study} ({summary.metric} {summary.best.value:.4f});"
            f"\n# run it again with: hsframe run --config best_config.yaml\n" + yaml.safe_dump(config, sort_keys=False))


def trial_counts(summary: SweepSummary) -> str:
    parts = [f"{summary.count(s)} {s.lower()}" for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING") if summary.count(s)]
    return ", ".join(parts) or "no trials"


def sweep(
    space: str | Path | dict[str, Any] | SearchSpace,
    *,
    trials: int,
    model: str | None = None,
    preset: str | None = None,
    config: str | Path | None = None,
    sets: tuple[str, ...] | list[str] = (),
    metric: str = "val_oa",
    study: str | None = None,
    storage: str | None = None,
    workers: int = 1,
    sampler: str = "tpe",
    pruner: str = "median",
    tracking_uri: str | None = None,
    recorder: Recorder | None = None,
    plugins: Plugins | None = None,
    quiet: bool = False,
    console: Any = None,
) -> SweepSummary:
    """The Python face of ``hsframe sweep``: ``space`` is a YAML path, a mapping or a :class:`SearchSpace`.

    Records go to ``recorder`` when given (a ``MemoryRecorder`` runs every trial in this process),
    else to the MLflow store of ``tracking_uri`` / ``mlflow.yml``.
    """
    from hsframe import plugins as plugins_module
    from hsframe.study.space import load_space, parse_space
    from hsframe.tracking import load_settings

    plugins = plugins if plugins is not None else plugins_module.get_plugins()
    if not isinstance(space, SearchSpace):
        space = parse_space(space, splits=plugins.splits) if isinstance(space, dict) else load_space(space, plugins.splits)
    request = SweepRequest(space, trials, model, preset, None if config is None else str(config), tuple(sets), metric,
                           study, storage, workers, sampler, pruner)
    settings = load_settings(uri=tracking_uri)
    base = check_request(request, plugins)  # before any store or study is touched
    if recorder is None:
        from hsframe.recording import MLflowRecorder

        recorder = MLflowRecorder(settings, base.experiment)
    reporter = Reporter(console or Console(quiet=quiet))
    return run_sweep(request, base, plugins, recorder, reporter, settings.tracking_uri)
