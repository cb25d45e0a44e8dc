"""Shared pieces: argument checks, the TimeDistributed wrapper, conv stacks and the pooling head.

Every network in this package reads the hsframe sample batch ``(N, C, D, H, W)``: D is the depth
of a volume, the time axis of a frame sequence, or the bands of a hyperspectral patch.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn


def check_positive(**values: int) -> None:
    """Raise a ValueError naming the first argument that is not a positive integer."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")


def check_dropout(dropout: float, name: str = "dropout") -> None:
    """Raise a ValueError unless ``0 <= dropout < 1``."""
    if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1); got {dropout!r}")


def check_num_classes(num_classes: int) -> None:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer of at least 2; got {num_classes!r}")


def check_input_size(input_size: Sequence[int] | None) -> tuple[int, int, int] | None:
    """``None`` or a ``(D, H, W)`` triple of positive integers, returned as a tuple."""
    if input_size is None:
        return None
    size = tuple(input_size)
    if len(size) != 3 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size):
        raise ValueError(f"input_size must be (D, H, W), three positive integers; got {input_size!r}")
    return size  # type: ignore[return-value]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fold_time(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, T, H, W)`` -> ``(N*T, C, H, W)``: every time step (depth slice) becomes one image.

    Row ``n*T + t`` of the result is frame ``t`` of sample ``n``.
    """
    if x.dim() != 5:
        raise ValueError(f"expected a batch of shape (N, C, T, H, W); got a {x.dim()}-D tensor of shape {tuple(x.shape)}")
    n, c, t, h, w = x.shape
    return x.transpose(1, 2).reshape(n * t, c, h, w)


def unfold_time(y: torch.Tensor, batch: int) -> torch.Tensor:
    """``(N*T, F, H', W')`` -> ``(N, F, T, H', W')``, the inverse of :func:`fold_time` for ``batch = N``."""
    if y.dim() != 4 or y.shape[0] % batch:
        raise ValueError(f"expected (N*T, F, H, W) with N = {batch}; got shape {tuple(y.shape)}")
    nt, f, h, w = y.shape
    return y.reshape(batch, nt // batch, f, h, w).transpose(1, 2)


class TimeDistributed(nn.Module):
    """Keras's ``TimeDistributed`` for 2-D modules: the SAME module applied to every time step.

    The time axis is folded into the batch, so one set of weights sees each frame independently
    (no information flows between time steps) and BatchNorm pools its statistics over N*T frames.

    Args:
        module: any ``(B, C, H, W)`` -> ``(B, F, H', W')`` module, e.g. a Conv2d stack.

    Shapes: ``(N, C, T, H, W)`` -> ``(N, F, T, H', W')``.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return unfold_time(self.module(fold_time(x)), x.shape[0])


def stage_widths(width: int, depth: int) -> list[int]:
    """Channels of each conv block: ``width`` doubling at each block, e.g. 16, 32, 64."""
    check_positive(width=width, depth=depth)
    return [width * 2**i for i in range(depth)]


def conv_bn_relu(conv: nn.Module, channels: int, dims: int) -> list[nn.Module]:
    """``conv`` (bias-free: BatchNorm supplies the bias) -> BatchNorm{dims}d -> ReLU."""
    bn = nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm3d(channels)
    return [conv, bn, nn.ReLU(inplace=True)]


def pool_linear_head(channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Global average pool over (D, H, W) -> Flatten -> Dropout -> Linear: ``(N, F, D, H, W)`` -> ``(N, K)``."""
    return nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes))
