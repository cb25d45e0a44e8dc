"""Full-scene inference: one fully convolutional pass per tile when the model allows it.

The contract (MONAI-style sliding-window inference, done by the model itself): a patch classifier
MAY implement ::

    scene_forward(self, x: Tensor) -> Tensor
        x:       (1, C, D, H + p - 1, W + p - 1)  the scene padded by r = p // 2 on each side,
                                                  exactly as PatchSource pads it
        returns: (1, K, H, W)                     logits; [0, :, i, j] == forward(patch centred at (i, j))

computed fully convolutionally (valid convolutions over the scene, dense layers as convolutions,
dropout skipped; hsframe calls it in eval mode). Overlapping patches then share their convolutions
instead of recomputing them, which on a 25x25 patch is most of the work. :mod:`hsframe.sliding`
holds the pieces (strided layers slid a trous, a dense layer as a convolution). Which shipped models
have it, and why the others cannot: docs/plugins.md, "Full-scene maps: scene_forward".

:func:`scene_logits` / :func:`infer_scene` cut the padded cube into overlapping windows so memory
stays bounded: an output tile of ``t x t`` pixels needs the input window of ``(t + p - 1)^2``
pixels around it, and the tiles' logits are stitched. A model without ``scene_forward`` is
inferred patch by patch (:func:`patch_logits`, :func:`infer_samples`), and ``log`` is told so once.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Literal

import numpy as np
import torch
import torch.nn as nn

from hsframe.data.patches import PatchSource, SampleSource
from hsframe.device import autocast
from hsframe.errors import HsframeError

Padding = Literal["zero", "reflect"]
Log = Callable[[str], object]


def gives_probabilities(model: nn.Module) -> bool:
    """Whether the softmax of ``model``'s outputs are class probabilities: a network's logits are; a module
    that sets ``outputs_logits = False`` (an estimator's one-hot votes) gives none."""
    return bool(getattr(model, "outputs_logits", True))


def has_scene_forward(model: nn.Module) -> bool:
    """Whether ``model`` implements the ``scene_forward`` contract (a callable attribute)."""
    return callable(getattr(model, "scene_forward", None))


def tile_windows(height: int, width: int, patch_size: int, tile: int | None) -> Iterator[tuple[slice, slice, slice, slice]]:
    """The tiles covering an ``H x W`` scene and the padded-cube windows that feed them.

    Yields ``(out_rows, out_cols, in_rows, in_cols)``: the output tile is ``[out_rows, out_cols]``
    of the ``(H, W)`` map (at most ``tile x tile``; the last row and column of tiles may be
    smaller), and its input is ``[in_rows, in_cols]`` of the padded ``(H + p - 1, W + p - 1)``
    cube, i.e. the tile extended by ``r = p // 2`` on each side. ``tile=None``: one tile.
    """
    if tile is not None and tile < 1:
        raise HsframeError(f"tile must be a positive number of pixels or None (whole scene), got {tile}")
    th = height if tile is None else tile
    tw = width if tile is None else tile
    for i0 in range(0, height, th):
        i1 = min(i0 + th, height)
        for j0 in range(0, width, tw):
            j1 = min(j0 + tw, width)
            # In padded coordinates the patch of pixel (i, j) starts at (i, j), so the window of
            # output rows i0..i1-1 is padded rows i0..i1-1+p-1.
            yield slice(i0, i1), slice(j0, j1), slice(i0, i1 + patch_size - 1), slice(j0, j1 + patch_size - 1)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode (no dropout, running BatchNorm statistics) for the call, the caller's mode after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _source(features: torch.Tensor | np.ndarray, patch_size: int, padding: Padding, device: torch.device | str | None) -> PatchSource:
    features = torch.as_tensor(features)
    if features.dim() != 3:
        raise HsframeError(f"features must be a (K, H, W) cube, got shape {tuple(features.shape)}")
    device = features.device if device is None else torch.device(device)
    return PatchSource(features.to(device), patch_size, padding)


def _fallback_note(model: nn.Module) -> str:
    return f"{type(model).__name__} has no scene_forward: predicting patch by patch"


@torch.no_grad()
def scene_logits(
    model: nn.Module,
    features: torch.Tensor | np.ndarray,
    patch_size: int,
    padding: Padding = "zero",
    device: torch.device | str | None = None,
    amp: bool = True,
    tile: int | None = 256,
    batch_size: int = 256,
    log: Log | None = None,
) -> torch.Tensor:
    """Logits of every pixel of a scene: ``(K_classes, H, W)`` float32, on the CPU.

    Args:
        model: a patch classifier ``(N, 1, K, p, p) -> (N, K_classes)``, already on ``device``.
        features: ``(K, H, W)`` feature cube (K bands or PCA components).
        patch_size: odd side p of the patches the model was trained on.
        padding: how the cube is padded for border pixels, as in :class:`PatchSource`.
        device: where to compute; default: where ``features`` lives.
        amp: bf16 autocast on CUDA (no effect elsewhere).
        tile: side of the output tiles for ``scene_forward`` (each reads a ``(tile + p - 1)^2``
            window); ``None``: the whole scene in one pass.
        batch_size: patches per batch on the patch-by-patch fallback.
        log: told once when the model has no ``scene_forward``.

    ``[c, i, j]`` is ``model`` on the patch centred at pixel ``(i, j)``, up to float rounding.
    """
    if not has_scene_forward(model):
        if log is not None:
            log(_fallback_note(model))
        return patch_logits(model, features, patch_size, padding, device, amp, batch_size)
    source = _source(features, patch_size, padding, device)
    dev = source.padded.device
    h, w = source.height, source.width
    with _eval_mode(model):
        logits: torch.Tensor | None = None
        for out_r, out_c, in_r, in_c in tile_windows(h, w, patch_size, tile):
            window = source.padded[:, in_r, in_c]  # (K, th + p - 1, tw + p - 1), a view: no copy of the cube
            with autocast(dev, amp):
                y = model.scene_forward(window[None, None])  # (1, K_classes, th, tw)
            th, tw = out_r.stop - out_r.start, out_c.stop - out_c.start
            if y.dim() != 4 or y.shape[0] != 1 or tuple(y.shape[2:]) != (th, tw):
                raise HsframeError(
                    f"{type(model).__name__}.scene_forward returned {tuple(y.shape)} for input {(1, 1, *window.shape)}; "
                    f"the contract is (1, num_classes, {th}, {tw}): one logit vector per pixel of the unpadded window"
                )
            if logits is None:
                logits = torch.empty(y.shape[1], h, w, dtype=torch.float32)
            logits[:, out_r, out_c] = y[0].float().cpu()
    assert logits is not None  # H, W >= 1, so there was a tile
    return logits


@torch.no_grad()
def patch_logits(
    model: nn.Module,
    features: torch.Tensor | np.ndarray,
    patch_size: int,
    padding: Padding = "zero",
    device: torch.device | str | None = None,
    amp: bool = True,
    batch_size: int = 256,
) -> torch.Tensor:
    """Logits of every pixel, ``forward`` on each pixel's patch, ``batch_size`` patches at a time: ``(K_classes, H, W)`` float32, CPU.

    The patch-by-patch path (whether or not the model has ``scene_forward``): the reference that
    :func:`scene_logits` must match, and its fallback. Arguments as for :func:`scene_logits`.
    """
    source = _source(features, patch_size, padding, device)
    dev = source.padded.device
    out = []
    with _eval_mode(model):
        for x, _ in source.batches(np.arange(source.height * source.width), None, batch_size):
            with autocast(dev, amp):
                out.append(model(x).float().cpu())
    return torch.cat(out).T.reshape(-1, source.height, source.width)


@torch.no_grad()
def infer_samples(
    model: nn.Module,
    source: SampleSource,
    index: np.ndarray,
    batch_size: int,
    device: torch.device,
    amp: bool = True,
) -> np.ndarray:
    """``(len(index),)`` 0-based class of the samples at ``index``, ``batch_size`` at a time."""
    model.eval()
    out = []
    for x, _ in source.batches(index, None, batch_size):
        with autocast(device, amp):
            out.append(model(x).argmax(1))  # kept on the device: one transfer at the end of the pass
    return torch.cat(out).cpu().numpy() if out else np.zeros(0, dtype=np.int64)


@torch.no_grad()
def infer_scene(
    model: nn.Module,
    features: torch.Tensor | np.ndarray,
    patch_size: int,
    padding: Padding = "zero",
    device: torch.device | str | None = None,
    amp: bool = True,
    tile: int | None = 256,
    batch_size: int = 256,
    log: Log | None = None,
) -> torch.Tensor:
    """0-based class predictions for every pixel of a ``(K, H, W)`` scene: ``(H, W)`` int64, on the CPU.

    With ``scene_forward``: the argmax of :func:`scene_logits` (tiled, fully convolutional).
    Without: :func:`infer_samples` over every pixel, ``batch_size`` patches at a time,
    after telling ``log`` once. Arguments as for :func:`scene_logits`.
    """
    if has_scene_forward(model):
        return scene_logits(model, features, patch_size, padding, device, amp, tile, batch_size).argmax(0)
    source = _source(features, patch_size, padding, device)
    if log is not None:
        log(_fallback_note(model))
    with _eval_mode(model):
        pred = infer_samples(model, source, np.arange(source.height * source.width), batch_size, source.padded.device, amp)
    return torch.from_numpy(pred).reshape(source.height, source.width)
