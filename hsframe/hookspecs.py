"""The hooks a plugin may implement. Every hook takes keyword arguments only (pluggy's rule)."""
from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("hsframe")
hookimpl = pluggy.HookimplMarker("hsframe")


@hookspec
def register_models(register: Callable[..., None]) -> None:
    """Register model architectures.

    Call ``register(ModelSpec(...))`` once per model. The spec's ``build`` callable receives an
    ``InputSpec`` and the run's ``model_options.*`` and returns a ``torch.nn.Module`` mapping
    ``(N, C, D, H, W)`` to ``(N, num_classes)`` logits. Import torch inside ``build``, not at the
    top of the plugin module, so that ``hsframe --help`` and ``hsframe plugins`` stay fast.

    A model fitted by ``fit`` / ``predict`` (an SVM, a random forest) registers an
    ``EstimatorSpec(...)`` instead: its ``build`` returns a scikit-learn-style estimator, fitted on
    the flattened training samples with its ``search`` options chosen on validation.
    """


@hookspec
def register_datasets(register: Callable[..., None]) -> None:
    """Register datasets: call ``register(DatasetSpec(...))`` once per dataset."""


@hookspec
def register_splits(register: Callable[..., None]) -> None:
    """Register split methods: call ``register(MySplit())`` once per method.

    A method subclasses :class:`hsframe.splits.SplitMethod`: a ``name`` (``split.method=NAME``), an
    ``Options`` pydantic model (its ``split.*`` keys, typed and validated) and ``split()``, which
    divides a label array into train, validation and test indices.
    """


@hookspec
def register_formats(register: Callable[..., None]) -> None:
    """Register file formats: call ``register(MyFormat())`` once per format.

    A format subclasses :class:`hsframe.data.io.FileFormat`: a ``name``, the file suffixes it
    claims, ``sniff()`` to recognise its files by content, and ``open()``, which gives the arrays
    the file holds. Every reader (scenes, label maps, volumes, series) then accepts such files.
    """


@hookspec
def register_metrics(register: Callable[..., None]) -> None:
    """Register evaluation metrics: call ``register(Metric(...))`` once per metric.

    A :class:`hsframe.metrics.Metric` computes one figure from the test confusion matrix; every
    run logs it as ``test_<name>``, and ``headline=True`` puts it in the summary tables and in
    ``hsframe compare``.
    """


@hookspec
def run_started(run_id: str, config: dict[str, Any]) -> None:
    """Called inside the active MLflow run once it has started, before training.

    Use it for extra logging (``mlflow.log_param`` and friends act on this run). A resumed run
    (``hsframe run --resume``) calls it again when it reopens.
    """


@hookspec
def epoch_finished(run_id: str, epoch: int, metrics: dict[str, float]) -> None:
    """Called after each training epoch, once its checkpoint is saved and its metrics are logged.

    ``epoch`` counts from 1 and continues past the last saved epoch in a resumed run; ``metrics``
    holds ``train_loss``, ``val_oa`` and ``lr``. Raising ends the run FAILED, except
    :class:`hsframe.recording.RunStopped`, which ends it KILLED with its message as the reason.
    """


@hookspec
def run_finished(run_id: str, config: dict[str, Any], metrics: dict[str, float], status: str) -> None:
    """Called when a run ends; ``status`` is FINISHED, FAILED or KILLED; ``metrics`` may be empty."""
