"""Band removal, PCA and standardization, fitted on training pixels only (unless told otherwise).

Every statistic comes from the pixels passed to ``fit_preprocessor``; the runner passes the training
pixels, so no validation or test pixel shapes the features. Fitting on the whole image is possible
(``data.pca_fit=all``, to reproduce published numbers) and the runner then tags the run as leaking.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hsframe.errors import HsframeError


def parse_band_list(spec: list[int] | str | None, bands: int) -> np.ndarray:
    """0-based band indices from ``[3, 4]`` or ``"103-107,149-162,219"`` (ranges inclusive)."""
    if spec is None or spec == [] or spec == "":
        return np.zeros(0, dtype=np.int64)
    out: list[int] = []
    if isinstance(spec, str):
        for part in filter(None, (p.strip() for p in spec.split(","))):
            m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
            if not m:
                raise HsframeError(f"data.remove_bands: cannot read '{part}'; write e.g. '103-107,149-162,219' (0-based, inclusive)")
            lo, hi = int(m[1]), int(m[2] or m[1])
            if hi < lo:
                raise HsframeError(f"data.remove_bands: range '{part}' runs backwards")
            out += range(lo, hi + 1)
    else:
        out = [int(b) for b in spec]
    bad = [b for b in out if not 0 <= b < bands]
    if bad:
        raise HsframeError(f"data.remove_bands: band(s) {bad[:5]} outside 0..{bands - 1} (the cube has {bands} bands)")
    return np.unique(np.asarray(out, dtype=np.int64))


_FORMAT = "hsframe-preprocessor/1"
_TENSORS = ("keep", "mean", "band_std", "components", "scale_mean", "scale_std", "explained_variance_ratio")
_REQUIRED = ("keep", "mean", "scale_mean", "scale_std")


@dataclass
class Preprocessor:
    """``(H, W, B)`` cube -> ``(K, H, W)`` features: keep bands, centre (and scale), project, standardize."""

    keep: torch.Tensor  # (B',) indices of the bands kept
    mean: torch.Tensor  # (B',)
    band_std: torch.Tensor | None  # (B',) when bands are standardized before projection
    components: torch.Tensor | None  # (B', K), columns by decreasing variance
    scale_mean: torch.Tensor  # (K,)
    scale_std: torch.Tensor  # (K,)
    explained_variance_ratio: torch.Tensor | None
    n_input_bands: int = 0

    @property
    def out_bands(self) -> int:
        return len(self.scale_mean)

    @property
    def in_bands(self) -> int:
        """Bands of the cube it was fitted on (before removal)."""
        return int(self.n_input_bands)

    def metrics(self) -> dict[str, float]:
        """What a run logs of the fit: the variance the PCA components keep (none without PCA)."""
        if self.explained_variance_ratio is None:
            return {}
        return {"pca_explained_variance": float(self.explained_variance_ratio.sum())}

    def save(self, path: str | Path) -> None:
        """The fitted state as safetensors (no pickle): its tensors, ``n_input_bands`` as metadata; an
        optional tensor that is None is left out."""
        from safetensors.torch import save_file

        tensors = {k: getattr(self, k).contiguous() for k in _TENSORS if getattr(self, k) is not None}
        save_file(tensors, str(path), metadata={"format": _FORMAT, "n_input_bands": str(self.n_input_bands)})

    @classmethod
    def load(cls, path: str | Path) -> "Preprocessor":
        """A preprocessor :meth:`save` wrote; ValueError when the file holds anything else."""
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        missing = [k for k in _REQUIRED if k not in tensors]
        unknown = sorted(set(tensors) - set(_TENSORS))
        if meta.get("format") != _FORMAT or missing or unknown or not meta.get("n_input_bands", "").isdigit():
            raise ValueError(f"not a fitted preprocessor ({_FORMAT}): format {meta.get('format')!r}, "
                             f"missing {missing}, unknown {unknown}, n_input_bands {meta.get('n_input_bands')!r}")
        pre = cls(**{k: tensors.get(k) for k in _TENSORS}, n_input_bands=int(meta["n_input_bands"]))
        pre._check_shapes()
        return pre

    def _check_shapes(self) -> None:
        """ValueError unless the tensors fit together (a changed file must fail here, named, not in transform)."""
        keep = self.keep
        if keep.ndim != 1 or keep.dtype != torch.int64 or (len(keep) and not (0 <= int(keep.min()) and int(keep.max()) < self.n_input_bands)):
            raise ValueError(f"'keep' must be 0-based band indices below n_input_bands={self.n_input_bands}")
        n, k = len(keep), len(self.scale_mean)
        expected = {"mean": (n,), "band_std": (n,), "components": (n, k), "scale_mean": (k,), "scale_std": (k,),
                    "explained_variance_ratio": (k,)}
        if self.components is None:
            expected["scale_mean"] = expected["scale_std"] = (n,)
        for name, shape in expected.items():
            value = getattr(self, name)
            if value is not None and (tuple(value.shape) != shape or not value.is_floating_point()):
                raise ValueError(f"'{name}' has shape {tuple(value.shape)} ({value.dtype}); the fitted state needs {shape}, floating point")

    def transform(self, cube: Any, device: torch.device | str = "cpu") -> torch.Tensor:
        """``(H, W, B)`` cube (ndarray, tensor or out-of-core :class:`~hsframe.data.lazy_cube.LazyCube`) -> ``(K, H, W)``
        float32 features on ``device``, projected a block of image rows at a time (at most ``CHUNK_BYTES`` of
        input), so memory is the features plus one block; a cube within one block is projected at once."""
        from hsframe.data.lazy_cube import row_blocks

        h, w, _ = cube.shape
        out = torch.empty((self.out_bands, h, w), dtype=torch.float32, device=device)
        for lo, hi, block in row_blocks(cube):
            out[:, lo:hi] = self._project(block, device)
        return out

    def _project(self, block: np.ndarray | torch.Tensor, device: torch.device | str) -> torch.Tensor:
        """``(rows, W, B)`` -> ``(K, rows, W)``."""
        x = torch.as_tensor(block, device=device)
        h, w, _ = x.shape
        flat = x.reshape(h * w, -1)[:, self.keep.to(device)].float() - self.mean.to(device)
        if self.band_std is not None:
            flat = flat / self.band_std.to(device)
        if self.components is not None:
            flat = flat @ self.components.to(device)
        flat = (flat - self.scale_mean.to(device)) / self.scale_std.to(device)
        return flat.T.reshape(-1, h, w)


def fit_preprocessor(
    pixels: np.ndarray,
    n_components: int | None,
    standardize: bool = True,
    device: torch.device | str = "cpu",
    remove_bands: np.ndarray | None = None,
    band_standardize: bool = False,
    whiten: bool = False,
) -> Preprocessor:
    """Fit on ``(N, B)`` spectra. PCA by eigen-decomposition of the covariance in float64, in torch
    (on the GPU when ``device`` is one). ``whiten`` without PCA keeps every component and
    standardizes them: decorrelated, unit-variance features."""
    b = pixels.shape[1]
    keep = np.setdiff1d(np.arange(b), remove_bands if remove_bands is not None else [])
    x = torch.as_tensor(pixels[:, keep], dtype=torch.float64, device=device)
    n = x.shape[0]
    mean = x.mean(0)
    xc = x - mean
    band_std = None
    if band_standardize:
        band_std = xc.std(0).clamp_min(1e-12)
        xc = xc / band_std
    if whiten:
        n_components, standardize = n_components or len(keep), True
    components = ratio = None
    if n_components is not None:
        cov = xc.T @ xc / max(n - 1, 1)
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        order = torch.argsort(evals, descending=True)[:n_components]
        components = evecs[:, order]
        # Deterministic signs (as scikit-learn does): the largest-magnitude loading is positive.
        signs = torch.sign(components[components.abs().argmax(0), torch.arange(n_components, device=device)])
        components = components * torch.where(signs == 0, torch.ones_like(signs), signs)
        ratio = (evals[order] / evals.clamp_min(0).sum()).float().cpu()
        xc = xc @ components
    k = xc.shape[1]
    if standardize:
        s_mean, s_std = xc.mean(0), xc.std(0).clamp_min(1e-8)
    else:
        s_mean = torch.zeros(k, dtype=xc.dtype, device=device)
        s_std = torch.ones(k, dtype=xc.dtype, device=device)
    return Preprocessor(
        keep=torch.as_tensor(keep),
        mean=mean.float().cpu(),
        band_std=None if band_std is None else band_std.float().cpu(),
        components=None if components is None else components.float().cpu(),
        scale_mean=s_mean.float().cpu(),
        scale_std=s_std.float().cpu(),
        explained_variance_ratio=ratio,
        n_input_bands=b,
    )
