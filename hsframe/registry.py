"""What plugins register: model and dataset specs, and the input spec a model is built for."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # keep torch out of import time
    import torch.nn as nn

    from hsframe.data.scene import Scene
    from hsframe.data.series import FrameSeries
    from hsframe.data.volumes import LabeledVolume, VolumeSet
    from hsframe.engine.fitting import Fitting

# Kinds of data a model can declare it serves: hyperspectral patches (C=1, D=bands), volumes
# (D, H, W) and frame sequences (T as D). Every sample reaches a model as (N, C, D, H, W).
DATA_KINDS = ("hsi", "volume", "sequence")


@dataclass(frozen=True)
class InputSpec:
    """The shape of one sample the model receives: ``(C, D, H, W)`` plus the class count.

    For hyperspectral patches C = 1, D = spectral bands (or PCA components), H = W = patch size.
    """

    channels: int
    depth: int
    height: int
    width: int
    num_classes: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.channels, self.depth, self.height, self.width)


@dataclass
class ModelSpec:
    """A model architecture offered by a plugin.

    Args:
        name: unique name used by ``hsframe run --plugin NAME``.
        build: ``build(input_spec, **options) -> nn.Module``; the module maps ``(N, C, D, H, W)``
            to ``(N, num_classes)`` logits.
        defaults: dotted config keys the model prefers, e.g. ``{"data.patch_size": 25}``;
            they sit above the framework's defaults and below the user's YAML and ``--set``.
        data_kinds: kinds of data it serves (see ``DATA_KINDS``).
        description: one line for ``hsframe plugins``.
    """

    name: str
    build: Callable[..., "nn.Module"]
    defaults: dict[str, Any] = field(default_factory=dict)
    data_kinds: tuple[str, ...] = ("hsi",)
    description: str = ""
    # Filled in by the plugin manager: which plugin and distribution registered it.
    plugin: str = ""
    package: str = ""
    version: str = ""

    def fitting(self) -> "type[Fitting]":
        """How a run fits and applies this kind of model: gradient training of a torch module."""
        from hsframe.engine.fitting import TorchFitting

        return TorchFitting

    def create(self, input_spec: InputSpec, options: dict[str, Any] | None = None) -> "nn.Module":
        """``build`` with its ValueError / TypeError turned into an HsframeError saying what was asked."""
        import torch

        from hsframe.errors import HsframeError

        model = self._built(input_spec, options or {})
        if not isinstance(model, torch.nn.Module):
            raise HsframeError(f"model '{self.name}': build() returned {type(model).__name__}, not a torch.nn.Module")
        return model

    def _built(self, input_spec: InputSpec, options: dict[str, Any]) -> Any:
        from hsframe.errors import HsframeError

        asked = (f"input (C, D, H, W) = {input_spec.as_tuple()} with {input_spec.num_classes} classes"
                 + (f" and options {options}" if options else ""))
        try:
            model = self.build(input_spec, **options)
        except TypeError as exc:
            raise HsframeError(f"model '{self.name}' cannot be built for {asked}: {exc}.{self._accepted_options()}") from None
        except ValueError as exc:
            raise HsframeError(f"model '{self.name}' cannot be built for {asked}: {exc}") from None
        return model

    def _accepted_options(self) -> str:
        import inspect

        try:
            params = list(inspect.signature(self.build).parameters.values())[1:]
        except (TypeError, ValueError):
            return ""
        names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        return f" Accepted model options: {', '.join(names)}." if names else " It accepts no model options."


@dataclass
class EstimatorSpec(ModelSpec):
    """A model fitted in one call rather than trained by gradient: a scikit-learn-style estimator.

    ``build(input_spec, **options)`` returns an unfitted estimator with ``fit(X, y)`` and
    ``predict(X)``. A run hands it the training samples flattened, ``X`` of shape
    ``(N, C * D * H * W)`` float32 (with ``data.patch_size: 1``, the spectrum of each pixel), and
    ``y`` the 0-based classes; everything else (split, features, leakage report, metrics, maps,
    MLflow logging, ``compare``) is the same run path as a torch model's.

    Args:
        search: option -> candidate values, chosen on the validation samples: the run fits one
            estimator per combination on the training samples and keeps the one with the best
            validation OA (ties: the first). An option the user sets (``model_options.C=10``) is
            not searched.
        trusted_types: types the fitted estimator holds that skops does not trust by default
            (``skops.io.get_untrusted_types``), which the plugin vouches for; a stored estimator
            holding any other is refused when it is read back.

    If the estimator has a ``random_state`` parameter (also inside a pipeline), the run's seed is set there.
    """

    search: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    trusted_types: tuple[str, ...] = ()

    def fitting(self) -> "type[Fitting]":
        """One fit per searched combination, chosen on validation (:class:`hsframe.engine.fitting.EstimatorFitting`)."""
        from hsframe.engine.fitting import EstimatorFitting

        return EstimatorFitting

    def create(self, input_spec: InputSpec, options: dict[str, Any] | None = None) -> Any:
        from hsframe.errors import HsframeError

        estimator = self._built(input_spec, options or {})
        missing = [m for m in ("fit", "predict", "get_params", "set_params") if not callable(getattr(estimator, m, None))]
        if missing:
            raise HsframeError(f"model '{self.name}': build() returned {type(estimator).__name__}, which has no "
                               f"{', '.join(missing)}; an estimator model returns a scikit-learn-style estimator")
        return estimator


@dataclass
class DatasetSpec:
    """A dataset offered by the core or a plugin.

    Args:
        name: unique name used by ``hsframe run --dataset NAME``.
        load: ``load(**data.dataset_options)`` returns a ``Scene`` (kind "hsi"), a ``VolumeSet``
            or ``LabeledVolume`` (kind "volume"; a ``VolumeSet`` of clips is kind "sequence") or a
            ``FrameSeries`` (kind "sequence").
        kind: one of ``DATA_KINDS``; a model serves the kinds it declares.
        defaults: dotted config keys the dataset needs, e.g. ``{"data.window": 8}``; they sit
            above the framework's defaults and below the plugin's, the preset, YAML and ``--set``.
    """

    name: str
    load: Callable[..., "Scene | VolumeSet | LabeledVolume | FrameSeries"]
    kind: str = "hsi"
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    plugin: str = ""
    package: str = ""
    version: str = ""
