"""A task: one kind of data made into numbered samples, with everything a run needs from it.

Every run, whatever the data, goes the same way through a :class:`Task`::

    task = make_task(cfg, data)                   # data -> samples (sizes checked, no run yet)
    split = task.split(method, options, seed)     # over the task's SplitGrid, then per sample
    report = task.leakage(split)
    samples = task.fit_samples(split.train, ...)  # features fitted on training samples only
    ... train on samples.source ...
    pred = samples.infer(model, task.inference_index(split), ...)
    task.record_outputs(recorder, split, index, pred, caption, metrics)   # map, label volume or table

Class ids: a dataset's label arrays hold label values (0 = unlabeled, 1..K = classes). Inside the
engine classes are 0-based indices, -1 for unlabeled: :func:`to_class_index` and
:func:`to_label_value` are the one place that shift happens, at the edge between label arrays
(files, maps) and the engine. Data whose labels held other ids (``{1, 2, 1000}``) was renumbered
1..K when it was built (:mod:`hsframe.data.labels`); ``to_label_value(index, task.label_ids)``
gives back the data's own ids, and :meth:`Task.check_classes` refuses class counts no run can take.

A new kind of data is one new module: its data class, and a ``Task`` subclass decorated with
``@task_for(DataClass)``.
"""
from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import numpy as np

from hsframe.config import RunConfig
from hsframe.data.labels import MAX_CLASSES, MIN_SAMPLES_PER_CLASS, label_values, mapping_text, shown_ids
from hsframe.data.split import Split
from hsframe.errors import HsframeError
from hsframe.metrics import CLASS_SCORES, ClassScore
from hsframe.registry import InputSpec
from hsframe.splits.base import SplitGrid, SplitMethod, SplitOptions

if TYPE_CHECKING:
    import torch

    from hsframe.data.patches import SampleSource
    from hsframe.recording import Recorder


def to_class_index(labels: np.ndarray) -> np.ndarray:
    """Label values (0 = unlabeled, 1..K) -> 0-based class indices (-1 = unlabeled), int64."""
    return np.asarray(labels, dtype=np.int64) - 1


def to_label_value(index: np.ndarray, label_ids: list[int] | None = None) -> np.ndarray:
    """0-based class indices (-1 = none) -> label values (0 = none, 1..K), for maps and files.

    ``label_ids``: the data's own id of each class when its labels were renumbered (``task.label_ids``).
    """
    return label_values(np.asarray(index, dtype=np.int64) + 1, label_ids)


@dataclass(frozen=True)
class TaskSplit:
    """A split of the task's grid (``grid``) and the same split over sample indices (``samples``).

    They differ only when a grid element brings several samples (a pixel's windows of a series).
    """

    grid: Split
    samples: Split


@dataclass
class Samples:
    """The task's samples once features are fitted: a source cutting them, and inference over them.

    Attributes:
        source: cuts ``(N, C, D, H, W)`` samples for any sample indices, on the run's device.
        metrics: figures of the fitted features to record (e.g. the PCA's explained variance).
    """

    source: "SampleSource"
    metrics: dict[str, float] = field(default_factory=dict)

    def infer(self, model: Any, index: np.ndarray, batch_size: int, device: "torch.device", amp: bool) -> tuple[np.ndarray, str]:
        """0-based class predictions for the samples at ``index``, and how they were computed.

        Batches of ``source`` through the model; a subclass may compute them otherwise (a whole scene at once).
        """
        from hsframe.inference import infer_samples

        return infer_samples(model, self.source, index, batch_size, device, amp), "patch by patch"


class Task(ABC):
    """Base of every task; a subclass serves one data class (see :func:`task_for`).

    Set by subclasses in ``__init__``:
        labels: ``(S,)`` label value of every sample index (0 = unlabeled: in no subset).
        grid: the :class:`SplitGrid` split methods divide (``grid.labels`` may be coarser than
            the samples: see ``repeats``).
        input_spec: the shape of one sample as the model receives it.
        repeats: samples per grid element; sample ``i`` belongs to element ``i % grid.labels.size``.
    """

    data_kind: ClassVar[str] = ""   # the data kind a model must declare it serves (hsi, volume, sequence)
    sampling: ClassVar[str] = ""    # how samples are cut from the data (logged as the `sampling` param)
    unit: ClassVar[str] = "samples"  # what a sample is, in messages and the leakage report
    # The per-class figures a run logs and tabulates (test_class_<name>/NN_name); a subclass adds its own.
    class_scores: ClassVar[tuple[ClassScore, ...]] = CLASS_SCORES

    labels: np.ndarray
    grid: SplitGrid
    input_spec: InputSpec
    repeats: int = 1

    def __init__(self, cfg: RunConfig, data: Any) -> None:
        self.cfg = cfg
        self.data = data

    @classmethod
    def serves(cls, data: Any) -> bool:
        """Whether this task serves ``data`` (when several tasks serve one data class)."""
        return True

    # --------------------------------------------------------------- what the data is

    @property
    def name(self) -> str:
        return self.data.name

    @property
    def class_names(self) -> list[str]:
        return self.data.class_names

    @property
    def num_classes(self) -> int:
        return len(self.data.class_names)

    @property
    def palette(self) -> list[tuple[int, int, int]]:
        return self.data.palette

    @property
    def label_ids(self) -> list[int] | None:
        """The data's own id of each class when its labels were renumbered 1..K, else None."""
        return getattr(self.data, "label_ids", None)

    def check_classes(self) -> None:
        """Refuse renumbered ids when ``data.strict_labels`` is on, and class counts no run can take."""
        ids, k, unit = self.label_ids, self.num_classes, self.grid.unit
        if ids is not None and self.cfg.data.strict_labels:
            raise HsframeError(f"dataset '{self.name}': labels hold class ids {shown_ids(ids)} ({len(ids)} ids), not 1..{k}; "
                               "data.strict_labels (--strict-labels) refuses to renumber them; drop it to have them renumbered 1..K")
        labeled = int(np.count_nonzero(self.grid.labels))
        if k > MAX_CLASSES or k * MIN_SAMPLES_PER_CLASS > labeled:
            raise HsframeError(f"dataset '{self.name}' has {k} classes and {labeled} labeled {unit}: a run takes at most "
                               f"{MAX_CLASSES} classes and at least {MIN_SAMPLES_PER_CLASS} labeled {unit} per class "
                               "(is the label array a label map?)")

    def notices(self) -> list[str]:
        """What the person at the terminal should know about the data, once per loaded dataset."""
        ids = self.label_ids
        if ids is None:
            return []
        return [f"labels: class ids {shown_ids(ids)} renumbered as classes 1..{len(ids)} (mapping in data/label_mapping.json; "
                "predictions are written with the original ids; --strict-labels refuses instead)"]

    def record_data(self, recorder: "Recorder") -> None:
        """Record what building the data did to it: the label renumbering (param ``label_mapping`` and
        ``data/label_mapping.json``). Subclasses add their own (a scene's replaced NaN values)."""
        ids = self.label_ids
        if ids is not None:
            recorder.log_params({"label_mapping": mapping_text(ids)})
            recorder.log_dict({"original_id_to_class": {str(v): k for k, v in enumerate(ids, 1)},
                               "class_names": list(self.class_names)}, "data/label_mapping.json")

    @property
    def targets(self) -> np.ndarray:
        """``(S,)`` 0-based class index of every sample, -1 where unlabeled."""
        return to_class_index(self.labels)

    @abstractmethod
    def describe(self) -> str:
        """One line: the data's shape and what a sample is."""

    def params(self) -> dict[str, Any]:
        """What the run logs about the data, besides the config."""
        return {"data_kind": self.data_kind, "sampling": self.sampling, "dataset_shape": self.describe()[:250]}

    # --------------------------------------------------------------- split and leakage

    def split(self, method: SplitMethod, options: SplitOptions, seed: int) -> TaskSplit:
        method.check(self.grid, options)
        base = method.split(self.grid, seed, options)
        if self.repeats == 1:
            return TaskSplit(base, base)
        n = self.grid.labels.size
        offsets = np.arange(self.repeats, dtype=np.int64)[:, None] * n

        def expand(idx: np.ndarray) -> np.ndarray:
            return np.sort((offsets + idx[None, :]).reshape(-1))

        samples = Split(expand(base.train), expand(base.val), expand(base.test),
                        f"{base.description}; every {self.grid.unit[:-1]} brings its {self.repeats} {self.unit}",
                        base.dropped, dict(base.info), base.notes)
        return TaskSplit(base, samples)

    @property
    def features_fit_on(self) -> str:
        """What the features are fitted on (see ``hsframe.data.leakage.FIT_ON``)."""
        return "train"

    def leakage(self, split: TaskSplit) -> dict[str, Any]:
        from hsframe.data.leakage import leakage_report

        window = self.grid.window if len(self.grid.window) > 1 else self.grid.window[0]
        report = leakage_report(split.grid, self.grid.labels.shape, window, fit_on=self.features_fit_on)
        report["unit"] = self.grid.unit
        return report

    # --------------------------------------------------------------- samples and outputs

    @abstractmethod
    def fit_samples(self, train: np.ndarray, device: "torch.device", recorder: "Recorder") -> Samples:
        """Fit the features on the training samples ``train`` only, record what a reader needs to
        redo them, and give the samples."""

    def inference_index(self, split: TaskSplit) -> np.ndarray:
        """The samples to predict after training: the test samples (subclasses may map everything)."""
        return split.samples.test

    def record_outputs(self, recorder: "Recorder", split: TaskSplit, index: np.ndarray, pred: np.ndarray,
                       caption: str, metrics: dict[str, float]) -> dict[str, float]:
        """Predictions in the data's own shape; returns extra metrics. The default: a per-sample table.

        ``pred``: 0-based classes of the samples at ``index``; ``caption``: "model on dataset" for
        figure titles; ``metrics``: the test metrics so far.
        """
        by_sample = self.by_sample(index, pred)
        rows = ["sample,source,true,predicted"]
        labels = to_label_value(self.targets, self.label_ids)
        predicted = to_label_value(by_sample, self.label_ids)
        for i in split.samples.test:
            rows.append(f"{i},{self.sample_source_text(int(i))},{labels[i]},{predicted[i]}")
        recorder.log_text("\n".join(rows) + "\n", "predictions/test_predictions.csv")
        return {}

    def sample_source_text(self, i: int) -> str:
        """Where sample ``i`` comes from, for the per-sample table."""
        return ""

    def by_sample(self, index: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """``(S,)`` 0-based predictions with -1 where ``index`` did not reach."""
        out = np.full(len(self.labels), -1, np.int64)
        out[index] = pred
        return out

    @staticmethod
    def record_map(recorder: "Recorder", write: Callable[[str], tuple[Path, Path]]) -> None:
        """Write a figure and its array with ``write(folder)`` and record them as figures/ and predictions/."""
        with tempfile.TemporaryDirectory() as tmp:
            png, npy = write(tmp)
            recorder.log_file(png, "figures")
            recorder.log_file(npy, "predictions")


# Data class -> the task classes that may serve it, tried in order (``Task.serves``).
TASKS: dict[type, list[type[Task]]] = {}


def task_for(data_type: type) -> Callable[[type[Task]], type[Task]]:
    """Class decorator: this task serves ``data_type`` (the timm-style registration beside the class)."""

    def register(cls: type[Task]) -> type[Task]:
        TASKS.setdefault(data_type, []).append(cls)
        return cls

    return register


def make_task(cfg: RunConfig, data: Any) -> Task:
    """The task serving ``data``, its sizes checked against the config (no run started yet)."""
    for klass in type(data).__mro__:
        for task in TASKS.get(klass, []):
            if task.serves(data):
                return task(cfg, data)
    served = ", ".join(sorted(t.__name__ for t in TASKS))
    raise HsframeError(f"dataset '{getattr(data, 'name', data)}' loaded a {type(data).__name__}; no task serves it "
                       f"(tasks serve {served}). A dataset's loader must return one of those.")
