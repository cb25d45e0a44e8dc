"""Dense head -> fully convolutional head, with the same weights.

A classifier ``features -> Flatten -> Linear -> ... -> Linear`` trained on fixed-size patches can be
rewritten as ``features -> Conv(h x w) -> ... -> Conv(1x1)``: on the training size it gives the same
logits, as a ``(N, K, 1, 1)`` map; on a larger image it gives a ``(N, K, h', w')`` map of logits in
one pass, each position equal to the dense model applied to the corresponding crop (a sliding
window with the stride of ``features``; exact when ``features`` is unpadded, as in
:class:`~hsframe_blocks.networks.BaselineCNN`).

The first Linear reads a flattened ``(C, h, w)`` feature map, so its weight ``(out, C*h*w)``
becomes a Conv2d weight ``W.view(out, C, h, w)``: that is the order ``torch.nn.Flatten`` uses on
an NCHW tensor (C, then h, then w, row-major).

The trap: a Keras/TensorFlow model is channels-last, its ``Flatten`` reads ``(h, w, C)``. Weights
ported from such a model must be reshaped ``W.view(out, h, w, C).permute(0, 3, 1, 2)``
(``flatten_order="hwc"``). Reshaping them as ``(out, C, h, w)`` raises no error, every shape
matches, and the predictions silently become noise (accuracy near chance); the same happens in
the other direction. ``tests/test_blocks_convert.py`` shows both.
"""
from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn as nn

FlattenOrder = Literal["chw", "hwc"]

# Layers that act elementwise (or are the identity at inference), so they work unchanged on maps.
_ELEMENTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Identity,
    nn.Dropout, nn.AlphaDropout,
)


def _flat_layers(head: nn.Module) -> list[nn.Module]:
    if isinstance(head, nn.Sequential):
        return [layer for child in head for layer in _flat_layers(child)]
    return [head]


def _batchnorm_2d(bn: nn.BatchNorm1d) -> nn.BatchNorm2d:
    """BatchNorm1d over Linear outputs -> BatchNorm2d over the same channels, parameters and statistics copied."""
    out = nn.BatchNorm2d(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                         track_running_stats=bn.track_running_stats)
    state = bn.state_dict()
    out.load_state_dict(state)
    tensors = [t for t in state.values() if t.is_floating_point()]
    return out.to(tensors[0].device) if tensors else out


def convert_dense_head(
    head: nn.Module,
    feature_shape: tuple[int, int, int],
    flatten_order: FlattenOrder = "chw",
) -> nn.Sequential:
    """Rewrite a dense head as convolutions with the same weights (copied, not shared).

    Args:
        head: an ``nn.Sequential`` (nested ones are flattened) or a single ``nn.Linear``:
            an optional leading ``nn.Flatten``, then ``nn.Linear`` layers with elementwise layers
            (ReLU and friends, Dropout) and ``nn.BatchNorm1d`` between them.
        feature_shape: ``(C, h, w)`` of the feature map the head was trained on; the first Linear
            must take ``C*h*w`` inputs.
        flatten_order: how the head's first Linear reads its input. ``"chw"``: torch NCHW
            ``Flatten`` (any head trained in torch). ``"hwc"``: channels-last ``Flatten``
            (weights ported from Keras/TensorFlow). Using the wrong one raises nothing and
            scrambles the predictions.

    Returns:
        ``nn.Sequential`` mapping ``(N, C, H, W)`` to ``(N, K, H - h + 1, W - w + 1)``: the first
        Linear as a Conv2d with an ``h x w`` kernel, every later Linear as a 1x1 Conv2d.

    Raises:
        ValueError: a shape that does not fit, or a Flatten that is not the first layer.
        TypeError: a layer that has no convolutional equivalent here (the message lists those that do).
    """
    if len(feature_shape) != 3 or not all(isinstance(s, int) and s >= 1 for s in feature_shape):
        raise ValueError(f"feature_shape must be (C, h, w), three positive integers; got {feature_shape!r}")
    if flatten_order not in ("chw", "hwc"):
        raise ValueError(f"flatten_order must be 'chw' (torch) or 'hwc' (Keras/TensorFlow channels-last); got {flatten_order!r}")
    c, h, w = feature_shape
    layers = _flat_layers(head)
    if layers and isinstance(layers[0], nn.Flatten):
        layers = layers[1:]
    out: list[nn.Module] = []
    channels: int | None = None  # channels of the map so far; None until the first Linear
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Linear):
            weight = layer.weight.detach()
            if channels is None:
                if layer.in_features != c * h * w:
                    raise ValueError(
                        f"the head's first Linear takes {layer.in_features} inputs, but feature_shape "
                        f"{feature_shape} flattens to {c * h * w}"
                    )
                if flatten_order == "chw":
                    kernel = weight.reshape(layer.out_features, c, h, w)
                else:  # channels-last flatten: index = (i*w + j)*C + k
                    kernel = weight.reshape(layer.out_features, h, w, c).permute(0, 3, 1, 2)
            else:
                if layer.in_features != channels:
                    raise ValueError(f"Linear #{i} takes {layer.in_features} inputs but the layer before gives {channels}")
                kernel = weight.reshape(layer.out_features, channels, 1, 1)
            conv = nn.Conv2d(kernel.shape[1], layer.out_features, tuple(kernel.shape[2:]), bias=layer.bias is not None,
                             device=weight.device, dtype=weight.dtype)
            with torch.no_grad():
                conv.weight.copy_(kernel)
                if layer.bias is not None:
                    conv.bias.copy_(layer.bias.detach())
            out.append(conv)
            channels = layer.out_features
        elif isinstance(layer, nn.BatchNorm1d):
            if channels is None:
                raise TypeError("a BatchNorm1d before the first Linear normalizes flattened features; it has no 2-D form here")
            out.append(_batchnorm_2d(layer))
        elif isinstance(layer, _ELEMENTWISE):
            out.append(copy.deepcopy(layer))
        elif isinstance(layer, nn.Flatten):
            raise ValueError(f"Flatten is only allowed as the head's first layer; found one at position {i}")
        else:
            allowed = ", ".join(t.__name__ for t in (nn.Flatten, nn.Linear, nn.BatchNorm1d, *_ELEMENTWISE))
            raise TypeError(f"cannot convert layer #{i} ({type(layer).__name__}); a dense head may hold {allowed}")
    if channels is None:
        raise ValueError("the head holds no nn.Linear, so there is nothing to convert")
    return nn.Sequential(*out)


def fully_convolutional(
    features: nn.Module,
    head: nn.Module,
    feature_shape: tuple[int, int, int],
    flatten_order: FlattenOrder = "chw",
) -> nn.Sequential:
    """``features`` followed by :func:`convert_dense_head` of ``head``.

    ``features`` is shared, not copied (it was not changed); the converted head holds copies.
    Shapes: whatever ``features`` accepts -> ``(N, K, h', w')``; ``(N, K, 1, 1)`` on the training size.
    """
    return nn.Sequential(features, convert_dense_head(head, feature_shape, flatten_order))


def dense_to_conv(model: nn.Module, input_shape: tuple[int, ...], flatten_order: FlattenOrder = "chw") -> nn.Sequential:
    """Convert a model with ``model.features`` and a dense ``model.head`` into a fully convolutional one.

    The feature shape is measured by running a zero sample of ``input_shape`` (one sample, no batch
    axis: ``(C, D, H, W)`` for an hsframe patch, the size the model was trained on) through
    ``model.features`` in eval mode. Works for :class:`~hsframe_blocks.networks.BaselineCNN` and any
    model laid out the same way.

    Shapes: ``(N, *input_shape)`` -> ``(N, K, 1, 1)``; a larger input ``(N, C, D, H', W')`` ->
    ``(N, K, h', w')``, position ``(i, j)`` = the model on the crop starting at
    ``(i * s, j * s)`` with s the stride of ``features`` (``model.output_stride`` for BaselineCNN).
    """
    features, head = getattr(model, "features", None), getattr(model, "head", None)
    if not isinstance(features, nn.Module) or not isinstance(head, nn.Module):
        raise TypeError(
            f"dense_to_conv expects a model with `features` and `head` submodules; {type(model).__name__} has "
            f"{'no features' if features is None else 'features'} and {'no head' if head is None else 'a head'}. "
            "Use fully_convolutional(features, head, feature_shape) to name them yourself."
        )
    try:
        param = next(model.parameters())
        device, dtype = param.device, param.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.get_default_dtype()
    was_training = features.training
    features.eval()  # BN/Dropout must not change (or be changed by) the probe
    try:
        with torch.no_grad():
            fmap = features(torch.zeros(1, *input_shape, device=device, dtype=dtype))
    finally:
        features.train(was_training)
    if fmap.dim() != 4:
        raise ValueError(f"model.features must give a (N, C, h, w) map; for input {tuple(input_shape)} it gave shape {tuple(fmap.shape)}")
    return fully_convolutional(features, head, tuple(fmap.shape[1:]), flatten_order)
