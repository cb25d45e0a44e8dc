"""What plugins register: model and dataset specs, and the input spec a model is built for."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # keep torch out of import time
    import torch.nn as nn

    from hsframe.data.scene import Scene
    from hsframe.data.series import FrameSeries
    from hsframe.data.volumes import LabeledVolume, VolumeSet

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

    def create(self, input_spec: InputSpec, options: dict[str, Any] | None = None) -> "nn.Module":
        """``build`` with its ValueError / TypeError turned into an HsframeError saying what was asked."""
        import torch

        from hsframe.errors import HsframeError

        options = options or {}
        asked = (f"input (C, D, H, W) = {input_spec.as_tuple()} with {input_spec.num_classes} classes"
                 + (f" and options {options}" if options else ""))
        try:
            model = self.build(input_spec, **options)
        except TypeError as exc:
            raise HsframeError(f"model '{self.name}' cannot be built for {asked}: {exc}.{self._accepted_options()}") from None
        except ValueError as exc:
            raise HsframeError(f"model '{self.name}' cannot be built for {asked}: {exc}") from None
        if not isinstance(model, torch.nn.Module):
            raise HsframeError(f"model '{self.name}': build() returned {type(model).__name__}, not a torch.nn.Module")
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
