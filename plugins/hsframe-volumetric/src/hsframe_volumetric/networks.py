"""The convolution families compared on volumes and time series, as ``(N, C, D, H, W)`` -> ``(N, K)`` classifiers.

- :class:`Conv3DNet`: plain 3-D CNN, 3x3x3 kernels mix depth/time and space at every layer.
- :class:`TDConv2DNet`: TimeDistributed Conv2D, one 2-D stack applied to every time step.
- :class:`Conv3D133Net`: Conv3D with (1, 3, 3) kernels, the same layers, padding and head as
  :class:`TDConv2DNet`; with shared weights the two compute the same function.
- :class:`R2Plus1DNet`: (2+1)D, a (1, 3, 3) spatial then a (3, 1, 1) temporal conv per block.

Each is split into ``features`` (sample -> ``(N, F, D', H', W')`` feature volume) and ``head``
(global average pool over D', H', W' -> Dropout -> Linear), so that heads can be inspected or swapped.
Convolutions are padded to keep their size; max pooling by 2 between blocks shrinks the pooled
axes, so each network names the smallest input it accepts (:attr:`VolumeClassifier.min_size`).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from hsframe_volumetric.layers import (
    TimeDistributed,
    check_dropout,
    check_input_size,
    check_num_classes,
    check_positive,
    conv_bn_relu,
    pool_linear_head,
    stage_widths,
)

AXES = ("D", "H", "W")


class VolumeClassifier(nn.Module):
    """Base: ``forward(x) = head(features(x))`` with the input checked first.

    Subclasses set ``in_channels``, ``depth`` (conv blocks) and ``pooled_axes``: the axes that
    ``depth - 1`` max poolings by 2 halve (rounding down), so each of them must be at least
    ``2 ** (depth - 1)`` long.
    """

    features: nn.Module
    head: nn.Module
    in_channels: int
    depth: int
    pooled_axes: tuple[str, ...]

    @property
    def min_size(self) -> int:
        """Smallest length of each pooled axis the stack accepts."""
        return 2 ** (self.depth - 1)

    def _describe_stack(self) -> str:
        axes = ", ".join(self.pooled_axes)
        return (f"{type(self).__name__}(depth={self.depth}) halves {axes} {self.depth - 1} time(s) "
                f"(max pooling by 2 between its {self.depth} conv blocks): it needs {axes} >= {self.min_size}")

    def _check_size(self, size: tuple[int, int, int], where: str) -> None:
        short = [f"{a}={s}" for a, s in zip(AXES, size) if a in self.pooled_axes and s < self.min_size]
        if short:
            raise ValueError(f"{self._describe_stack()}; got {', '.join(short)} ({where})")

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError saying what is expected unless ``x`` is ``(N, in_channels, D, H, W)`` large enough."""
        if x.dim() != 5:
            raise ValueError(f"{type(self).__name__} expects a batch of shape (N, C, D, H, W); "
                             f"got a {x.dim()}-D tensor of shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} was built for C = {self.in_channels} input channels; "
                             f"got C = {x.shape[1]} in input of shape {tuple(x.shape)}")
        self._check_size(tuple(x.shape[2:]), f"input (N, C, D, H, W) = {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.head(self.features(x))

    def _init_common(self, in_channels: int, num_classes: int, width: int, depth: int, dropout: float,
                     input_size: Sequence[int] | None) -> list[int]:
        check_positive(in_channels=in_channels, width=width, depth=depth)
        check_num_classes(num_classes)
        check_dropout(dropout)
        self.in_channels, self.depth = in_channels, depth
        size = check_input_size(input_size)
        if size is not None:  # fail at build time, before a run starts, rather than at the first batch
            self._check_size(size, f"input_size (D, H, W) = {size}")
        return stage_widths(width, depth)


class Conv3DNet(VolumeClassifier):
    """Plain 3-D CNN baseline: every kernel mixes depth (time, bands) and space.

    Layout (w = ``width``, ``depth`` blocks): [Conv3d 3x3x3 (padding 1) -> BN -> ReLU -> MaxPool3d(2)]
    with w, 2w, 4w, ... channels, no pooling after the last block -> global average pool -> Dropout
    -> Linear(w * 2**(depth-1), K).

    Args:
        in_channels: C of the ``(N, C, D, H, W)`` input (1 for a hyperspectral patch or grey volume).
        num_classes: K.
        width: channels of the first block; doubled at each block.
        depth: number of conv blocks.
        dropout: rate before the classifier.
        input_size: ``(D, H, W)`` the model will see, checked at construction when given.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits; D, H, W >= ``2 ** (depth - 1)``.
    """

    pooled_axes = ("D", "H", "W")

    def __init__(self, in_channels: int = 1, num_classes: int = 16, width: int = 16, depth: int = 3,
                 dropout: float = 0.2, input_size: Sequence[int] | None = None) -> None:
        super().__init__()
        widths = self._init_common(in_channels, num_classes, width, depth, dropout, input_size)
        layers: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(widths):
            layers += conv_bn_relu(nn.Conv3d(c, w, 3, padding=1, bias=False), w, dims=3)
            if i < depth - 1:
                layers.append(nn.MaxPool3d(2))
            c = w
        self.features = nn.Sequential(*layers)
        self.head = pool_linear_head(c, num_classes, dropout)


def frame_stack(in_channels: int, widths: Sequence[int]) -> nn.Sequential:
    """The 2-D stack :class:`TDConv2DNet` applies to every frame.

    [Conv2d 3x3 (padding 1) -> BN2d -> ReLU -> MaxPool2d(2)] per width, no pooling after the last.
    ``(B, in_channels, H, W)`` -> ``(B, widths[-1], H', W')``.
    """
    layers: list[nn.Module] = []
    c = in_channels
    for i, w in enumerate(widths):
        layers += conv_bn_relu(nn.Conv2d(c, w, 3, padding=1, bias=False), w, dims=2)
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
        c = w
    return nn.Sequential(*layers)


def frame_stack_3d(in_channels: int, widths: Sequence[int]) -> nn.Sequential:
    """:func:`frame_stack` written with 3-D layers: (1, 3, 3) kernels, padding (0, 1, 1), (1, 2, 2) pooling.

    Layer for layer the same sequence and the same parameter/buffer registration order, each
    Conv3d weight ``(O, I, 1, 3, 3)`` holding the Conv2d weight ``(O, I, 3, 3)``, so
    :func:`hsframe.equivalence.transfer_weights` maps one onto the other.
    ``(N, in_channels, D, H, W)`` -> ``(N, widths[-1], D, H', W')``.
    """
    layers: list[nn.Module] = []
    c = in_channels
    for i, w in enumerate(widths):
        layers += conv_bn_relu(nn.Conv3d(c, w, (1, 3, 3), padding=(0, 1, 1), bias=False), w, dims=3)
        if i < len(widths) - 1:
            layers.append(nn.MaxPool3d((1, 2, 2)))
        c = w
    return nn.Sequential(*layers)


class TDConv2DNet(VolumeClassifier):
    """TimeDistributed Conv2D: the same 2-D conv stack applied to every time step, then a pooling head.

    ``(N, C, D, H, W)`` -> fold D into the batch ``(N*D, C, H, W)`` -> :func:`frame_stack` ->
    ``(N*D, F, H', W')`` -> back to ``(N, F, D, H', W')`` -> global average pool over time and space
    -> Dropout -> Linear(F, K). No layer mixes time steps before the pooling; BatchNorm pools its
    statistics over all N*D frames (as BatchNorm3d does over N, D, H, W).

    Args:
        in_channels: C (1 for grey frames or a hyperspectral patch, 3 for RGB frames).
        num_classes: K.
        width: channels of the first block; doubled at each block (F = width * 2**(depth-1)).
        depth: number of conv blocks.
        dropout: rate before the classifier.
        input_size: ``(D, H, W)`` the model will see, checked at construction when given.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits; any D >= 1, H, W >= ``2 ** (depth - 1)``.
    """

    pooled_axes = ("H", "W")

    def __init__(self, in_channels: int = 1, num_classes: int = 16, width: int = 16, depth: int = 3,
                 dropout: float = 0.2, input_size: Sequence[int] | None = None) -> None:
        super().__init__()
        widths = self._init_common(in_channels, num_classes, width, depth, dropout, input_size)
        self.features = TimeDistributed(frame_stack(in_channels, widths))
        self.head = pool_linear_head(widths[-1], num_classes, dropout)


class Conv3D133Net(VolumeClassifier):
    """Conv3D with (1, 3, 3) kernels: :class:`TDConv2DNet` written with 3-D layers.

    Layout: :func:`frame_stack_3d` (the same layers, padding and pooling as the TimeDistributed
    stack, with (1, 3, 3) kernels that never mix time steps) -> the same head. Once the weights
    are shared (:func:`hsframe.equivalence.transfer_weights`) the two networks compute the same
    function, in training mode too (BatchNorm3d and BatchNorm2d over folded frames average over
    the same N*D*H*W values).

    Args: as :class:`TDConv2DNet`.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits; any D >= 1, H, W >= ``2 ** (depth - 1)``.
    """

    pooled_axes = ("H", "W")

    def __init__(self, in_channels: int = 1, num_classes: int = 16, width: int = 16, depth: int = 3,
                 dropout: float = 0.2, input_size: Sequence[int] | None = None) -> None:
        super().__init__()
        widths = self._init_common(in_channels, num_classes, width, depth, dropout, input_size)
        self.features = frame_stack_3d(in_channels, widths)
        self.head = pool_linear_head(widths[-1], num_classes, dropout)


def matched_mid_channels(in_ch: int, out_ch: int, t: int = 3, d: int = 3) -> int:
    """Tran et al. (2018)'s M_i: the (2+1)D block's hidden width that matches a full t x d x d conv's parameters.

    ``floor(t d^2 in out / (d^2 in + t out))``, at least 1. A (1, d, d) conv in -> M plus a
    (t, 1, 1) conv M -> out then hold about as many weights as one (t, d, d) conv in -> out.
    """
    return max(1, (t * d * d * in_ch * out_ch) // (d * d * in_ch + t * out_ch))


class R2Plus1DNet(VolumeClassifier):
    """(2+1)D network: each 3x3x3 conv factorised into a (1, 3, 3) spatial and a (3, 1, 1) temporal conv.

    Layout (w = ``width``): per block [Conv3d (1,3,3) -> BN -> ReLU -> Conv3d (3,1,1) -> BN -> ReLU
    -> MaxPool3d((1, 2, 2))] with w, 2w, 4w, ... output channels, no pooling after the last block
    -> global average pool -> Dropout -> Linear. It is :class:`Conv3D133Net` with a temporal conv
    added after every spatial one: the temporal convs are what mixes time steps (bands, slices).

    Args:
        in_channels: C.
        num_classes: K.
        width: output channels of the first block; doubled at each block.
        depth: number of blocks.
        dropout: rate before the classifier.
        mid_channels: hidden channels between the spatial and the temporal conv of every block;
            None (default) uses :func:`matched_mid_channels`, so each block holds about as many
            weights as a 3x3x3 conv (the paper's choice).
        input_size: ``(D, H, W)`` the model will see, checked at construction when given.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits; any D >= 1, H, W >= ``2 ** (depth - 1)``.
    """

    pooled_axes = ("H", "W")

    def __init__(self, in_channels: int = 1, num_classes: int = 16, width: int = 16, depth: int = 3,
                 dropout: float = 0.2, mid_channels: int | None = None,
                 input_size: Sequence[int] | None = None) -> None:
        super().__init__()
        widths = self._init_common(in_channels, num_classes, width, depth, dropout, input_size)
        if mid_channels is not None:
            check_positive(mid_channels=mid_channels)
        layers: list[nn.Module] = []
        c = in_channels
        for i, w in enumerate(widths):
            m = mid_channels if mid_channels is not None else matched_mid_channels(c, w)
            layers += conv_bn_relu(nn.Conv3d(c, m, (1, 3, 3), padding=(0, 1, 1), bias=False), m, dims=3)
            layers += conv_bn_relu(nn.Conv3d(m, w, (3, 1, 1), padding=(1, 0, 0), bias=False), w, dims=3)
            if i < depth - 1:
                layers.append(nn.MaxPool3d((1, 2, 2)))
            c = w
        self.features = nn.Sequential(*layers)
        self.head = pool_linear_head(c, num_classes, dropout)
