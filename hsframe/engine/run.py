"""One run, the same for every kind of data:

config -> task (data as samples) -> split + leakage -> features fitted on training samples ->
model -> training -> inference -> metrics -> recorder.

Everything that can be checked without training is checked before the recorder opens a run.
"""
from __future__ import annotations

import contextlib
import time
from typing import Any, Callable

import numpy as np

from hsframe import __version__
from hsframe.config import RunConfig, fingerprint, flatten
from hsframe.engine.fitting import Fitting
from hsframe.engine.prepare import Prepared, load_task, prepare
from hsframe.engine.reporter import Reporter
from hsframe.engine.resume import Resume
from hsframe.engine.summary import RunSummary
from hsframe.errors import HsframeError
from hsframe.plugins import Plugins
from hsframe.recording import FAILED, FINGERPRINT_TAG, FINISHED, HEARTBEAT_TAG, KILLED, Recorder, RunStopped
from hsframe.registry import ModelSpec
from hsframe.signals import signals_ignored
from hsframe.tasks import Task
from hsframe.tracking import git_commit

EpochHook = Callable[[int, dict[str, float]], None]
# The epoch a resumed run continued after (its last resume's).
RESUMED_TAG = "hsframe.resumed_after_epoch"


def run_one(cfg: RunConfig, plugins: Plugins, recorder: Recorder, reporter: Reporter, task: Task | None = None,
            on_epoch: EpochHook | None = None, tags: dict[str, str] | None = None, resume: Resume | None = None) -> RunSummary:
    """One recorded run. ``task``: already loaded and checked by the caller (repeated seeds).

    After every epoch the training state is saved to ``<train.checkpoint_dir>/<run_id>/last.pt``
    (deleted when the run ends FINISHED or by :class:`RunStopped`), then the run's ``HEARTBEAT_TAG``
    is set and the ``epoch_finished`` plugin hook called. ``resume``: reopen that run and continue
    from its checkpoint (:mod:`hsframe.engine.resume`); its inputs were logged when it started and
    are not logged again.

    ``on_epoch(epoch, {"train_loss", "val_oa"})`` is called after each epoch is recorded; raising
    :class:`~hsframe.recording.RunStopped` there ends the run KILLED with that reason (a pruned trial).
    ``tags``: added to the run's own (a sweep marks its trials).
    """
    started = time.perf_counter()
    spec = plugins.model(cfg.model)
    if task is None:
        task = load_task(cfg, plugins, spec)
        reporter.notices(task.notices())
    prep = prepare(cfg, task, plugins)
    recorder.check()

    # Heavy imports only now: `hsframe --help` and `hsframe plugins` never pay for torch.
    from hsframe.device import check_compiler, seed_everything, select_device
    from hsframe.distributed import World

    world = World.from_env()
    if world.parallel and not spec.fitting().parallel:
        raise HsframeError(f"model '{spec.name}' is fitted in one process ({spec.package}); run it without --nproc-per-node / torchrun")
    device = world.device(select_device(cfg.train.device))
    if cfg.train.compile:
        check_compiler(device)  # now: a platform that cannot compile must not fail after the run opened
    world.join(device)
    generator = seed_everything(cfg.seed)  # the same seed on every rank: the same split, weights and epoch orders
    fitting = spec.fitting()(spec, task.input_spec, cfg.model_options)  # built and checked before the run opens

    tags = {"hsframe_version": __version__, "device": str(device), "model": spec.name, "dataset": task.name,
            FINGERPRINT_TAG: fingerprint(cfg), **(tags or {})}
    commit = git_commit()
    if commit:
        tags["git_commit"] = commit
    if world.parallel:
        tags["world_size"] = str(world.size)
    if prep.leakage["features_saw_test"]:
        tags["leakage"] = "features (PCA, scaling) fitted on the whole image, test pixels included"
    split = prep.split.samples
    reporter.notices(list(split.notes))  # e.g. the classes the split left out
    reporter.started(spec, task, device, split.counts(), prep.leakage)
    if resume is not None:
        tags[RESUMED_TAG] = str(resume.state.epoch)
        reporter.resuming(resume.run_id, resume.state.epoch, cfg.train.epochs)
    name = cfg.run_name or f"{spec.name}-{task.name}-s{cfg.seed}"
    with contextlib.ExitStack() as ending, recorder.run(name, tags, resume_id=resume.run_id if resume else None) as run_id:
        status, metrics = FAILED, {}
        try:
            recorder.set_tags(heartbeat())
            if resume is None:
                _record_inputs(recorder, cfg, spec, task, prep)
            if world.main:  # the hooks see the one recorded run, not one per rank
                plugins.manager.hook.run_started(run_id=run_id, config=cfg.model_dump())
            outcome = _train_and_evaluate(cfg, spec, task, prep, fitting, device, generator, plugins, recorder, reporter,
                                          on_epoch, run_id, resume, world)
            status, metrics = FINISHED, outcome["metrics"]
        except KeyboardInterrupt as exc:
            if world.parallel:  # torchrun stopped this rank: another failed (or the launcher was stopped); no resume
                raise HsframeError(f"rank {world.rank} of {world.size} was stopped by torchrun ({exc or 'signal'}): another rank "
                                   "failed or the launcher was stopped; a data-parallel run cannot be resumed, so it is FAILED") from None
            status = KILLED
            raise
        except RunStopped:  # stopped on purpose (a pruned trial): nothing to resume
            status = KILLED
            _drop_checkpoint(cfg, run_id)
            raise
        finally:
            if world.parallel:
                # When a rank dies, the others' collectives fail at once and torchrun's SIGTERM follows within
                # 0.1 s: it must not cut short the ending of the run (which would stay RUNNING).
                ending.enter_context(signals_ignored())
            if world.main:
                plugins.manager.hook.run_finished(run_id=run_id, config=cfg.model_dump(), metrics=metrics, status=status)
    _drop_checkpoint(cfg, run_id)  # FINISHED: nothing left to resume (a crash or Ctrl-C keeps it)
    return RunSummary(
        run_id=run_id, model=spec.name, package=spec.package, version=spec.version, dataset=task.name,
        config=cfg.model_dump(), metrics=metrics, per_class=outcome["per_class"], counts=split.counts(),
        device=str(device), seconds=time.perf_counter() - started, tracking_uri=recorder.location,
        ui_command=recorder.ui_command(), unit=task.grid.unit, best_epoch=outcome["best_epoch"],
    )


def _record_inputs(recorder: Recorder, cfg: RunConfig, spec: ModelSpec, task: Task, prep: Prepared) -> None:
    split = prep.split.samples
    params = {f"cfg.{k}": v for k, v in flatten(cfg.model_dump()).items()}
    params.update({
        "model": spec.name, "model_package": spec.package, "model_version": spec.version,
        "dataset": task.name, "split": split.description,
        "n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test), "seed": cfg.seed,
        "optimizer": cfg.train.optimizer, "lr": cfg.train.lr, "epochs": cfg.train.epochs,
        "batch_size": cfg.train.batch_size, "input_shape": "x".join(map(str, task.input_spec.as_tuple())),
        **task.params(),
    })
    recorder.log_params(params)
    task.record_data(recorder)
    recorder.log_metrics({f"leakage_{k}": float(v) for k, v in prep.leakage.items() if isinstance(v, (int, float))})
    recorder.log_dict(prep.leakage, "metrics/leakage_report.json")
    recorder.log_dict(cfg.model_dump(), "config/resolved_config.yaml")


def _drop_checkpoint(cfg: RunConfig, run_id: str) -> None:
    if cfg.train.checkpoint_dir is not None:
        from hsframe.checkpoint import checkpoint_path, remove_checkpoint

        with contextlib.suppress(OSError):  # a leftover file must not fail a run that ended well
            remove_checkpoint(checkpoint_path(cfg.train.checkpoint_dir, run_id))


def heartbeat() -> dict[str, str]:
    """The tag that says the run's process was alive now (whole seconds since the epoch, UTC)."""
    return {HEARTBEAT_TAG: str(int(time.time()))}


def _train_and_evaluate(cfg: RunConfig, spec: ModelSpec, task: Task, prep: Prepared, fitting: Fitting, device: Any, generator: Any,
                        plugins: Plugins, recorder: Recorder, reporter: Reporter, on_epoch: EpochHook | None,
                        run_id: str, resume: Resume | None, world: Any) -> dict[str, Any]:
    from hsframe.checkpoint import checkpoint_path, save_checkpoint
    from hsframe.model_artifact import ModelCard

    split = prep.split.samples
    # Refitted on a resume too (deterministic for the seed): the samples are not in the checkpoint.
    samples = task.fit_samples(split.train, device, recorder)
    if resume is None:
        if samples.metrics:
            recorder.log_metrics(samples.metrics)
        recorder.log_params(fitting.params())
    else:  # epochs the checkpoint has but the store missed (killed between saving and logging)
        logged = max(resume.epochs_logged, default=0)
        for epoch, record in enumerate(resume.state.history, 1):
            if epoch > logged:
                recorder.log_metrics(record, step=epoch)

    def record_epoch(epoch: int, record: dict[str, float]) -> None:
        recorder.log_metrics(record, step=epoch)
        recorder.set_tags(heartbeat())
        if world.main:
            plugins.manager.hook.epoch_finished(run_id=run_id, epoch=epoch, metrics=dict(record))
        if on_epoch is not None:
            on_epoch(epoch, record)

    def save(state: Any) -> None:
        save_checkpoint(checkpoint_path(cfg.train.checkpoint_dir, run_id), state, run_id)

    checkpointing = cfg.train.checkpoint_dir is not None and world.main  # one writer: rank 0
    result = fitting.fit(samples.source, task.targets, split.train, split.val, cfg, device, generator, reporter, record_epoch,
                         start=resume.state if resume else None, on_checkpoint=save if checkpointing else None, world=world)
    if not world.main:  # test metrics, map and model: once, on rank 0
        return {"metrics": {}, "per_class": [], "best_epoch": result.best_epoch}
    fitting.record_fit(recorder)
    recorder.log_metrics({"best_val_oa": result.best_val_oa, "best_epoch": result.best_epoch, "train_seconds": result.seconds,
                          **({"stopped_epoch": result.stopped_epoch} if result.stopped_epoch is not None else {})})

    t0 = time.perf_counter()
    index = task.inference_index(prep.split)
    model = fitting.predictor
    pred, how = samples.infer(model, index, cfg.eval.batch_size, device, cfg.train.amp)
    recorder.set_tags({"inference_method": how})
    recorder.log_metrics({"inference_seconds": time.perf_counter() - t0})
    by_sample = task.by_sample(index, pred)
    evaluation = _record_evaluation(recorder, task.targets[split.test], by_sample[split.test], task, plugins)
    metrics = dict(evaluation.metrics)
    extra = task.record_outputs(recorder, prep.split, index, pred, f"{spec.name} on {task.name}", metrics)
    if extra:
        recorder.log_metrics(extra)
        metrics.update(extra)
    # Weights and how to rebuild them, no pickle: `hsframe.load_model` / `hsframe predict` read them back.
    recorder.log_model(fitting, ModelCard.of(spec, task.input_spec, cfg.model_options, task.data_kind))
    return {"metrics": metrics, "per_class": evaluation.per_class, "best_epoch": result.best_epoch}


def _record_evaluation(recorder: Recorder, y_true: np.ndarray, y_pred: np.ndarray, task: Task, plugins: Plugins):
    """Test metrics, per-class table (the task's class scores) and confusion matrix (0-based classes in)."""
    import matplotlib.pyplot as plt

    from hsframe.evaluation import evaluate_all, per_class_csv
    from hsframe.figures import confusion_figure

    class_names = task.class_names
    ev = evaluate_all(y_true, y_pred, class_names, plugins.metrics, task.class_scores)
    recorder.log_metrics(ev.metrics)
    rows = ev.per_class
    recorder.log_table({key: [row[key] for row in rows] for key in rows[0]}, "metrics/per_class.json")
    recorder.log_text(per_class_csv(rows), "metrics/per_class.csv")
    recorder.log_dict({"labels": class_names, "matrix": ev.confusion.tolist()}, "metrics/confusion_matrix.json")
    fig = confusion_figure(ev.confusion, class_names, ev.metrics["test_oa"], ev.metrics["test_kappa"])
    recorder.log_figure(fig, "figures/confusion_matrix.png")
    plt.close(fig)
    return ev
