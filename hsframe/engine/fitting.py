"""How a run fits a model and reads it back: the one place the run path varies by kind of model.

A model spec names its fitting (``spec.fitting()``), the TorchGeo way (a class per kind, no type checks):

- :class:`TorchFitting`: a ``torch.nn.Module`` trained by gradient, epoch by epoch
  (:func:`hsframe.training.train`), logged as ``model/weights.safetensors``;
- :class:`EstimatorFitting`: a scikit-learn-style estimator (:class:`hsframe.registry.EstimatorSpec`)
  fitted on the flattened training samples, once per searched option combination, the combination
  chosen on the validation samples; logged as ``model/estimator.skops``.

Either way the run gets a torch module to apply (:attr:`Fitting.predictor`); a fitted estimator is
wrapped in :class:`hsframe.estimator_module.EstimatorModule`, so inference, maps, ``hsframe predict``
and ``hsframe.load_model`` are one code path for both. Everything before fitting (split, features,
leakage) and after it (metrics, recording) is the engine's, the same for every model.
"""
from __future__ import annotations

import itertools
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import numpy as np

from hsframe.errors import HsframeError
from hsframe.registry import EstimatorSpec, InputSpec, ModelSpec

if TYPE_CHECKING:
    import torch

    from hsframe.checkpoint import TrainState
    from hsframe.config import RunConfig
    from hsframe.data.patches import SampleSource
    from hsframe.distributed import World
    from hsframe.engine.reporter import Reporter
    from hsframe.model_artifact import ModelCard, RunFiles
    from hsframe.recording import Recorder
    from hsframe.training import TrainResult

EpochHook = Callable[[int, dict[str, float]], None]


class Fitting(ABC):
    """A model built for one input (checked at construction, before any run starts), then fitted and written.

    Attributes:
        artifact: the file under ``model/`` that holds the fitted model, beside ``model/spec.json``.
        per_layer: whether ``hsframe inspect`` tabulates layers (torch) or describes the model (:meth:`describe`).
    """

    artifact: ClassVar[str]
    per_layer: ClassVar[bool] = True
    parallel: ClassVar[bool] = True  # can train data-parallel over ranks (hsframe run --nproc-per-node)
    records: ClassVar[tuple[str, ...]] = ("train_loss", "val_oa", "lr")  # what each on_epoch record holds

    def __init__(self, spec: ModelSpec, input_spec: InputSpec, options: dict[str, Any]) -> None:
        self.spec, self.input_spec, self.options = spec, input_spec, dict(options)

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """What the run logs about the model before fitting it."""

    @abstractmethod
    def fit(self, source: "SampleSource", targets: np.ndarray, train_index: np.ndarray, val_index: np.ndarray, cfg: "RunConfig",
            device: "torch.device", generator: "torch.Generator", reporter: "Reporter", on_epoch: EpochHook,
            start: "TrainState | None" = None, on_checkpoint: Callable[["TrainState"], None] | None = None,
            world: "World | None" = None) -> "TrainResult":
        """Fit on ``train_index`` and choose on ``val_index`` (``targets``: 0-based class of every sample).

        ``on_epoch(epoch, metrics)`` records each step the fitting has (an epoch; an estimator's one fit);
        ``world``: the data-parallel group this rank trains in (:mod:`hsframe.distributed`).
        """

    @property
    @abstractmethod
    def predictor(self) -> "torch.nn.Module":
        """The fitted model as a module mapping ``(N, C, D, H, W)`` to ``(N, K)`` scores (argmax = class)."""

    @abstractmethod
    def write(self, card: "ModelCard", folder: Path) -> list[Path]:
        """The fitted model's files (``artifact`` and ``spec.json``) in ``folder``, pickle-free."""

    @classmethod
    @abstractmethod
    def read(cls, files: "RunFiles", spec: ModelSpec, card: "ModelCard") -> "torch.nn.Module":
        """The stored model of ``files``' run as :attr:`predictor` gives it (CPU, eval mode); never unpickles."""

    def record_fit(self, recorder: "Recorder") -> None:
        """What the fit chose beyond the per-epoch metrics (nothing, unless a subclass has more to say)."""


class TorchFitting(Fitting):
    """Gradient training of a torch module, keeping the epoch that is best on validation OA."""

    artifact = "model/weights.safetensors"

    def __init__(self, spec: ModelSpec, input_spec: InputSpec, options: dict[str, Any]) -> None:
        from hsframe.engine.model_check import build_checked_model

        super().__init__(spec, input_spec, options)
        self.model = build_checked_model(spec, input_spec, options)

    def params(self) -> dict[str, Any]:
        return {"model_parameters": sum(p.numel() for p in self.model.parameters())}

    def fit(self, source, targets, train_index, val_index, cfg, device, generator, reporter, on_epoch, start=None, on_checkpoint=None,
            world=None):
        from hsframe.training import train

        progress = reporter.progress(cfg.train.epochs, -(-len(train_index) // cfg.train.batch_size))
        return train(self.model, source, targets, train_index, val_index, cfg.train, device, generator, progress, on_epoch,
                     eval_batch_size=cfg.eval.batch_size, start=start, on_checkpoint=on_checkpoint, world=world)

    @property
    def predictor(self) -> "torch.nn.Module":
        return self.model

    def write(self, card: "ModelCard", folder: Path) -> list[Path]:
        from hsframe.model_artifact import write_model

        return write_model(self.model.to("cpu").eval(), card, folder)

    @classmethod
    def read(cls, files: "RunFiles", spec: ModelSpec, card: "ModelCard") -> "torch.nn.Module":
        from hsframe.model_artifact import load_weights

        model = spec.create(card.input, card.model_options)
        files.read(cls.artifact, lambda p: load_weights(model, p, card, spec, files.run_id))
        return model.eval()


class EstimatorFitting(Fitting):
    """One fit per combination of ``spec.search`` not set by the user, the best on validation OA kept."""

    artifact = "model/estimator.skops"
    per_layer = False
    parallel = False
    records = ("val_oa",)  # no loss: the fit is not a descent
    spec: EstimatorSpec

    def __init__(self, spec: ModelSpec, input_spec: InputSpec, options: dict[str, Any]) -> None:
        super().__init__(spec, input_spec, options)
        self.searched = {k: tuple(v) for k, v in self.spec.search.items() if k not in self.options}
        self.candidates = [dict(zip(self.searched, values)) for values in itertools.product(*self.searched.values())]
        for candidate in self.candidates:  # every combination must build: a bad option fails before the run
            self.spec.create(input_spec, {**self.options, **candidate})
        self.fitted: Any = None
        self.chosen: dict[str, Any] = {}
        self.search_table: list[dict[str, Any]] = []

    def params(self) -> dict[str, Any]:
        example = self.spec.create(self.input_spec, {**self.options, **self.candidates[0]})
        return {"estimator": _estimator_name(example),
                "estimator_search": "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in self.searched.items()) or "none"}

    def fit(self, source, targets, train_index, val_index, cfg, device, generator, reporter, on_epoch, start=None, on_checkpoint=None,
            world=None):
        from hsframe.training import TrainResult

        began = time.perf_counter()
        if len(val_index) == 0 and len(self.candidates) > 1:
            raise HsframeError(f"model '{self.spec.name}' chooses {', '.join(self.searched)} on the validation samples, and "
                               "there are none; raise split.val_fraction or set the options with --set model_options.NAME=VALUE")
        x_train, x_val = flat_samples(source, train_index), flat_samples(source, val_index)
        y_train, y_val = targets[train_index], targets[val_index]
        rows: list[dict[str, Any]] = []
        best_oa = -1.0
        for candidate in self.candidates:
            estimator = self.spec.create(self.input_spec, {**self.options, **candidate})
            _seed(estimator, cfg.seed)
            t0 = time.perf_counter()
            estimator.fit(x_train, y_train)
            val_oa = float((np.asarray(estimator.predict(x_val)) == y_val).mean()) if len(y_val) else float("nan")
            improved = val_oa > best_oa or self.fitted is None
            if improved:
                best_oa, self.fitted, self.chosen = val_oa, estimator, candidate
            rows.append({**candidate, "val_oa": val_oa, "fit_seconds": time.perf_counter() - t0})
            reporter.candidate(candidate, val_oa, improved, time.perf_counter() - t0)
        self.search_table = rows
        on_epoch(1, {"val_oa": best_oa})
        return TrainResult(best_oa, 1, time.perf_counter() - began, [{"val_oa": best_oa}])

    def record_fit(self, recorder: "Recorder") -> None:
        """The options the validation chose (params ``chosen.<option>``) and every combination's
        validation OA (``metrics/estimator_search.json``)."""
        if self.chosen:
            recorder.log_params({f"chosen.{k}": v for k, v in self.chosen.items()})
        if self.search_table:
            recorder.log_table({k: [row[k] for row in self.search_table] for k in self.search_table[0]}, "metrics/estimator_search.json")

    @property
    def predictor(self) -> "torch.nn.Module":
        from hsframe.estimator_module import EstimatorModule

        if self.fitted is None:
            raise HsframeError(f"model '{self.spec.name}' has not been fitted yet")
        return EstimatorModule(self.fitted, self.input_spec.num_classes)

    def write(self, card: "ModelCard", folder: Path) -> list[Path]:
        import skops.io

        from hsframe.model_artifact import SPEC

        folder = Path(folder)
        path, spec = folder / Path(self.artifact).name, folder / Path(SPEC).name
        skops.io.dump(self.fitted, path)
        spec.write_text(card.to_json())
        return [path, spec]

    @classmethod
    def read(cls, files: "RunFiles", spec: ModelSpec, card: "ModelCard") -> "torch.nn.Module":
        from hsframe.estimator_module import EstimatorModule

        trusted = tuple(getattr(spec, "trusted_types", ()))
        estimator = files.read(cls.artifact, lambda p: _load_estimator(p, trusted, spec, files.run_id))
        return EstimatorModule(estimator, card.input.num_classes).eval()

    @classmethod
    def describe(cls, spec: ModelSpec, input_spec: InputSpec, options: dict[str, Any]) -> dict[str, Any]:
        """What ``hsframe inspect`` shows of an estimator: its steps, input features and the search."""
        fitting = cls(spec, input_spec, options)
        example = spec.create(input_spec, {**fitting.options, **fitting.candidates[0]})
        return {"estimator": _estimator_name(example), "repr": repr(example),
                "input_features": int(np.prod(input_spec.as_tuple())),
                "search": {k: list(v) for k, v in fitting.searched.items()}, "combinations": len(fitting.candidates)}


def flat_samples(source: "SampleSource", index: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``(len(index), C * D * H * W)`` float32 samples of ``source``, cut ``chunk`` at a time (bounded memory on the device)."""
    parts = [source.samples(index[i:i + chunk]).flatten(1).float().cpu().numpy() for i in range(0, len(index), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def _seed(estimator: Any, seed: int) -> None:
    """The run's seed into every ``random_state`` the estimator has (a pipeline's steps too): repeatable fits."""
    keys = [k for k in estimator.get_params() if k == "random_state" or k.endswith("__random_state")]
    if keys:
        estimator.set_params(**{k: seed for k in keys})


def _estimator_name(estimator: Any) -> str:
    steps = getattr(estimator, "steps", None)  # a scikit-learn Pipeline names its steps
    if steps:
        return " -> ".join(type(step).__name__ for _, step in steps)
    return type(estimator).__name__


def _load_estimator(path: Path, trusted: tuple[str, ...], spec: ModelSpec, run_id: str) -> Any:
    """A skops file read without pickle; types neither skops nor the plugin trust are refused before loading."""
    import skops.io

    unknown = [t for t in skops.io.get_untrusted_types(file=path) if t not in trusted]
    if unknown:
        raise HsframeError(f"run '{run_id}': the stored estimator holds types that neither skops nor {spec.package} "
                           f"trusts ({', '.join(unknown)}); it was changed after the run or made by another plugin; retrain the run")
    return skops.io.load(path, trusted=list(trusted) or None)
