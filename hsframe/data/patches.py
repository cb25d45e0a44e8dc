"""Patches cut on the fly from the padded feature cube; never a materialized array of patches.

Memory stays O(cube): only one batch of ``(N, 1, K, p, p)`` patches exists at a time.
"""
from __future__ import annotations

from typing import Iterator, Literal

import numpy as np
import torch
import torch.nn.functional as F


class PatchSource:
    """Centred ``p x p`` patches of a ``(K, H, W)`` feature cube, for any pixel, border ones included.

    Args:
        features: ``(K, H, W)`` tensor (on the device the batches should live on).
        patch_size: odd side p.
        padding: "zero" (as published) or "reflect".
    """

    def __init__(self, features: torch.Tensor, patch_size: int, padding: Literal["zero", "reflect"] = "zero") -> None:
        if patch_size % 2 != 1:
            raise ValueError(f"patch_size must be odd, got {patch_size}")
        k, h, w = features.shape
        r = patch_size // 2
        if padding == "reflect" and r >= min(h, w):
            raise ValueError(f"reflect padding needs patch_size // 2 < min(H, W) = {min(h, w)}, got {r}")
        mode = "constant" if padding == "zero" else "reflect"
        self.padded = F.pad(features.unsqueeze(0), (r, r, r, r), mode=mode).squeeze(0)
        self.height, self.width, self.bands, self.size = h, w, k, patch_size
        self._offsets = torch.arange(patch_size, device=features.device)

    def patches(self, flat_index: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Patches around pixels given by flat index ``row * W + col``: ``(N, 1, K, p, p)``."""
        idx = torch.as_tensor(flat_index, device=self.padded.device, dtype=torch.long)
        rows, cols = idx // self.width, idx % self.width
        # In padded coordinates the patch of pixel (r, c) starts at (r, c).
        rr = (rows[:, None] + self._offsets[None, :])[:, :, None]  # (N, p, 1)
        cc = (cols[:, None] + self._offsets[None, :])[:, None, :]  # (N, 1, p)
        out = self.padded[:, rr, cc]  # (K, N, p, p)
        return out.permute(1, 0, 2, 3).unsqueeze(1)

    def batches(
        self,
        flat_index: np.ndarray,
        labels: np.ndarray | None,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Yield ``(patches, labels - 1)`` batches; labels are 0-based class indices."""
        idx = torch.as_tensor(flat_index, dtype=torch.long)
        y = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
        order = torch.randperm(len(idx), generator=generator) if shuffle else torch.arange(len(idx))
        for start in range(0, len(idx), batch_size):
            sel = order[start : start + batch_size]
            yb = None if y is None else (y[sel] - 1).to(self.padded.device)
            yield self.patches(idx[sel]), yb
