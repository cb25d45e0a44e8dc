"""Layers shared by the zoo's networks: input checks, the pixel-classifier base, PRetanh (dense-as-conv: :mod:`hsframe.sliding`)."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from hsframe.sliding import check_scene


def require(value: int, smallest: int, what: str, model: str) -> None:
    """Raise the one-line ValueError hsframe turns into an exit-2 error, naming the smallest input accepted."""
    if value < smallest:
        raise ValueError(f"{model} needs {what} of at least {smallest}; got {value}")


def require_patch(height: int, width: int, smallest: int, model: str) -> None:
    if height < smallest or width < smallest:
        raise ValueError(f"{model} needs patches of at least {smallest}x{smallest} (data.patch_size={smallest}); got {height}x{width}")


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """``(..., H, W)`` -> ``(..., size, size)`` around the centre (H, W odd and at least ``size``)."""
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    return x[..., top : top + size, left : left + size]


def scene_in_blocks(x: torch.Tensor, patch_size: tuple[int, int], pixels: int,
                    fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``fn`` over blocks of at most ``pixels`` output pixels of a padded scene, stitched: ``(N, K, H, W)``.

    For a ``scene_forward`` whose work after the first layer is per pixel: memory is that of a batch of
    ``pixels`` patches, whatever the window. ``x``: ``(N, C, D, H + p_h - 1, W + p_w - 1)``; ``fn`` maps a
    block ``(N, C, D, h + p_h - 1, w + p_w - 1)`` to its ``(N, K, h, w)`` logits.
    """
    h, w = check_scene(x, patch_size)
    bw = min(w, pixels)
    bh = max(1, pixels // bw)
    out: torch.Tensor | None = None
    for i in range(0, h, bh):
        for j in range(0, w, bw):
            y = fn(x[..., i : min(i + bh, h) + patch_size[0] - 1, j : min(j + bw, w) + patch_size[1] - 1])
            if out is None:
                out = y.new_empty(x.shape[0], y.shape[1], h, w)
            out[..., i : i + bh, j : j + bw] = y
    assert out is not None  # H, W >= 1 (check_scene), so there was a block
    return out


class PixelClassifier(nn.Module):
    """Base of the spectral-only networks: each sample is the centre pixel's spectrum.

    Subclasses implement :meth:`classify` ``(M, L) -> (M, K)`` on spectra of length L = C*D. A patch
    larger than 1x1 is accepted and only its centre pixel is read, so :meth:`scene_forward` is the
    same computation on every pixel of the scene at once.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H, W)`` -> ``(N, K)``: the centre pixel's ``C*D`` values, classified."""
        n, c, d, h, w = x.shape
        return self.classify(x[:, :, :, h // 2, w // 2].reshape(n, c * d))

    # Pixels per classify call in scene_forward: a whole 256 x 256 tile at once spills the caches (hu_cnn1d's
    # activations alone are ~1 GB) and ran 2.4x slower than patch by patch; 256 at a time runs at its speed.
    scene_chunk: int = 256

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p - 1, W + p - 1)`` (a scene padded for patch p) -> ``(N, K, H, W)`` logits."""
        p = self.patch_size
        return scene_in_blocks(x, (p, p), self.scene_chunk, self._scene_block)

    def _scene_block(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, h + p - 1, w + p - 1)`` -> ``(N, K, h, w)``: every pixel's centre spectrum, classified."""
        p = self.patch_size
        n, c, d = x.shape[:3]
        h, w = x.shape[-2] - p + 1, x.shape[-1] - p + 1
        pixels = x[..., p // 2 : p // 2 + h, p // 2 : p // 2 + w]  # (N, C, D, h, w)
        spectra = pixels.permute(0, 3, 4, 1, 2).reshape(n * h * w, c * d)
        return self.classify(spectra).reshape(n, h, w, -1).permute(0, 3, 1, 2)

    def classify(self, spectra: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class PRetanh(nn.Module):
    """Parametric rectified tanh (Mou et al., 2017): ``tanh(x)`` for x >= 0, ``a * tanh(x)`` below, ``a`` learned."""

    def __init__(self, init: float = 0.25) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.tanh(x)
        return torch.where(x >= 0, t, self.a * t)

