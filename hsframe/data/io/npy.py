"""NumPy ``.npy`` files: one array, memory-mapped, so only the slabs being converted are read."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from hsframe.data.io.base import FileFormat
from hsframe.data.io.source import Array, Source


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
        store = np.load(path, mmap_mode="r", allow_pickle=False)
        yield Source(self.name, {"": Array(store, tuple(range(store.ndim)))}, named=False)
        del store
