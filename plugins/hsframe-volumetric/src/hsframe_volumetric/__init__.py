"""hsframe plugin: the convolution families compared on volumes, frame sequences and hyperspectral patches.

Registers ``conv3d``, ``td_conv2d``, ``conv3d_133``, ``r2plus1d`` and ``orthoplane``. Each maps the
hsframe sample batch ``(N, C, D, H, W)`` to ``(N, K)`` logits, D being the depth of a volume, the
time axis of a sequence or the bands of a hyperspectral patch. Torch is imported only when a model
is built (inside each ``build_*``), so listing plugins stays fast; the networks live in
``hsframe_volumetric.networks`` and ``hsframe_volumetric.orthoplane``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hsframe import InputSpec, ModelSpec, hookimpl

if TYPE_CHECKING:  # keep torch out of import time
    import torch.nn as nn

HSFRAME_PLUGIN_API = 1

DATA_KINDS = ("hsi", "volume", "sequence")

# CPU-friendly defaults shared by every model here, so their runs line up in MLflow's compare view;
# on the hyperspectral scene: 11x11 patches of 15 PCA components (15 "time steps").
DEFAULTS: dict[str, Any] = {
    "data.patch_size": 11,
    "data.pca_components": 15,
    "train.epochs": 15,
    "train.batch_size": 64,
    "train.optimizer": "adam",
    "train.lr": 1e-3,
}


def _size(spec: InputSpec) -> tuple[int, int, int]:
    return (spec.depth, spec.height, spec.width)


def build_conv3d(spec: InputSpec, width: int = 16, depth: int = 3, dropout: float = 0.2) -> "nn.Module":
    from hsframe_volumetric.networks import Conv3DNet

    return Conv3DNet(spec.channels, spec.num_classes, width=width, depth=depth, dropout=dropout, input_size=_size(spec))


def build_td_conv2d(spec: InputSpec, width: int = 16, depth: int = 3, dropout: float = 0.2) -> "nn.Module":
    from hsframe_volumetric.networks import TDConv2DNet

    return TDConv2DNet(spec.channels, spec.num_classes, width=width, depth=depth, dropout=dropout, input_size=_size(spec))


def build_conv3d_133(spec: InputSpec, width: int = 16, depth: int = 3, dropout: float = 0.2) -> "nn.Module":
    from hsframe_volumetric.networks import Conv3D133Net

    return Conv3D133Net(spec.channels, spec.num_classes, width=width, depth=depth, dropout=dropout, input_size=_size(spec))


def build_r2plus1d(
    spec: InputSpec, width: int = 16, depth: int = 3, dropout: float = 0.2, mid_channels: int | None = None
) -> "nn.Module":
    from hsframe_volumetric.networks import R2Plus1DNet

    return R2Plus1DNet(spec.channels, spec.num_classes, width=width, depth=depth, dropout=dropout,
                       mid_channels=mid_channels, input_size=_size(spec))


def build_orthoplane(
    spec: InputSpec,
    planes: str | Sequence[str] = "xy,xz,yz",
    mode: str = "slice",
    fusion: str = "sum",
    width: int = 16,
    depth: int = 3,
    dropout: float = 0.2,
    share_weights: bool = False,
) -> "nn.Module":
    from hsframe_volumetric.orthoplane import OrthoPlaneNet

    return OrthoPlaneNet(spec.channels, spec.num_classes, planes=planes, mode=mode, fusion=fusion, width=width,
                         depth=depth, dropout=dropout, share_weights=share_weights, input_size=_size(spec))


# name -> (build, one line for `hsframe plugins`)
MODELS: dict[str, tuple[Any, str]] = {
    "conv3d": (build_conv3d, "plain 3-D CNN: 3x3x3 conv, BN, ReLU, max pool blocks, GAP, linear"),
    "td_conv2d": (build_td_conv2d, "TimeDistributed Conv2D: one 2-D conv stack on every time step (depth slice), GAP, linear"),
    "conv3d_133": (build_conv3d_133, "Conv3D with (1,3,3) kernels: td_conv2d's layers in 3-D (same function once weights are shared)"),
    "r2plus1d": (build_r2plus1d, "(2+1)D: (1,3,3) spatial then (3,1,1) temporal conv per block, GAP, linear"),
    "orthoplane": (build_orthoplane, "2-D conv stacks on the xy, xz, yz planes (slices or folded channels), fused by sum or concat"),
}


@hookimpl
def register_models(register) -> None:
    for name, (build, description) in MODELS.items():
        register(ModelSpec(name=name, build=build, defaults=dict(DEFAULTS), data_kinds=DATA_KINDS,
                           description=description))
