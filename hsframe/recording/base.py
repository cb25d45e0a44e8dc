"""What a run records, whatever stores it: the :class:`Recorder` interface.

The run body and the tasks talk to a recorder only; :class:`~hsframe.recording.mlflow_recorder.MLflowRecorder`
holds every MLflow call, :class:`~hsframe.recording.memory.MemoryRecorder` keeps everything in
memory for tests and notebooks.
"""
from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hsframe.errors import HsframeError

if TYPE_CHECKING:
    from hsframe.engine.fitting import Fitting
    from hsframe.model_artifact import ModelCard

# How a run ended: the statuses MLflow uses.
FINISHED, FAILED, KILLED = "FINISHED", "FAILED", "KILLED"
# Tag set to "parent" on the parent run of repeated seeds; `hsframe compare` counts its children instead.
PARENT_TAG = "hsframe.seeds"
# The resolved config without what does not change the experiment (seed, names, device): runs that
# share it are repeats of one condition, which `hsframe compare` groups.
FINGERPRINT_TAG = "hsframe.config_fingerprint"
# Set every epoch to the time (seconds since the epoch, UTC) the run was last alive: a RUNNING run whose
# heartbeat is old was left by a dead process (`hsframe runs` shows it stale, `hsframe runs cleanup` ends it).
HEARTBEAT_TAG = "hsframe.heartbeat"
# Sweeps: the parent run has SWEEP_TAG "parent" (and BEST_TRIAL_TAG, the run id of the best trial so far);
# each trial is its child with SWEEP_TAG "trial" and TRIAL_TAG its Optuna trial number.
SWEEP_TAG = "hsframe.sweep"
TRIAL_TAG = "hsframe.sweep.trial"
BEST_TRIAL_TAG = "hsframe.sweep.best_run_id"
# Why a run ended early without failing (e.g. "pruned at epoch 3"): set with status KILLED.
END_TAG = "hsframe.end"


@dataclass
class StoredRun:
    """A recorded run as a resume reads it back: ``config`` is its ``config/resolved_config.yaml``
    (None when it was never logged), ``epochs_logged`` the steps of its ``val_oa`` history."""

    run_id: str
    name: str
    status: str
    tags: dict[str, str]
    config: dict[str, Any] | None
    epochs_logged: list[int]


class RunStopped(Exception):
    """Raised inside a run to end it KILLED, not FAILED, with ``str(exc)`` as the reason (a pruned sweep trial)."""


class Recorder(ABC):
    """Params, per-step metrics, tags, artifacts and the model of one run (and of its child runs).

    ``run(name, tags)`` opens a run; opened inside another run it becomes that run's child
    (repeated seeds). A recorder made with a ``parent_id`` makes its outermost runs children of that
    run, which may live in another process (the trials of a sweep). Every ``log_*`` call acts on the
    innermost open run.
    """

    @abstractmethod
    def run(self, name: str, tags: dict[str, str], resume_id: str | None = None) -> contextlib.AbstractContextManager[str]:
        """A context yielding the run id; the run ends FINISHED, FAILED (traceback recorded) or KILLED
        (Ctrl-C, or :class:`RunStopped` with its reason as the ``END_TAG`` tag).

        ``resume_id``: reopen that recorded run (``hsframe run --resume``) instead of starting one;
        ``tags`` are set on it, what it logged stays."""

    def stored_run(self, run_id: str) -> StoredRun | None:
        """What a resumed run needs from the store: its status, tags, logged config and epochs; None
        when the store has no such run."""
        raise HsframeError(f"{type(self).__name__} cannot resume runs; resume with the MLflow recorder (`hsframe run --resume`)")

    #: Whether other processes can record into the same store (the worker processes of a sweep).
    shared: bool = False

    def children_of(self, parent_id: str) -> "Recorder":
        """A recorder on the same store whose outermost runs are children of ``parent_id``, a run
        that another command holds open (joining a sweep)."""
        raise HsframeError(f"{type(self).__name__} cannot record under another command's run; use the MLflow recorder")

    @abstractmethod
    def check(self) -> None:
        """Raise an HsframeError, before any work starts, when the store cannot be written."""

    @abstractmethod
    def log_params(self, params: dict[str, Any]) -> None: ...

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    @abstractmethod
    def set_tags(self, tags: dict[str, str]) -> None: ...

    @abstractmethod
    def log_dict(self, value: dict[str, Any], path: str) -> None:
        """A mapping as ``path`` (``.json`` or ``.yaml`` by its suffix)."""

    @abstractmethod
    def log_text(self, text: str, path: str) -> None: ...

    @abstractmethod
    def log_table(self, columns: dict[str, list[Any]], path: str) -> None:
        """A table of equal-length columns, as a JSON artifact the UI can show."""

    @abstractmethod
    def log_figure(self, figure: Any, path: str) -> None:
        """A matplotlib figure as an image at ``path``; the caller closes it."""

    @abstractmethod
    def log_file(self, local_path: str | Path, folder: str) -> None:
        """A file written by the run, under ``folder/``."""

    def log_model(self, fitting: "Fitting", card: "ModelCard") -> None:
        """The fitted model, pickle-free: its file (``model/weights.safetensors`` of a torch module,
        ``model/estimator.skops`` of an estimator) and ``model/spec.json`` (``card``), which
        :func:`hsframe.load_model` reads back (:mod:`hsframe.model_artifact`)."""
        import tempfile

        from hsframe.model_artifact import FOLDER

        with tempfile.TemporaryDirectory() as tmp:
            for path in fitting.write(card, Path(tmp)):
                self.log_file(path, FOLDER)

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the runs go, for messages (a tracking URI, or "memory")."""

    def ui_command(self) -> str:
        """The command that shows the recorded runs."""
        return ""
