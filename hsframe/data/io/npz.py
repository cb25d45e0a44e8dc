"""NumPy ``.npz`` archives: every numeric member by name, each decompressed only when it is read."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from hsframe.data.io.base import FileFormat
from hsframe.data.io.npy import read_npy_header
from hsframe.data.io.source import Array, Source, numeric


class _NpzMember:
    """One ``.npz`` member: shape and dtype from its header; the data decompressed on first use."""

    def __init__(self, npz: Any, name: str) -> None:
        self._npz, self._name, self._data = npz, name, None
        with npz.zip.open(name + ".npy") as fh:
            self.shape, self.dtype = read_npy_header(fh)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, item: Any) -> np.ndarray:
        if self._data is None:
            self._data = self._npz[self._name]
        return self._data[item]


class NpzFormat(FileFormat):
    name = "npz"
    title = "a NumPy .npz archive"
    suffixes = (".npz",)

    def sniff(self, path: Path, head: bytes) -> bool:
        # Any zip starts so; only the suffix says that this one is meant as an .npz.
        return head.startswith(b"PK\x03\x04") and path.suffix.lower() == ".npz"

    @contextmanager
    def open(self, path: Path) -> Iterator[Source]:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {}
            for k in npz.files:
                member = _NpzMember(npz, k)
                if numeric(np.dtype(member.dtype)):
                    arrays[k] = Array(member, tuple(range(member.ndim)))
            yield Source(self.name, arrays)
