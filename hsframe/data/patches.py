"""Samples cut on the fly, one batch at a time; never a materialized array of every sample.

- :class:`PatchSource`: centred ``p x p`` patches of a hyperspectral feature cube ``(K, H, W)``,
  as ``(N, 1, K, p, p)``.
- :class:`WindowSource`: 3-D windows of a ``(C, A, H, W)`` array (a volume around each voxel, or
  ``t`` frames of a series around each pixel or over the whole frame), as ``(N, C, a, h, w)``.
- :class:`VolumeSource`: whole samples of a :class:`~hsframe.data.volumes.VolumeReader`, read on
  demand and standardized per channel, as ``(N, C, D, H, W)``.

Memory stays O(data): only one batch of samples exists at a time.
"""
from __future__ import annotations

from typing import Iterator, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F


class SampleSource:
    """Base: ``samples(flat_index)`` gives one batch; ``batches`` iterates over an index."""

    def samples(self, flat_index: torch.Tensor | np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        raise NotImplementedError

    def batches(
        self,
        flat_index: np.ndarray,
        targets: np.ndarray | None,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Yield ``(samples, targets)`` batches; ``targets`` are the 0-based classes of ``flat_index``."""
        idx = torch.as_tensor(flat_index, dtype=torch.long)
        y = None if targets is None else torch.as_tensor(targets, dtype=torch.long)
        order = torch.randperm(len(idx), generator=generator) if shuffle else torch.arange(len(idx))
        for start in range(0, len(idx), batch_size):
            sel = order[start : start + batch_size]
            yb = None if y is None else y[sel].to(self.device)
            yield self.samples(idx[sel]), yb


class PatchSource(SampleSource):
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
        wp = w + 2 * r
        # Flat offset of every patch element from the patch's top-left corner in the (K, Hp * Wp) view: (p * p,)
        self._offsets = (torch.arange(patch_size, device=features.device)[:, None] * wp
                         + torch.arange(patch_size, device=features.device)).flatten()

    def patches(self, flat_index: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Patches around pixels given by flat index ``row * W + col``: ``(N, 1, K, p, p)``, contiguous."""
        idx = torch.as_tensor(flat_index, device=self.padded.device, dtype=torch.long)
        k, p = self.bands, self.size
        # In padded coordinates the patch of pixel (r, c) starts at (r, c): flat r * Wp + c.
        corner = idx // self.width * self.padded.shape[2] + idx % self.width
        # One index_select along the flattened pixels (a contiguous copy per band), then one permuting copy:
        # several times faster on the CPU than advanced indexing with broadcast (row, col) index tensors.
        out = self.padded.reshape(k, -1).index_select(1, (corner[:, None] + self._offsets).flatten())  # (K, N * p * p)
        return out.view(k, len(idx), p, p).permute(1, 0, 2, 3).unsqueeze(1).contiguous()  # convolutions want a contiguous batch

    samples = patches

    @property
    def device(self) -> torch.device:
        return self.padded.device



class WindowSource(SampleSource):
    """Windows of size ``window = (a, h, w)`` of a ``(C, A, H, W)`` array, one per point of a sample grid.

    Sample ``i`` is grid point ``(g0, g1, g2) = unravel(i, grid)``; its window starts at
    ``(g0 * stride, g1, g2)`` of the array padded by ``pad = (pa, ph, pw)`` zeros on both sides.

    - Dense volume, a centred ``(pd, p, p)`` patch around every voxel: ``grid = (D, H, W)``,
      ``pad = (pd // 2, p // 2, p // 2)``, ``stride = 1``.
    - Time series, ``t`` frames of the ``p x p`` neighbourhood of every pixel, one window every
      ``s`` frames: ``grid = (n_windows, H, W)``, ``pad = (0, p // 2, p // 2)``, ``stride = s``.
    - Time series, whole frames: ``window = (t, H, W)``, ``grid = (n_windows, 1, 1)``, ``pad = 0``.

    Args:
        array: ``(C, A, H, W)`` tensor (on the device the batches should live on).
        window: ``(a, h, w)`` size of every sample.
        grid: shape the flat sample index unravels into.
        pad: zeros added before and after each of the A, H, W axes.
        stride: step along A between consecutive grid points of the first grid axis.
    """

    def __init__(self, array: torch.Tensor, window: Sequence[int], grid: Sequence[int],
                 pad: Sequence[int] = (0, 0, 0), stride: int = 1) -> None:
        if array.dim() != 4:
            raise ValueError(f"array must be (C, A, H, W), got shape {tuple(array.shape)}")
        pa, ph, pw = (int(v) for v in pad)
        self.padded = F.pad(array, (pw, pw, ph, ph, pa, pa))
        self.window = tuple(int(v) for v in window)
        self.grid = tuple(int(v) for v in grid)
        self.stride = int(stride)
        # The last grid point's window must fit in the padded array.
        last = ((self.grid[0] - 1) * self.stride, self.grid[1] - 1, self.grid[2] - 1)
        for axis, (start, size, length) in enumerate(zip(last, self.window, self.padded.shape[1:])):
            if start + size > length:
                raise ValueError(f"windows of {self.window} on grid {self.grid} (stride {stride}) overrun axis {axis} "
                                 f"of the padded array {tuple(self.padded.shape[1:])}")
        self._offsets = [torch.arange(n, device=array.device) for n in self.window]

    @property
    def device(self) -> torch.device:
        return self.padded.device

    @property
    def num_samples(self) -> int:
        return int(np.prod(self.grid))

    def samples(self, flat_index: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The windows of samples ``flat_index``: ``(N, C, a, h, w)``."""
        idx = torch.as_tensor(flat_index, device=self.padded.device, dtype=torch.long)
        n1, n2 = self.grid[1], self.grid[2]
        g0, rest = idx // (n1 * n2), idx % (n1 * n2)
        starts = (g0 * self.stride, rest // n2, rest % n2)
        oa, oh, ow = self._offsets
        aa = (starts[0][:, None] + oa)[:, :, None, None]  # (N, a, 1, 1)
        hh = (starts[1][:, None] + oh)[:, None, :, None]  # (N, 1, h, 1)
        ww = (starts[2][:, None] + ow)[:, None, None, :]  # (N, 1, 1, w)
        return self.padded[:, aa, hh, ww].movedim(0, 1)  # (C, N, a, h, w) -> (N, C, a, h, w)


class VolumeSource(SampleSource):
    """Whole volumes from a reader, standardized per channel: ``(N, C, D, H, W)`` float32.

    Args:
        reader: a :class:`~hsframe.data.volumes.VolumeReader` (volumes stay where they are stored).
        mean, std: ``(C,)`` per-channel statistics (fitted on training volumes only).
        device: where the batches go.
    """

    def __init__(self, reader, mean: np.ndarray, std: np.ndarray, device: torch.device | str = "cpu") -> None:
        self.reader = reader
        self._device = torch.device(device)
        shape = (1, -1, 1, 1, 1)
        self.mean = torch.as_tensor(np.asarray(mean, np.float32)).reshape(shape).to(self._device)
        self.std = torch.as_tensor(np.asarray(std, np.float32)).reshape(shape).to(self._device)

    @property
    def device(self) -> torch.device:
        return self._device

    def samples(self, flat_index: torch.Tensor | np.ndarray) -> torch.Tensor:
        idx = np.asarray(torch.as_tensor(flat_index).cpu(), dtype=np.int64)
        x = torch.from_numpy(np.ascontiguousarray(self.reader.read(idx), dtype=np.float32)).to(self._device)
        return (x - self.mean) / self.std
