"""PCA and standardization fitted on training pixels only, so no test pixel shapes the features."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Preprocessor:
    """``(H, W, B)`` cube -> ``(K, H, W)`` features: centre, project on PCA, standardize.

    All statistics come from the pixels passed to ``fit``.
    """

    mean: torch.Tensor  # (B,)
    components: torch.Tensor | None  # (B, K), columns by decreasing variance
    scale_mean: torch.Tensor  # (K,)
    scale_std: torch.Tensor  # (K,)
    explained_variance_ratio: torch.Tensor | None

    @property
    def out_bands(self) -> int:
        return len(self.scale_mean)

    def transform(self, cube: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
        x = torch.as_tensor(cube, dtype=torch.float32, device=device)
        h, w, b = x.shape
        flat = x.reshape(-1, b) - self.mean.to(device)
        if self.components is not None:
            flat = flat @ self.components.to(device)
        flat = (flat - self.scale_mean.to(device)) / self.scale_std.to(device)
        return flat.T.reshape(-1, h, w).contiguous()


def fit_preprocessor(
    pixels: np.ndarray,
    n_components: int | None,
    standardize: bool = True,
    device: torch.device | str = "cpu",
) -> Preprocessor:
    """Fit on ``(N, B)`` training spectra. PCA by eigen-decomposition of the covariance, in float64."""
    x = torch.as_tensor(pixels, dtype=torch.float64, device=device)
    n, b = x.shape
    mean = x.mean(0)
    xc = x - mean
    components = ratio = None
    if n_components is not None:
        cov = xc.T @ xc / max(n - 1, 1)
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        order = torch.argsort(evals, descending=True)[:n_components]
        components = evecs[:, order]
        # Deterministic signs (as sklearn does): the largest-magnitude loading is positive.
        signs = torch.sign(components[components.abs().argmax(0), torch.arange(n_components, device=device)])
        components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
        ratio = (evals[order] / evals.clamp_min(0).sum()).float().cpu()
        xc = xc @ components
    if standardize:
        s_mean, s_std = xc.mean(0), xc.std(0).clamp_min(1e-8)
    else:
        s_mean, s_std = torch.zeros(xc.shape[1], dtype=xc.dtype, device=device), torch.ones(xc.shape[1], dtype=xc.dtype, device=device)
    return Preprocessor(
        mean=mean.float().cpu(),
        components=None if components is None else components.float().cpu(),
        scale_mean=s_mean.float().cpu(),
        scale_std=s_std.float().cpu(),
        explained_variance_ratio=ratio,
    )
