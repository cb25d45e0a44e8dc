"""Patch-network layers slid over a whole scene at stride 1: the pieces ``scene_forward`` is made of.

A patch classifier built from spatially *valid* (unpadded) convolutions and poolings, then dense
layers over the last feature window, computes for the patch starting at padded pixel ``(i, j)`` a
function of that window only. Run over the whole padded scene, the same layers give every pixel's
result in one pass, overlapping patches sharing their work (:mod:`hsframe.inference`'s contract).

A layer with spatial stride ``s`` inside the patch network would keep only every s-th window. The
*a trous* rewrite (Mallat's algorithme a trous; the dense form of shift-and-stitch) keeps them all:
the layer runs at stride 1 and every later kernel is dilated by ``s``, so output ``(i, j)`` reads
exactly the inputs the patch network reads for the patch at ``(i, j)``. Pooling in floor mode that
drops a patch's last row is harmless: that row is simply never read.

Stride, padding and dilation along the depth axis D (bands, time) are kept as they are: every pixel
has the same D, so nothing slides along it. A spatially padded layer cannot be slid (a patch's zero
border is not its neighbours' pixels) and is refused. Weights are used in place, never copied.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

Dilation = tuple[int, int]

# Layers that act on each position independently (Dropout: skipped, this is inference).
_POINTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Identity,
    nn.BatchNorm2d, nn.BatchNorm3d, nn.LocalResponseNorm,
)
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def _tuple(value: int | tuple[int, ...], n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple) else (value,) * n


def _spatial_split(layer: nn.Module, n: int) -> tuple[tuple[int, ...], ...]:
    """``(kernel, stride, padding, dilation)`` of a conv/pool as ``n``-tuples; spatial padding refused."""
    kernel, stride, padding, dilation = (_tuple(getattr(layer, a), n) for a in ("kernel_size", "stride", "padding", "dilation"))
    if isinstance(layer.padding, str) or any(padding[-2:]) or getattr(layer, "ceil_mode", False):
        raise ValueError(f"{layer} pads (or ceil-rounds) its spatial axes, so a patch's border differs from the scene; "
                         "only spatially valid layers can be slid")
    return kernel, stride, padding, dilation


def _slide_one(layer: nn.Module, x: torch.Tensor, dil: Dilation) -> tuple[torch.Tensor, Dilation]:
    if isinstance(layer, nn.Sequential):
        return slide(layer, x, dil)
    if isinstance(layer, _DROPOUT):
        return x, dil
    if isinstance(layer, _POINTWISE):
        return layer(x), dil
    if isinstance(layer, nn.BatchNorm1d):  # after a dense layer: per pixel over the channels, with its running statistics
        return F.batch_norm(x, layer.running_mean, layer.running_var, layer.weight, layer.bias, False, 0.0, layer.eps), dil
    if isinstance(layer, nn.Linear):  # a dense layer after the first one: per pixel, over the channels
        return F.conv2d(x, layer.weight[:, :, None, None], layer.bias), dil
    n = {nn.Conv2d: 2, nn.Conv3d: 3, nn.MaxPool2d: 2, nn.MaxPool3d: 3}.get(type(layer))
    if n is None:
        raise TypeError(f"cannot slide {type(layer).__name__} over a scene; slide() takes Conv2d/3d, MaxPool2d/3d, "
                        "Linear (per pixel), Dropout and pointwise layers (activations, BatchNorm, LocalResponseNorm)")
    kernel, stride, padding, dilation = _spatial_split(layer, n)
    stride_ = (*stride[:-2], 1, 1)  # depth stride kept; spatial stride becomes dilation of what follows
    dilation_ = (*dilation[:-2], dilation[-2] * dil[0], dilation[-1] * dil[1])
    if isinstance(layer, (nn.Conv2d, nn.Conv3d)):
        conv = F.conv2d if n == 2 else F.conv3d
        y = conv(x, layer.weight, layer.bias, stride_, padding, dilation_, layer.groups)
    else:
        pool = F.max_pool2d if n == 2 else F.max_pool3d
        y = pool(x, kernel, stride_, padding, dilation_)
    return y, (dil[0] * stride[-2], dil[1] * stride[-1])


def slide(layers: Iterable[nn.Module], x: torch.Tensor, dilation: Dilation = (1, 1)) -> tuple[torch.Tensor, Dilation]:
    """Run ``layers`` (a patch network's valid layers, in order) over a scene at stride 1.

    Args:
        layers: an ``nn.Sequential`` or any iterable of the layers listed in the TypeError.
        x: ``(N, C, [D,] H', W')`` scene (or feature map of it).
        dilation: the spatial stride the patch network has accumulated before ``layers``.

    Returns:
        ``(y, dilation)``: ``y[..., i, j]`` is what the patch network computes at its first output
        position for the window starting at ``(i, j)``; ``dilation`` is the accumulated spatial stride
        to pass on (to :func:`slide_linear` or the next :func:`slide`).
    """
    for layer in layers:
        x, dilation = _slide_one(layer, x, dilation)
    return x, dilation


def slide_linear(x: torch.Tensor, linear: nn.Linear, window: tuple[int, int], dilation: Dilation = (1, 1)) -> torch.Tensor:
    """A Linear that read a flattened ``(C, h, w)`` feature window, slid over ``x`` ``(N, C, H', W')``.

    The weight is viewed (not copied) as a ``(K, C, h, w)`` kernel, dilated by the accumulated
    stride: torch's ``Flatten`` of an NCHW map reads C, then h, then w. Returns ``(N, K, H'', W'')``.
    """
    kernel = linear.weight.view(linear.out_features, x.shape[1], *window)
    return F.conv2d(x, kernel, linear.bias, dilation=dilation)


def fold_depth(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, D, H, W)`` -> ``(N, C*D, H, W)``, the order in which ``Flatten`` reads a ``(C, D, h, w)`` window."""
    n, c, d, h, w = x.shape
    return x.reshape(n, c * d, h, w)


def check_scene(x: torch.Tensor, patch_size: tuple[int, int]) -> tuple[int, int]:
    """The ``(H, W)`` of a padded scene ``(N, C, D, H + p_h - 1, W + p_w - 1)``; a ValueError saying what is expected otherwise."""
    ph, pw = patch_size
    if x.dim() != 5 or x.shape[-2] < ph or x.shape[-1] < pw:
        raise ValueError(f"scene_forward needs (N, C, D, H + {ph - 1}, W + {pw - 1}) with H, W >= 1; got {tuple(x.shape)}")
    return x.shape[-2] - ph + 1, x.shape[-1] - pw + 1


def crop(y: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The first ``(H, W)`` positions of a slid map: patches whose last rows a floor pooling dropped leave extra ones."""
    return y[..., : size[0], : size[1]]
