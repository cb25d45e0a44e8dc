"""What an opened file gives: its arrays (:class:`Array`) in a :class:`Source`, and reading one into memory.

Every format's ``open()`` yields a :class:`Source`; the readers (scenes, label maps, volumes,
series) pick an array from it and convert it with :func:`materialize`, one slab at a time, so a
lazy store (h5py dataset, memmap) never needs a second full copy in memory.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# Target size of one slab read from a lazy store while converting (tests shrink it).
SLAB_BYTES = 32 * 2**20


@dataclass
class Array:
    """One numeric array of an opened file.

    Attributes:
        store: the stored array, any shape, sliceable on its axis 0 and with ``shape``/``dtype``
            (an h5py dataset, a memmap or an ndarray), valid while its file is open.
        perm: maps the stored axes to the logical ones (``logical = store.transpose(perm)``): the
            reversal of MATLAB v7.3 arrays, or an ENVI interleave to ``(H, W, B)``.
        attrs: what the file stores beside the array (HDF5 attributes), e.g. its wavelengths.
        partial: slicing ``store`` reads only that part of the file (a memmap, an h5py dataset), so a scene's
            cube can stay in its file (``data.out_of_core``); False for arrays a library loads whole.
    """

    store: Any
    perm: tuple[int, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    partial: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        """The logical shape: the stored shape permuted by ``perm``."""
        return tuple(int(self.store.shape[p]) for p in self.perm)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.store.dtype)


@dataclass
class Source:
    """An opened file: its numeric arrays by name and what the format itself says about them.

    Attributes:
        format: the format's registered name (``FileFormat.name``), e.g. "hdf5".
        arrays: name -> :class:`Array`; HDF5 names are dataset paths ("scene/cube").
        named: False for single-array formats (ENVI, TIFF, .npy), whose one array has the name "".
        layout: "HWB"/"BHW" when the format states a 3-D cube's axis order, else None.
        layout_firm: a request for the other order must be refused (ENVI's interleave is authoritative).
        metadata: format facts for ``ArrayFile.metadata``: ``wavelengths`` (``(B,)`` float64 nm),
            ``band_names``, ``rgb_bands`` (0-based), ``ignore_value``, ``scale_factor`` and more.
    """

    format: str
    arrays: dict[str, Array]
    named: bool = True
    layout: str | None = None
    layout_firm: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def numeric(dtype: np.dtype) -> bool:
    """Whether values of ``dtype`` are data (bool, integer or real float; not complex, text or objects)."""
    return dtype.kind in "biuf"


def physical_memory() -> int | None:
    """This machine's RAM in bytes, where the OS says (POSIX)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def check_size(shape: tuple[int, ...], dtype: np.dtype | type) -> None:
    """MemoryError, before anything is allocated, when an array of ``shape`` would not fit in this machine's RAM:
    a damaged header can claim 10^12 values, and a lazily backed allocation would only fail once filled."""
    need = math.prod(int(n) for n in shape) * np.dtype(dtype).itemsize
    ram = physical_memory()
    if ram is not None and need > ram:
        dims = "x".join(str(int(n)) for n in shape)
        raise MemoryError(f"it claims {dims} {np.dtype(dtype)} values ({need / 2**30:,.1f} GiB), more than this machine's "
                          f"{ram / 2**30:,.1f} GiB of memory")


def materialize(arr: Array, perm: tuple[int, ...], dtype: np.dtype | type, fix: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """A new ``arr.store.transpose(perm)`` array of ``dtype``, filled one slab of stored axis 0 at a time.

    ``fix(block)`` may inspect/modify each converted block in place before it is stored.
    """
    store = arr.store
    if len(store.shape) == 0:
        return np.asarray(store[()], dtype=dtype)
    shape = tuple(int(store.shape[p]) for p in perm)
    check_size(shape, dtype)
    out = np.empty(shape, dtype=dtype)
    dst_axis = perm.index(0)  # where stored axis 0 lands in the output
    row_bytes = max(1, math.prod(store.shape[1:]) * arr.dtype.itemsize)
    step = max(1, SLAB_BYTES // row_bytes)
    chunks = getattr(store, "chunks", None)
    if chunks:  # whole HDF5 chunks per slab, so none is decompressed twice
        step = max(chunks[0], step // chunks[0] * chunks[0])
    index: list[Any] = [slice(None)] * len(perm)
    for start in range(0, int(store.shape[0]), step):
        stop = min(start + step, int(store.shape[0]))
        with np.errstate(over="ignore", invalid="ignore"):  # overflow to Inf is reported by `fix`
            block = np.asarray(store[start:stop]).transpose(perm).astype(dtype, copy=False)
        if fix is not None:
            block = fix(block)
        index[dst_axis] = slice(start, stop)
        out[tuple(index)] = block
    return out
