"""One run, the same for every kind of data:

config -> task (data as samples) -> split + leakage -> features fitted on training samples ->
model -> training -> inference -> metrics -> recorder.

Everything that can be checked without training is checked before the recorder opens a run.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from hsframe import __version__
from hsframe.config import RunConfig, fingerprint, flatten
from hsframe.engine.model_check import build_checked_model
from hsframe.engine.prepare import Prepared, load_task, prepare
from hsframe.engine.reporter import Reporter
from hsframe.engine.summary import RunSummary
from hsframe.plugins import Plugins
from hsframe.recording import FAILED, FINGERPRINT_TAG, FINISHED, KILLED, Recorder, RunStopped
from hsframe.registry import ModelSpec
from hsframe.tasks import Task
from hsframe.tracking import git_commit

EpochHook = Callable[[int, dict[str, float]], None]


def run_one(cfg: RunConfig, plugins: Plugins, recorder: Recorder, reporter: Reporter, task: Task | None = None,
            on_epoch: EpochHook | None = None) -> RunSummary:
    """One recorded run. ``task``: already loaded and checked by the caller (repeated seeds).

    ``on_epoch(epoch, {"train_loss", "val_oa"})`` is called after each epoch is recorded; raising
    :class:`~hsframe.recording.RunStopped` there ends the run KILLED with that reason (a pruned trial).
    """
    started = time.perf_counter()
    spec = plugins.model(cfg.model)
    task = load_task(cfg, plugins, spec) if task is None else task
    prep = prepare(cfg, task, plugins)
    recorder.check()

    # Heavy imports only now: `hsframe --help` and `hsframe plugins` never pay for torch.
    from hsframe.device import seed_everything, select_device

    device = select_device(cfg.train.device)
    generator = seed_everything(cfg.seed)
    model = build_checked_model(spec, task.input_spec, cfg.model_options)

    tags = {"hsframe_version": __version__, "device": str(device), "model": spec.name, "dataset": task.name,
            FINGERPRINT_TAG: fingerprint(cfg)}
    commit = git_commit()
    if commit:
        tags["git_commit"] = commit
    if prep.leakage["features_saw_test"]:
        tags["leakage"] = "features (PCA, scaling) fitted on the whole image, test pixels included"
    split = prep.split.samples
    reporter.started(spec, task, device, split.counts(), prep.leakage)
    with recorder.run(cfg.run_name or f"{spec.name}-{task.name}-s{cfg.seed}", tags) as run_id:
        status, metrics = FAILED, {}
        try:
            _record_inputs(recorder, cfg, spec, task, prep)
            plugins.manager.hook.run_started(run_id=run_id, config=cfg.model_dump())
            outcome = _train_and_evaluate(cfg, spec, task, prep, model, device, generator, plugins, recorder, reporter, on_epoch)
            status, metrics = FINISHED, outcome["metrics"]
        except (KeyboardInterrupt, RunStopped):
            status = KILLED
            raise
        finally:
            plugins.manager.hook.run_finished(run_id=run_id, config=cfg.model_dump(), metrics=metrics, status=status)
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
    recorder.log_metrics({f"leakage_{k}": float(v) for k, v in prep.leakage.items() if isinstance(v, (int, float))})
    recorder.log_dict(prep.leakage, "metrics/leakage_report.json")
    recorder.log_dict(cfg.model_dump(), "config/resolved_config.yaml")


def _train_and_evaluate(cfg: RunConfig, spec: ModelSpec, task: Task, prep: Prepared, model: Any, device: Any, generator: Any,
                        plugins: Plugins, recorder: Recorder, reporter: Reporter, on_epoch: EpochHook | None = None) -> dict[str, Any]:
    import torch

    from hsframe.training import train

    split = prep.split.samples
    samples = task.fit_samples(split.train, device, recorder)
    if samples.metrics:
        recorder.log_metrics(samples.metrics)
    recorder.log_params({"model_parameters": sum(p.numel() for p in model.parameters())})
    progress = reporter.progress(cfg.train.epochs, -(-len(split.train) // cfg.train.batch_size))

    def record_epoch(epoch: int, record: dict[str, float]) -> None:
        recorder.log_metrics(record, step=epoch)
        if on_epoch is not None:
            on_epoch(epoch, record)

    result = train(model, samples.source, task.targets, split.train, split.val, cfg.train, device, generator, progress,
                   record_epoch, eval_batch_size=cfg.eval.batch_size)
    recorder.log_metrics({"best_val_oa": result.best_val_oa, "best_epoch": result.best_epoch, "train_seconds": result.seconds})

    t0 = time.perf_counter()
    index = task.inference_index(prep.split)
    pred, how = samples.infer(model, index, cfg.eval.batch_size, device, cfg.train.amp)
    recorder.set_tags({"inference_method": how})
    recorder.log_metrics({"inference_seconds": time.perf_counter() - t0})
    by_sample = task.by_sample(index, pred)
    evaluation = _record_evaluation(recorder, task.targets[split.test], by_sample[split.test], task.class_names, plugins)
    metrics = dict(evaluation.metrics)
    extra = task.record_outputs(recorder, prep.split, index, pred, f"{spec.name} on {task.name}", metrics)
    if extra:
        recorder.log_metrics(extra)
        metrics.update(extra)
    # Two samples: torch.export would freeze a batch dimension of 1 into the logged model.
    example = samples.source.samples(split.test[:2]).cpu().numpy()
    recorder.log_model(model.to("cpu").eval(), example,
                       [f"torch=={torch.__version__.split('+')[0]}", f"hsframe=={__version__}", f"{spec.package}=={spec.version}"])
    return {"metrics": metrics, "per_class": evaluation.per_class, "best_epoch": result.best_epoch}


def _record_evaluation(recorder: Recorder, y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], plugins: Plugins):
    """Test metrics, per-class table and confusion matrix (0-based classes in)."""
    import matplotlib.pyplot as plt

    from hsframe.evaluation import evaluate_all
    from hsframe.figures import confusion_figure

    ev = evaluate_all(y_true, y_pred, class_names, plugins.metrics)
    recorder.log_metrics(ev.metrics)
    rows = ev.per_class
    recorder.log_table({key: [row[key] for row in rows] for key in rows[0]}, "metrics/per_class.json")
    recorder.log_text("class,name,test_pixels,accuracy\n"
                      + "".join(f"{r['class']},{r['name']},{r['test_pixels']},{r['accuracy']:.6f}\n" for r in rows),
                      "metrics/per_class.csv")
    recorder.log_dict({"labels": class_names, "matrix": ev.confusion.tolist()}, "metrics/confusion_matrix.json")
    fig = confusion_figure(ev.confusion, class_names)
    recorder.log_figure(fig, "figures/confusion_matrix.png")
    plt.close(fig)
    return ev
