"""MATLAB v5 (and v4) ``.mat`` files through scipy; v7.3 files are HDF5 (see :mod:`hsframe.data.io.hdf5`)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from hsframe.data.io.base import FileFormat
from hsframe.data.io.source import Array, Source, numeric


class MatV5Format(FileFormat):
    """All numeric variables of a v5 (or v4) .mat; scipy has no partial reads, so the file is loaded whole."""

    name = "mat-v5"
    title = "a MATLAB v5 .mat file"
    suffixes = (".mat",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(b"MATLAB 5.0")

    @contextmanager
    def open(self, path: Path) -> Iterator[Source]:
        import scipy.io

        # Loading everything (not whosmat + one variable) is what detects a truncated file.
        content = scipy.io.loadmat(path)
        arrays = {
            k: Array(v, tuple(range(v.ndim)))
            for k, v in content.items()
            if not k.startswith("__") and isinstance(v, np.ndarray) and numeric(v.dtype)
        }
        yield Source(self.name, arrays)
