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

import math
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
        if n == 2 and layer.groups == 1:  # a large kernel (a dense head as a convolution) may go by FFT
            y = valid_conv2d(x, layer.weight, layer.bias, dilation_)
        else:
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
    A large window is slid by FFT (:func:`valid_conv2d`).
    """
    kernel = linear.weight.view(linear.out_features, x.shape[1], *window)
    return valid_conv2d(x, kernel, linear.bias, dilation)


# Cost model, in multiply-adds of the direct convolution (oneDNN's, on CPU), measured with torch 2.13 on
# 2 cores: a complex multiply-add of the batched matmul costs about 8 of them, and a transform about 80
# per point and log2(points) (pocketFFT on small blocks, with the transposes around it). The FFT is
# chosen only when it is cheaper by this model; on HybridSN's 7x7 head both are close, on 17x17 FFT wins.
_CMAC_COST = 8.0
_FFT_POINT_COST = 80.0
_BLOCKS = (16, 24, 32, 48, 64)  # FFT block sides tried (2^a 3^b: fast sizes for pocketFFT and cuFFT)
_FFT_STATE_BYTES = 1 << 29  # the kernel's spectrum is (B, B/2+1, C, K) complex: keep it under 512 MiB


def fft_plan(n: int, channels: int, out_channels: int, size: tuple[int, int], kernel: tuple[int, int],
             dilation: Dilation = (1, 1)) -> int | None:
    """The FFT block side :func:`valid_conv2d` uses for these shapes, or None when the direct convolution is cheaper.

    ``n`` images of ``channels x size``, an ``out_channels x channels x kernel`` kernel dilated by ``dilation``.
    Per output pixel the direct convolution costs ``C*K*h*w`` multiply-adds; overlap-save FFT blocks of
    ``B x B`` cost ``C*K`` complex ones per frequency (about B^2/2 frequencies per block), plus the
    transforms of the kernel (once per call), of every input block (C each) and output block (K each).
    """
    (h, w), (dh, dw) = kernel, dilation
    out_h, out_w = size[0] - (h - 1) * dh, size[1] - (w - 1) * dw
    if h * w == 1 or out_h < 1 or out_w < 1:
        return None
    best, plan = float(n * channels * out_channels * h * w * out_h * out_w), None
    phases = n * dh * dw  # a dilated kernel is undilated on each of the dh*dw sub-grids (polyphase)
    ph_h, ph_w = -(-out_h // dh), -(-out_w // dw)
    for b in _BLOCKS:
        if b <= max(h, w) or out_channels * channels * b * (b // 2 + 1) * 8 > _FFT_STATE_BYTES:
            continue
        blocks = phases * -(-ph_h // (b - h + 1)) * -(-ph_w // (b - w + 1))
        transforms = out_channels * channels * (h + b / 2) / b + blocks * (channels + out_channels)  # the kernel's: h rows, then columns
        cost = transforms * _FFT_POINT_COST * b * b * math.log2(b * b) + blocks * b * (b // 2 + 1) * channels * out_channels * _CMAC_COST
        if cost < best:
            best, plan = cost, b
    return plan


def valid_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                 dilation: Dilation = (1, 1)) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, dilation=dilation)`` (valid, stride 1, one group), by FFT when that is cheaper.

    Args:
        x: ``(N, C, H, W)``; weight: ``(K, C, h, w)``; bias: ``(K,)`` or None.

    Returns:
        ``(N, K, H - (h-1)*d_h, W - (w-1)*d_w)``, equal to the direct convolution up to float rounding.
        The FFT path (:func:`fft_plan` decides) computes in float32 and returns the input's dtype.
    """
    # The cost model is the CPU's; on CUDA cuDNN chooses among its own algorithms (FFT ones included).
    block = fft_plan(x.shape[0], x.shape[1], weight.shape[0], (x.shape[-2], x.shape[-1]), (weight.shape[-2], weight.shape[-1]), dilation) \
        if x.device.type != "cuda" else None
    if block is None:
        return F.conv2d(x, weight, bias, dilation=dilation)
    return fft_conv2d(x, weight, bias, dilation, block).to(x.dtype)


def fft_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: Dilation, block: int) -> torch.Tensor:
    """:func:`valid_conv2d` by overlap-save FFT blocks of ``block x block`` (more than the kernel's h and w), in float32.

    A dilation ``(d_h, d_w)`` is undone by polyphase decomposition: output rows ``a, a + d_h, ...``
    read only input rows ``a, a + d_h, ...``, so each of the ``d_h * d_w`` sub-grids is an undilated
    correlation with the same ``h x w`` kernel. Each block of ``B x B`` input pixels gives its first
    ``B - h + 1`` rows (and columns) of output exactly: those never read past the block's end, so the
    circular wrap-around of the FFT only touches the discarded ones.
    """
    n, c, height, width = x.shape
    k, _, h, w = weight.shape
    dh, dw = dilation
    out_h, out_w = height - (h - 1) * dh, width - (w - 1) * dw
    x = x.float()
    # Polyphase: (N, C, H, W) -> (N*dh*dw, C, H/dh, W/dw), the input padded at its end to whole sub-grids.
    hp, wp = -(-height // dh), -(-width // dw)
    x = F.pad(x, (0, wp * dw - width, 0, hp * dh - height))
    x = x.reshape(n, c, hp, dh, wp, dw).permute(0, 3, 5, 1, 2, 4).reshape(n * dh * dw, c, hp, wp)
    # Overlap-save: blocks of B x B at a step of S = B - h + 1 (rows; likewise columns).
    sh, sw = block - h + 1, block - w + 1
    qh, qw = hp - h + 1, wp - w + 1  # valid output of each sub-grid
    bh, bw = -(-qh // sh), -(-qw // sw)
    x = F.pad(x, (0, (bw - 1) * sw + block - wp, 0, (bh - 1) * sh + block - hp))
    # Frequency-major layouts throughout, so that the product is one contiguous batched matmul.
    blocks = x.unfold(2, block, sh).unfold(3, block, sw).permute(4, 5, 0, 2, 3, 1)  # (B, B, M, bh, bw, C)
    m = blocks.shape[2]
    spec = torch.fft.rfft2(blocks, dim=(0, 1))  # (B, B/2+1, M, bh, bw, C)
    freqs = spec.shape[0] * spec.shape[1]
    spec = spec.reshape(freqs, m * bh * bw, c).contiguous()  # bmm on strided operands falls back to a slow loop
    # The kernel's spectrum, transformed along its contiguous rows (3x faster than along the outer axes of the
    # frequency-major layout), then made frequency-major by one 2-D transpose. Correlation = conjugate.
    kspec = torch.fft.rfft2(weight.float(), s=(block, block))  # (K, C, B, B/2+1)
    kspec = kspec.reshape(k * c, freqs).T.contiguous().conj_physical_().view(freqs, k, c)  # (F, K, C), conjugated in place
    # Read transposed (BLAS's flag, no copy): on 2 cores 10% faster overall than a (F, C, K) copy.
    out = torch.bmm(spec, kspec.transpose(1, 2))  # (F, M*bh*bw, K): per frequency, C channels to K
    y = torch.fft.irfft2(out.view(block, block // 2 + 1, m, bh, bw, k), s=(block, block), dim=(0, 1))[:sh, :sw]  # the valid part
    y = y.permute(2, 5, 3, 0, 4, 1).reshape(m, k, bh * sh, bw * sw)[..., :qh, :qw]  # (M, K, qh, qw)
    # Back from the sub-grids: (N*dh*dw, K, qh, qw) -> (N, K, qh*dh, qw*dw), then the valid size.
    y = y.reshape(n, dh, dw, k, qh, qw).permute(0, 3, 4, 1, 5, 2).reshape(n, k, qh * dh, qw * dw)[..., :out_h, :out_w]
    if bias is not None:
        y = y + bias.float()[:, None, None]
    return y


def depth_banded_weight(conv: nn.Conv3d, depth: int) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """``conv``'s kernel as a Conv2d kernel over depth-folded channels: ``(weight, bias, D')``.

    A Conv3d with C inputs and a ``(k_d, h, w)`` kernel over a depth of D is, on the map folded to
    ``C*D`` channels (:func:`fold_depth`), a Conv2d to ``K*D'`` channels whose weight is banded:
    output ``(k, o)`` reads input ``(c, o*s - pad + j*dil)`` through tap ``j``; taps that fall in the
    depth padding read zeros, so they are left out. ``D/k_d`` times the multiply-adds, but oneDNN runs
    a Conv2d with many channels several times faster than a Conv3d with few (HybridSN's 1 and 8).

    Returns weight ``(K*D', C*D, h, w)`` (a new tensor: the module's state is untouched), bias
    ``(K*D',)`` or None, and D'. Both are ordered K-major, D'-minor: the output is already folded.
    """
    if conv.groups != 1 or isinstance(conv.padding, str):
        raise ValueError(f"{conv}: only one-group convolutions with numeric padding can be folded over depth")
    w = conv.weight
    k, c, kd, kh, kw = w.shape
    s, pad, dil = conv.stride[0], conv.padding[0], conv.dilation[0]
    out_depth = (depth + 2 * pad - dil * (kd - 1) - 1) // s + 1
    if out_depth < 1:
        raise ValueError(f"{conv}: a depth of {depth} is too small for its kernel")
    band = w.new_zeros(k, out_depth, c, depth, kh, kw)
    for o in range(out_depth):
        for j in range(kd):
            i = o * s - pad + j * dil
            if 0 <= i < depth:
                band[:, o, :, i] = w[:, :, j]
    bias = None if conv.bias is None else conv.bias.repeat_interleave(out_depth)
    return band.reshape(k * out_depth, c * depth, kh, kw), bias, out_depth


def depth_folded_conv3d(x: torch.Tensor, conv: nn.Conv3d, depth: int, dilation: Dilation = (1, 1)) -> tuple[torch.Tensor, int]:
    """``conv`` (spatially valid, spatial stride 1) slid over a depth-folded map, as one banded Conv2d.

    Args:
        x: ``(N, C*D, H, W)``, i.e. :func:`fold_depth` of the ``(N, C, D, H, W)`` input.
        depth: D. dilation: the accumulated spatial stride (dilates the kernel, as in :func:`slide`).

    Returns:
        ``(y, D')``: ``y`` ``(N, K*D', H', W')`` equals :func:`fold_depth` of ``conv`` slid over the
        unfolded input, up to float rounding (the same products, with zeros added).
    """
    _, stride, _, dil = _spatial_split(conv, 3)
    if stride[-2:] != (1, 1):
        raise ValueError(f"{conv}: a spatially strided Conv3d is slid a trous by slide(), not folded over depth")
    weight, bias, out_depth = depth_banded_weight(conv, depth)
    return F.conv2d(x, weight, bias, dilation=(dil[-2] * dilation[0], dil[-1] * dilation[1])), out_depth


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
