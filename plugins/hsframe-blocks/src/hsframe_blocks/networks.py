"""Small 2-D patch classifiers that treat the spectral bands as channels.

Every network maps the hsframe patch batch ``(N, C, D, H, W)`` (C = 1, D = bands or PCA
components, H = W = patch size) to ``(N, num_classes)`` logits, and is split into ``features``
(the patch to a feature map) and ``head`` (the feature map to logits), so that heads can be
inspected, swapped or converted (:mod:`hsframe_blocks.convert`).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from hsframe.sliding import check_scene, crop, slide
from hsframe_blocks.blocks import (
    BandsToChannels,
    ConvBNAct,
    DepthwiseSeparableConv2d,
    InvertedResidual,
    SpectralConv1d,
    check_dropout,
    check_positive,
)


def _check_sizes(in_channels: int, bands: int, num_classes: int) -> None:
    check_positive(in_channels=in_channels, bands=bands)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer of at least 2; got {num_classes!r}")


def _pool_linear_head(channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Global average pooling -> Flatten -> Dropout -> Linear: ``(N, channels, h, w)`` -> ``(N, K)``."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes))


class PatchClassifier(nn.Module):
    """Base: ``forward(x) = head(features(x))``, ``(N, C, D, H, W)`` -> ``(N, num_classes)``."""

    features: nn.Module
    head: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DSConvNet(PatchClassifier):
    """MobileNet-v1-style network of depthwise-separable blocks.

    Layout (w = ``width``): bands to channels -> 3x3 conv w -> DS(w -> 2w) -> DS(2w -> 2w, stride 2)
    -> DS(2w -> 4w) -> DS(4w -> 4w) -> global average pool -> Dropout -> Linear(4w, K).
    The first layer is a full convolution, as in MobileNet v1: a depthwise conv over the raw bands
    could not mix them.

    Args:
        in_channels: C of the ``(N, C, D, H, W)`` patch (1 for a plain patch).
        bands: D, bands or PCA components.
        num_classes: K.
        width: w, channels of the first layer.
        dropout: rate before the classifier.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits; any H, W >= 1.
    """

    def __init__(self, in_channels: int = 1, bands: int = 15, num_classes: int = 16, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        _check_sizes(in_channels, bands, num_classes)
        check_positive(width=width)
        check_dropout(dropout)
        w = width
        self.features = nn.Sequential(
            BandsToChannels(in_channels * bands),
            ConvBNAct(in_channels * bands, w, 3),
            DepthwiseSeparableConv2d(w, 2 * w),
            DepthwiseSeparableConv2d(2 * w, 2 * w, stride=2),
            DepthwiseSeparableConv2d(2 * w, 4 * w),
            DepthwiseSeparableConv2d(4 * w, 4 * w),
        )
        self.head = _pool_linear_head(4 * w, num_classes, dropout)


class MobileNetV2(PatchClassifier):
    """MobileNet-v2-style network of inverted residual blocks, sized for small patches.

    Layout (w = ``width``, t = ``expand_ratio``): bands to channels -> 3x3 conv w (ReLU6) ->
    IR(w -> w/2, t=1) -> IR(w/2 -> 3w/4, stride 2) -> IR(3w/4 -> 3w/4) -> IR(3w/4 -> w) -> IR(w -> w)
    -> 1x1 conv 4w (ReLU6) -> global average pool -> Dropout -> Linear(4w, K). Two of the blocks
    keep their shape and so carry a residual connection.

    Args:
        in_channels: C of the patch.
        bands: D of the patch.
        num_classes: K.
        width: w, at least 4 (the narrowest block has w/2 channels).
        expand_ratio: t of the expanding blocks.
        dropout: rate before the classifier.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits; any H, W >= 1.
    """

    def __init__(
        self, in_channels: int = 1, bands: int = 15, num_classes: int = 16, width: int = 32,
        expand_ratio: int = 6, dropout: float = 0.2,
    ) -> None:
        super().__init__()
        _check_sizes(in_channels, bands, num_classes)
        if not isinstance(width, int) or width < 4:
            raise ValueError(f"width must be an integer of at least 4; got {width!r}")
        check_dropout(dropout)
        w, t = width, expand_ratio
        c1, c2 = w // 2, (3 * w) // 4
        self.features = nn.Sequential(
            BandsToChannels(in_channels * bands),
            ConvBNAct(in_channels * bands, w, 3, act=nn.ReLU6),
            InvertedResidual(w, c1, expand_ratio=1),
            InvertedResidual(c1, c2, stride=2, expand_ratio=t),
            InvertedResidual(c2, c2, expand_ratio=t),
            InvertedResidual(c2, w, expand_ratio=t),
            InvertedResidual(w, w, expand_ratio=t),
            ConvBNAct(w, 4 * w, 1, act=nn.ReLU6),
        )
        self.head = _pool_linear_head(4 * w, num_classes, dropout)


class Spectral1x1Net(PatchClassifier):
    """Spectral-first network: 1x1 convolutions mix each pixel's bands before any spatial conv.

    Layout (w = ``width``): bands to channels -> 1x1 conv w -> 1x1 conv w (a per-pixel spectral
    MLP, shared across pixels) -> 3x3 conv w -> 3x3 conv w, stride 2 -> global average pool ->
    Dropout -> Linear(w, K). BN and ReLU after every conv.

    Args:
        in_channels: C of the patch.
        bands: D of the patch.
        num_classes: K.
        width: w.
        dropout: rate before the classifier.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits; any H, W >= 1.
    """

    def __init__(self, in_channels: int = 1, bands: int = 15, num_classes: int = 16, width: int = 64, dropout: float = 0.3) -> None:
        super().__init__()
        _check_sizes(in_channels, bands, num_classes)
        check_positive(width=width)
        check_dropout(dropout)
        w = width
        self.features = nn.Sequential(
            BandsToChannels(in_channels * bands),
            ConvBNAct(in_channels * bands, w, 1),  # spectral mixing, pixel by pixel
            ConvBNAct(w, w, 1),
            ConvBNAct(w, w, 3),  # only now look at the neighbours
            ConvBNAct(w, w, 3, stride=2),
        )
        self.head = _pool_linear_head(w, num_classes, dropout)


class Spectral1DNet(PatchClassifier):
    """1-D convolutions along each pixel's spectrum (shared across pixels), then spatial convs.

    Layout (w = ``width``): :class:`~hsframe_blocks.blocks.SpectralConv1d` (Conv1d 8@7 -> 16@5,
    stride 2 along the spectrum) -> 2-D map of 16 * ceil(D/2) channels -> 1x1 conv w -> 3x3 conv w
    -> 3x3 conv w, stride 2 -> global average pool -> Dropout -> Linear(w, K). For C > 1 the C
    input channels are the Conv1d's input channels (the spectrum stays the convolution axis).

    Args:
        in_channels: C of the patch.
        bands: D of the patch.
        num_classes: K.
        width: w, channels of the spatial convs.
        spectral_filters: filters of the two Conv1d layers.
        dropout: rate before the classifier.

    Shapes: ``(N, C, D, H, W)`` -> ``(N*H*W, C, D)`` -> ``(N, 16*ceil(D/2), H, W)`` -> ``(N, K)`` logits.
    """

    def __init__(
        self, in_channels: int = 1, bands: int = 15, num_classes: int = 16, width: int = 64,
        spectral_filters: Sequence[int] = (8, 16), dropout: float = 0.3,
    ) -> None:
        super().__init__()
        _check_sizes(in_channels, bands, num_classes)
        check_positive(width=width)
        check_dropout(dropout)
        if not isinstance(spectral_filters, (list, tuple)) or len(spectral_filters) != 2:
            raise ValueError(f"spectral_filters must hold two filter counts, e.g. [8, 16]; got {spectral_filters!r}")
        spectral = SpectralConv1d(in_channels, bands, filters=spectral_filters, kernel_sizes=(7, 5), strides=(1, 2))
        w = width
        self.features = nn.Sequential(
            spectral,
            ConvBNAct(spectral.out_channels, w, 1),
            ConvBNAct(w, w, 3),
            ConvBNAct(w, w, 3, stride=2),
        )
        self.head = _pool_linear_head(w, num_classes, dropout)


class NiNNet(PatchClassifier):
    """Network in network (Lin et al., 2014): mlpconv blocks and a fully convolutional head.

    Layout (w = ``width``): bands to channels -> [3x3 w, 1x1 w, 1x1 w] -> max pool 3/2 -> Dropout
    -> [3x3 2w, 1x1 2w, 1x1 2w] -> Dropout -> head: [3x3 2w, 1x1 2w, 1x1 K] -> global average pool.
    No dense layer: each of the K last channels is a class-confidence map whose mean is the logit.
    BN and ReLU after every conv except the last (its output are the logits, a ReLU would clip them).

    Args:
        in_channels: C of the patch.
        bands: D of the patch.
        num_classes: K.
        width: w.
        dropout: rate after each mlpconv block.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K, h, w)`` class maps -> ``(N, K)`` logits; any H, W >= 1.
    """

    def __init__(self, in_channels: int = 1, bands: int = 15, num_classes: int = 16, width: int = 48, dropout: float = 0.3) -> None:
        super().__init__()
        _check_sizes(in_channels, bands, num_classes)
        check_positive(width=width)
        check_dropout(dropout)
        w = width

        def mlpconv(cin: int, cout: int) -> list[nn.Module]:
            return [ConvBNAct(cin, cout, 3), ConvBNAct(cout, cout, 1), ConvBNAct(cout, cout, 1)]

        self.features = nn.Sequential(
            BandsToChannels(in_channels * bands),
            *mlpconv(in_channels * bands, w), nn.MaxPool2d(3, stride=2, padding=1), nn.Dropout(dropout),
            *mlpconv(w, 2 * w), nn.Dropout(dropout),
        )
        self.head = nn.Sequential(
            ConvBNAct(2 * w, 2 * w, 3), ConvBNAct(2 * w, 2 * w, 1),
            nn.Conv2d(2 * w, num_classes, 1),  # class maps; bias kept, no BN/ReLU on logits
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )


class DilatedCNN(PatchClassifier):
    """3x3 convolutions with growing dilation: a wide receptive field with no pooling or striding.

    Layout (w = ``width``): bands to channels -> one 3x3 conv w per dilation (default 1, 2, 4;
    padding = dilation, so every map keeps the patch size) -> global average pool -> Dropout ->
    Linear(w, K). Receptive field ``1 + 2 * sum(dilations)`` (15 for 1, 2, 4), in
    ``self.receptive_field``.

    Args:
        in_channels: C of the patch.
        bands: D of the patch.
        num_classes: K.
        width: w.
        dilations: dilation of each 3x3 conv.
        dropout: rate before the classifier.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, w, H, W)`` -> ``(N, K)`` logits; any H, W >= 1.
    """

    def __init__(
        self, in_channels: int = 1, bands: int = 15, num_classes: int = 16, width: int = 64,
        dilations: Sequence[int] = (1, 2, 4), dropout: float = 0.3,
    ) -> None:
        super().__init__()
        _check_sizes(in_channels, bands, num_classes)
        check_positive(width=width)
        check_dropout(dropout)
        dilations = list(dilations)
        if not dilations or not all(isinstance(d, int) and d >= 1 for d in dilations):
            raise ValueError(f"dilations must be a non-empty list of positive integers, e.g. [1, 2, 4]; got {dilations!r}")
        layers: list[nn.Module] = [BandsToChannels(in_channels * bands)]
        channels = in_channels * bands
        for d in dilations:
            layers.append(ConvBNAct(channels, width, 3, dilation=d))
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = _pool_linear_head(width, num_classes, dropout)
        self.receptive_field = 1 + 2 * sum(dilations)


class BaselineCNN(PatchClassifier):
    """The plain CNN most multi-band studies start from (Keras-tutorial style, valid convolutions).

    The typical multi-band satellite case is a 10-band, 15-class, 32x32 patch set:
    ``BaselineCNN(bands=10, patch_size=(32, 32), num_classes=15)``. Layout (w = ``width``):

    features: bands to channels -> [3x3 conv w -> ReLU -> 2x2 max pool -> Dropout]
              -> [3x3 conv 2w -> ReLU -> 2x2 max pool -> Dropout]
    head:     Flatten -> Dense ``hidden`` -> ReLU -> Dropout -> Dense K

    The convolutions are unpadded, so the features are exactly translation-equivariant with stride
    ``self.output_stride`` (4): :func:`hsframe_blocks.convert.dense_to_conv` turns the dense head
    into convolutions and the model into a sliding-window classifier over larger images, and
    :meth:`scene_forward` slides it at stride 1 (every pixel of a scene in one pass).

    Args:
        in_channels: C of the patch.
        bands: D of the patch.
        patch_size: (H, W), or one int for a square patch; each at least 10 (two valid 3x3 convs
            and two 2x2 pools).
        num_classes: K.
        width: w, filters of the first conv (the second has 2w).
        hidden: units of the hidden dense layer.
        dropout: rate after each conv block.
        dense_dropout: rate after the hidden dense layer.

    Shapes: ``(N, C, D, H, W)`` -> features ``(N, 2w, h, w)`` with ``h = ((H - 2) // 2 - 2) // 2``
    (likewise w; in ``self.feature_shape``) -> ``(N, K)`` logits.
    """

    output_stride = 4

    def __init__(
        self, in_channels: int = 1, bands: int = 10, patch_size: int | tuple[int, int] = (32, 32), num_classes: int = 15,
        width: int = 32, hidden: int = 128, dropout: float = 0.25, dense_dropout: float = 0.5,
    ) -> None:
        super().__init__()
        _check_sizes(in_channels, bands, num_classes)
        check_positive(width=width, hidden=hidden)
        check_dropout(dropout)
        check_dropout(dense_dropout, "dense_dropout")
        if isinstance(patch_size, int):
            patch_size = (patch_size, patch_size)
        if len(patch_size) != 2:
            raise ValueError(f"patch_size must be (H, W) or one int; got {patch_size!r}")
        h, w_ = patch_size
        if h < 10 or w_ < 10:
            raise ValueError(f"baseline_cnn needs patches of at least 10x10 (two valid 3x3 convs, two 2x2 pools); got {h}x{w_}")
        fh, fw = ((h - 2) // 2 - 2) // 2, ((w_ - 2) // 2 - 2) // 2
        self.patch_size = (h, w_)  # plain attribute (no state): scene_forward crops to it
        self.feature_shape = (2 * width, fh, fw)
        self.features = nn.Sequential(
            BandsToChannels(in_channels * bands),
            nn.Conv2d(in_channels * bands, width, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(dropout),
            nn.Conv2d(width, 2 * width, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(dropout),
        )
        self.head = nn.Sequential(
            nn.Flatten(),  # torch flattens (C, h, w) row-major; convert.py relies on that order
            nn.Linear(2 * width * fh * fw, hidden), nn.ReLU(inplace=True), nn.Dropout(dense_dropout),
            nn.Linear(hidden, num_classes),
        )

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p_h - 1, W + p_w - 1)`` -> ``(N, K, H, W)`` logits, equal to ``forward`` per patch.

        The valid convolutions and 2x2 poolings run over the scene at stride 1, every later kernel
        dilated by the stride so far (:func:`hsframe.sliding.slide`, a trous); the dense head is
        :func:`hsframe_blocks.convert.convert_dense_head`'s convolution, dilated by the total stride
        ``output_stride``. So every pixel gets its patch's logits, not only every 4th one.
        """
        from hsframe_blocks.convert import convert_dense_head

        size = check_scene(x, self.patch_size)
        y, dilation = slide(self.features[1:], self.features[0](x))  # after BandsToChannels: (N, 2w, ., .)
        y, _ = slide(convert_dense_head(self.head, self.feature_shape), y, dilation)
        return crop(y, size)
