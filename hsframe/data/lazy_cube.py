"""Out-of-core scenes: an ``(H, W, B)`` float32 cube left in its file and read a block of image rows at a time.

A scene whose cube would take more than :data:`LAZY_ABOVE` bytes as float32 (``data.out_of_core=auto``), or
any scene with ``data.out_of_core=true``, keeps a :class:`LazyCube` as ``Scene.cube`` instead of a loaded
copy: the ``.npy`` memmap, the ENVI memmap or the HDF5 dataset the file's format opened, held open for the
cube's life. Everything that reads a cube goes through :func:`row_blocks` (blocks of at most
:data:`CHUNK_BYTES`), :func:`pixels_at` (chosen pixels) or :meth:`LazyCube.__getitem__` (a few bands), so
memory stays one block, whatever the cube's size.
"""
from __future__ import annotations

import math
import mmap
from contextlib import ExitStack
from typing import Any, Callable, Iterator

import numpy as np

from hsframe.data.io.source import Array

# One block of image rows read from the file at a time (float32 values; tests shrink it).
CHUNK_BYTES = 64 * 2**20
# data.out_of_core=auto reads a cube lazily when it would take more than this many bytes as float32.
LAZY_ABOVE = 2**30
# An out-of-core scene fits its features (PCA, standardization) on at most this many pixels: a seeded sample of
# the training pixels (or of all, with data.pca_fit=all) when there are more. 100,000 x 224 bands is 180 MB in
# float64, and the covariance of so many pixels is as good as all of them.
FIT_PIXELS = 100_000


class LazyCube:
    """``(H, W, B)`` float32 view of a stored array: ``perm`` maps stored axes to ``(H, W, B)``.

    Each block is converted to float32 and its NaN/Inf replaced by ``nan_fill`` (when given) on reading,
    exactly as the in-memory reader converts its slabs. ``files`` keeps the file open until the cube is
    closed or collected.
    """

    ndim = 3
    dtype = np.dtype(np.float32)

    def __init__(self, arr: Array, perm: tuple[int, ...], nan_fill: float | None, files: ExitStack) -> None:
        self._store = arr.store
        self._perm = perm
        self.nan_fill = nan_fill
        self._files = files
        self.shape: tuple[int, int, int] = tuple(int(arr.store.shape[p]) for p in perm)  # type: ignore[assignment]
        self._mapping = _file_mapping(arr.store)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def close(self) -> None:
        self._files.close()

    def __del__(self) -> None:
        self._files.close()

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Image rows ``start:stop`` as a new ``(stop - start, W, B)`` float32 array."""
        index: list[Any] = [slice(None)] * 3
        index[self._perm[0]] = slice(start, stop)  # the stored axis that holds the image rows
        with np.errstate(over="ignore", invalid="ignore"):  # overflow to Inf was counted when the file was opened
            block = np.asarray(self._store[tuple(index)]).transpose(self._perm).astype(np.float32)
        if self.nan_fill is not None:
            block[~np.isfinite(block)] = self.nan_fill
        if self._mapping is not None:
            # The block is a copy: drop the file's pages from this process (they stay in the page cache), or a memmap read
            # end to end would count the whole file in the process's resident memory.
            self._mapping.madvise(mmap.MADV_DONTNEED)
        return block

    def __getitem__(self, key: Any) -> np.ndarray:
        """``cube[rows, cols, bands]`` read block by block (e.g. ``cube[:, :, [30, 20, 10]]`` for a false-colour picture)."""
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            return self.rows(int(first) % self.shape[0], int(first) % self.shape[0] + 1)[(0, *rest)]
        start, stop, step = first.indices(self.shape[0])
        if step < 0:
            return np.asarray(self)[key]
        parts = [block[(slice((-(lo - start)) % step, None, step), *rest)] for lo, _, block in row_blocks(self, start, stop)]
        return np.concatenate(parts) if parts else self.rows(0, 0)[(slice(None), *rest)]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The whole cube in memory (what an out-of-core cube avoids; for small cubes and tools that need it)."""
        out = np.concatenate([block for _, _, block in row_blocks(self)]) if self.shape[0] else self.rows(0, 0)
        return out if dtype is None else out.astype(dtype)


def _file_mapping(store: Any) -> mmap.mmap | None:
    """The ``mmap`` behind a memmap store (``.npy``, ENVI), or None (an h5py dataset reads through its own buffers)."""
    while store is not None:
        found = getattr(store, "_mmap", None)
        if isinstance(found, mmap.mmap) and hasattr(found, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            return found
        store = getattr(store, "base", None)
    return None


def rows_per_block(cube: Any) -> int:
    """How many image rows of ``cube`` make one block of at most :data:`CHUNK_BYTES` float32 values (at least one)."""
    _, w, b = cube.shape
    return max(1, CHUNK_BYTES // max(1, w * b * 4))


def row_blocks(cube: Any, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, int, Any]]:
    """``(first_row, end_row, block)`` over rows ``start:stop`` of an ``(H, W, B)`` cube, :func:`rows_per_block` rows at a time.

    An in-memory cube (ndarray or tensor) gives views; a :class:`LazyCube` reads each block from its file.
    """
    stop = cube.shape[0] if stop is None else stop
    step = rows_per_block(cube)
    read: Callable[[int, int], Any] = cube.rows if isinstance(cube, LazyCube) else lambda a, b: cube[a:b]
    for lo in range(start, stop, step):
        hi = min(lo + step, stop)
        yield lo, hi, read(lo, hi)


def pixels_at(cube: Any, index: np.ndarray | None) -> np.ndarray:
    """``(N, B)`` spectra of the pixels at flat ``index`` (``row * W + col``, in the given order), or of every pixel (None).

    In memory this is ``cube.reshape(-1, B)[index]``; out of core, the blocks holding them are read in turn.
    """
    h, w, b = cube.shape
    if not isinstance(cube, LazyCube):
        flat = cube.reshape(-1, b)
        return flat if index is None else flat[index]
    index = np.arange(h * w) if index is None else np.asarray(index, dtype=np.int64)
    out = np.empty((len(index), b), dtype=np.float32)
    order = np.argsort(index, kind="stable")
    wanted = index[order]
    for lo, hi, block in row_blocks(cube):
        a, z = np.searchsorted(wanted, [lo * w, hi * w])
        if z > a:
            out[order[a:z]] = block.reshape(-1, b)[wanted[a:z] - lo * w]
    return out


def fit_pixels(cube: Any, index: np.ndarray | None, seed: int) -> np.ndarray:
    """``(N, B)`` spectra the features are fitted on: the pixels at flat ``index`` (None: every pixel). Out of core,
    a seeded sample of :data:`FIT_PIXELS` of them, in their given order, when there are more."""
    if isinstance(cube, LazyCube):
        n = cube.shape[0] * cube.shape[1] if index is None else len(index)
        if n > FIT_PIXELS:
            pick = np.sort(np.random.default_rng(seed).choice(n, FIT_PIXELS, replace=False))
            index = pick if index is None else np.asarray(index)[pick]
    return pixels_at(cube, index)


def count_nonfinite(cube: LazyCube) -> tuple[int, int]:
    """NaN and Inf counts of a cube (one pass, a block at a time); the reader counts before it sets ``nan_fill``."""
    nan = inf = 0
    for _, _, block in row_blocks(cube):
        bad = ~np.isfinite(block)
        if bad.any():
            n = int(np.isnan(block).sum())
            nan, inf = nan + n, inf + int(bad.sum()) - n
    return nan, inf
