"""Reusable layers: bands-as-channels folding, depthwise-separable and inverted-residual blocks,
and a per-pixel 1-D spectral convolution.

Every block here works on 2-D feature maps ``(N, C, H, W)`` except ``BandsToChannels`` (which
produces them from the hsframe patch ``(N, C, D, H, W)``) and ``SpectralConv1d`` (which reads the
patch itself, because the spectrum is its convolution axis).
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


def fold_bands(x: torch.Tensor, expected_channels: int | None = None) -> torch.Tensor:
    """``(N, C, D, H, W)`` -> ``(N, C*D, H, W)``: the spectral bands become 2-D channels.

    For a plain hyperspectral patch C = 1 and this is a squeeze; for C > 1 the C*D planes are laid
    out channel-major (all D bands of input channel 0 first). ``expected_channels``, when given, is
    the C*D the next layer was built for; a mismatch is a ValueError naming both.
    """
    if x.dim() != 5:
        raise ValueError(f"expected a patch batch of shape (N, C, D, H, W); got a {x.dim()}-D tensor of shape {tuple(x.shape)}")
    n, c, d, h, w = x.shape
    if expected_channels is not None and c * d != expected_channels:
        raise ValueError(
            f"model was built for C*D = {expected_channels} input planes; got C={c}, D={d} (C*D = {c * d})"
        )
    return x.reshape(n, c * d, h, w)


class BandsToChannels(nn.Module):
    """Module form of :func:`fold_bands`: ``(N, C, D, H, W)`` -> ``(N, C*D, H, W)``.

    Args:
        channels: C*D the network was built for (checked on every call), or None to skip the check.
    """

    def __init__(self, channels: int | None = None) -> None:
        super().__init__()
        if channels is not None:
            check_positive(channels=channels)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fold_bands(x, self.channels)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias: BatchNorm supplies it) -> BatchNorm2d -> activation.

    ``(N, in_ch, H, W)`` -> ``(N, out_ch, H', W')``; padding keeps H, W at stride 1 (``same``).

    Args:
        in_ch, out_ch: channels in and out.
        kernel_size: odd square kernel.
        stride: spatial stride.
        groups: conv groups (``in_ch`` for a depthwise conv).
        dilation: kernel dilation; padding grows with it so the map keeps its size.
        act: activation module class (ReLU, ReLU6) or None for a linear (activation-free) output.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        act: type[nn.Module] | None = nn.ReLU,
    ) -> None:
        check_positive(in_ch=in_ch, out_ch=out_ch, kernel_size=kernel_size, stride=stride, groups=groups, dilation=dilation)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd so that padding keeps the map centred; got {kernel_size}")
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=dilation * (kernel_size // 2),
                      dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        if act is not None:
            layers.append(act(inplace=True))
        super().__init__(*layers)


class DepthwiseSeparableConv2d(nn.Module):
    """MobileNet-v1 block: depthwise 3x3 (``groups = in_ch``) -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU.

    A full 3x3 conv from ``in_ch`` to ``out_ch`` holds ``9 * in_ch * out_ch`` weights; this block
    holds ``9 * in_ch + in_ch * out_ch`` (8 -> 32 channels: 2,304 vs 328, BN not counted).

    Args:
        in_ch: input channels.
        out_ch: output channels.
        stride: stride of the depthwise conv (2 halves H and W, rounding up).

    Shapes: ``(N, in_ch, H, W)`` -> ``(N, out_ch, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        check_positive(in_ch=in_ch, out_ch=out_ch, stride=stride)
        self.depthwise = ConvBNAct(in_ch, in_ch, 3, stride=stride, groups=in_ch)
        self.pointwise = ConvBNAct(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class InvertedResidual(nn.Module):
    """MobileNet-v2 block: 1x1 expansion (x ``expand_ratio``) -> depthwise 3x3 -> 1x1 linear projection.

    BN after every conv, ReLU6 after the first two; the projection stays linear because a ReLU on
    the narrow output would destroy information (Sandler et al., 2018). The input is added to the
    output exactly when the shapes match: ``stride == 1`` and ``in_ch == out_ch``
    (``self.use_residual``). ``expand_ratio == 1`` skips the expansion conv.

    Args:
        in_ch: input channels.
        out_ch: output channels.
        stride: stride of the depthwise conv.
        expand_ratio: t, hidden width = ``in_ch * t``.

    Shapes: ``(N, in_ch, H, W)`` -> ``(N, out_ch, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, expand_ratio: int = 6) -> None:
        super().__init__()
        check_positive(in_ch=in_ch, out_ch=out_ch, stride=stride, expand_ratio=expand_ratio)
        hidden = in_ch * expand_ratio
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(in_ch, hidden, 1, act=nn.ReLU6))
        layers += [
            ConvBNAct(hidden, hidden, 3, stride=stride, groups=hidden, act=nn.ReLU6),
            ConvBNAct(hidden, out_ch, 1, act=None),
        ]
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


class SpectralConv1d(nn.Module):
    """1-D convolutions along the spectrum of every pixel, with weights shared across pixels.

    Each pixel's spectrum is one sequence: ``(N, C, D, H, W)`` -> ``(N*H*W, C, D)`` (C = 1 for a
    plain patch, so the input channels of the first Conv1d are the patch's C), then a stack of
    Conv1d -> BN -> ReLU, then back to a 2-D map whose channels are the filters times the
    remaining spectral positions, so band position is kept (no pooling along the spectrum).

    Args:
        in_channels: C of the patch.
        bands: D of the patch.
        filters: output filters of each Conv1d layer, e.g. ``(8, 16)``.
        kernel_sizes: odd kernel length of each layer (same length as ``filters``).
        strides: spectral stride of each layer (same length as ``filters``).

    Shapes: ``(N, C, D, H, W)`` -> ``(N, out_channels, H, W)``, ``out_channels = filters[-1] * D'``
    with ``D' = out_bands`` (D divided by each stride, rounded up).
    """

    def __init__(
        self,
        in_channels: int,
        bands: int,
        filters: Sequence[int] = (8, 16),
        kernel_sizes: Sequence[int] = (7, 5),
        strides: Sequence[int] = (1, 2),
    ) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, bands=bands)
        filters, kernel_sizes, strides = list(filters), list(kernel_sizes), list(strides)
        if not filters or not len(filters) == len(kernel_sizes) == len(strides):
            raise ValueError(
                "filters, kernel_sizes and strides must be non-empty and equally long; got "
                f"{len(filters)}, {len(kernel_sizes)} and {len(strides)} entries"
            )
        layers: list[nn.Module] = []
        channels, length = in_channels, bands
        for f, k, s in zip(filters, kernel_sizes, strides):
            check_positive(filters=f, kernel_size=k, stride=s)
            if k % 2 == 0:
                raise ValueError(f"spectral kernel sizes must be odd (padding keeps bands centred); got {k}")
            layers += [nn.Conv1d(channels, f, k, stride=s, padding=k // 2, bias=False), nn.BatchNorm1d(f), nn.ReLU(inplace=True)]
            channels, length = f, (length - 1) // s + 1
        self.in_channels, self.bands = in_channels, bands
        self.out_bands = length
        self.out_channels = channels * length
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != self.in_channels or x.shape[2] != self.bands:
            raise ValueError(
                f"expected (N, {self.in_channels}, {self.bands}, H, W); got a tensor of shape {tuple(x.shape)}"
            )
        n, c, d, h, w = x.shape
        seq = x.permute(0, 3, 4, 1, 2).reshape(n * h * w, c, d)  # one sequence per pixel
        out = self.conv(seq)  # (N*H*W, F, D')
        f, d_out = out.shape[1], out.shape[2]
        return out.reshape(n, h, w, f * d_out).permute(0, 3, 1, 2).contiguous()  # (N, F*D', H, W)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (BatchNorm running statistics are buffers and are not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
