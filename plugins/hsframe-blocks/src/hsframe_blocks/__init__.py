"""hsframe plugin: small 2-D building-block networks that treat the spectral bands as channels.

Registers ``dsconv_net``, ``mobilenet_v2``, ``spectral_1x1``, ``spectral_1d``, ``nin``,
``dilated_cnn`` and ``baseline_cnn``. Torch is imported only when a model is built (inside each
``build_*``), so listing plugins stays fast; the layers live in ``hsframe_blocks.blocks``, the
networks in ``hsframe_blocks.networks`` and the dense-to-convolutional head conversion in
``hsframe_blocks.convert``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hsframe import InputSpec, ModelSpec, hookimpl

if TYPE_CHECKING:  # keep torch out of import time
    import torch.nn as nn

HSFRAME_PLUGIN_API = 1

# CPU-friendly defaults shared by every model here, so their runs line up in MLflow's compare view:
# 11x11 patches of 15 PCA components train in seconds per epoch on a 2-core laptop.
DEFAULTS: dict[str, Any] = {
    "data.patch_size": 11,
    "data.pca_components": 15,
    "train.epochs": 20,
    "train.batch_size": 64,
    "train.optimizer": "adam",
    "train.lr": 1e-3,
}


def build_dsconv_net(spec: InputSpec, width: int = 32, dropout: float = 0.2) -> "nn.Module":
    from hsframe_blocks.networks import DSConvNet

    return DSConvNet(spec.channels, spec.depth, spec.num_classes, width=width, dropout=dropout)


def build_mobilenet_v2(spec: InputSpec, width: int = 32, expand_ratio: int = 6, dropout: float = 0.2) -> "nn.Module":
    from hsframe_blocks.networks import MobileNetV2

    return MobileNetV2(spec.channels, spec.depth, spec.num_classes, width=width, expand_ratio=expand_ratio, dropout=dropout)


def build_spectral_1x1(spec: InputSpec, width: int = 64, dropout: float = 0.3) -> "nn.Module":
    from hsframe_blocks.networks import Spectral1x1Net

    return Spectral1x1Net(spec.channels, spec.depth, spec.num_classes, width=width, dropout=dropout)


def build_spectral_1d(
    spec: InputSpec, width: int = 64, spectral_filters: Sequence[int] = (8, 16), dropout: float = 0.3
) -> "nn.Module":
    from hsframe_blocks.networks import Spectral1DNet

    return Spectral1DNet(spec.channels, spec.depth, spec.num_classes, width=width,
                         spectral_filters=spectral_filters, dropout=dropout)


def build_nin(spec: InputSpec, width: int = 48, dropout: float = 0.3) -> "nn.Module":
    from hsframe_blocks.networks import NiNNet

    return NiNNet(spec.channels, spec.depth, spec.num_classes, width=width, dropout=dropout)


def build_dilated_cnn(
    spec: InputSpec, width: int = 64, dilations: Sequence[int] = (1, 2, 4), dropout: float = 0.3
) -> "nn.Module":
    from hsframe_blocks.networks import DilatedCNN

    return DilatedCNN(spec.channels, spec.depth, spec.num_classes, width=width, dilations=dilations, dropout=dropout)


def build_baseline_cnn(
    spec: InputSpec, width: int = 32, hidden: int = 128, dropout: float = 0.25, dense_dropout: float = 0.5
) -> "nn.Module":
    from hsframe_blocks.networks import BaselineCNN

    return BaselineCNN(spec.channels, spec.depth, (spec.height, spec.width), spec.num_classes,
                       width=width, hidden=hidden, dropout=dropout, dense_dropout=dense_dropout)


# name -> (build, one line for `hsframe plugins`)
MODELS: dict[str, tuple[Any, str]] = {
    "dsconv_net": (build_dsconv_net, "MobileNet-v1-style depthwise-separable conv blocks, GAP, linear head"),
    "mobilenet_v2": (build_mobilenet_v2, "MobileNet-v2 inverted residual blocks (expand, depthwise, linear project)"),
    "spectral_1x1": (build_spectral_1x1, "1x1 convs mix each pixel's bands first, then 3x3 spatial convs"),
    "spectral_1d": (build_spectral_1d, "Conv1d along each pixel's spectrum (shared across pixels), then spatial convs"),
    "nin": (build_nin, "network in network: mlpconv blocks, 1x1 conv to classes + GAP, no dense layer"),
    "dilated_cnn": (build_dilated_cnn, "3x3 convs with dilation 1, 2, 4: receptive field 15 without pooling"),
    "baseline_cnn": (build_baseline_cnn, "plain CNN: 2x (conv, ReLU, max pool, dropout), dense 128, dense K"),
}


@hookimpl
def register_models(register) -> None:
    for name, (build, description) in MODELS.items():
        register(ModelSpec(name=name, build=build, defaults=dict(DEFAULTS), data_kinds=("hsi",), description=description))
