"""Layers shared by the zoo's networks: input checks, the pixel-classifier base, PRetanh (dense-as-conv: :mod:`hsframe.sliding`)."""
from __future__ import annotations

import torch
import torch.nn as nn


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

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p - 1, W + p - 1)`` (a scene padded for patch p) -> ``(N, K, H, W)`` logits."""
        p = self.patch_size
        n, c, d = x.shape[:3]
        h, w = x.shape[-2] - p + 1, x.shape[-1] - p + 1
        if h < 1 or w < 1:
            raise ValueError(f"scene_forward needs (N, C, D, H + {p - 1}, W + {p - 1}) with H, W >= 1; got {tuple(x.shape)}")
        pixels = x[..., p // 2 : p // 2 + h, p // 2 : p // 2 + w]  # (N, C, D, H, W)
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

