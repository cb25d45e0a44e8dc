"""NumPy ``.npy`` files: one array, memory-mapped, so only the slabs being converted are read."""
from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from hsframe.data.io.base import FileFormat
from hsframe.data.io.source import Array, Source
from hsframe.errors import HsframeError


def read_npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a ``.npy`` header (``fh`` at its start; left at the first data byte), without reading the data."""
    version = np.lib.format.read_magic(fh)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(fh)
    return shape, dtype


class NpyFormat(FileFormat):
    name = "npy"
    title = "a NumPy .npy file"
    suffixes = (".npy",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(b"\x93NUMPY")

    @contextmanager
    def open(self, path: Path) -> Iterator[Source]:
        _check_size(path)
        store = np.load(path, mmap_mode="r", allow_pickle=False)
        yield Source(self.name, {"": Array(store, tuple(range(store.ndim)), partial=True)}, named=False)
        del store


def _check_size(path: Path) -> None:
    """Refuse a file whose header claims another size than it has: too short cannot be mapped, too long would
    be read as the wrong array, silently. A header numpy cannot read is left to ``np.load`` to name."""
    with open(path, "rb") as fh:
        try:
            shape, dtype = read_npy_header(fh)
        except ValueError:
            return
        offset = fh.tell()
    if dtype.hasobject:
        return  # object arrays are pickled, not mapped; np.load refuses them
    need = offset + math.prod(shape) * dtype.itemsize
    have = path.stat().st_size
    if have != need:
        dims = "x".join(str(n) for n in shape)
        raise HsframeError(f"{path}: its .npy header says {dims} {dtype} values, {need} bytes with the header, but the file has "
                           f"{have} bytes: it is truncated or damaged; save or download it again.")
