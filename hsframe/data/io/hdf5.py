"""HDF5 (``.h5``/``.hdf5``/``.he5``) and MATLAB v7.3 ``.mat`` (HDF5 behind a 512-byte header), through h5py.

Both are read lazily: each dataset stays on disk and is converted one slab at a time.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, ContextManager, Iterator

from hsframe.data.io.base import FileFormat
from hsframe.data.io.source import Array, Source, numeric

_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: Path, head: bytes) -> bool:
    import h5py

    # A .mat v7.3 is HDF5 behind a 512-byte MATLAB header; h5py.is_hdf5 looks past such user blocks.
    return head.startswith(_SIGNATURE) or h5py.is_hdf5(str(path))


@contextmanager
def _open_hdf5(path: Path, fmt: str, matlab: bool) -> Iterator[Source]:
    """Every numeric dataset by its path; MATLAB v7.3 stores arrays with their axes reversed."""
    import h5py

    with h5py.File(path, "r") as f:
        arrays: dict[str, Array] = {}

        def visit(name: str, obj: Any) -> None:
            if name.startswith(("#refs#", "#subsystem#")):  # MATLAB's internal cell/object storage
                return
            if not isinstance(obj, h5py.Dataset) or not numeric(obj.dtype) or obj.shape is None:
                return
            # MATLAB keeps text as uint16 and marks empty arrays; neither is data.
            cls = obj.attrs.get("MATLAB_class", b"")
            if (cls.decode() if isinstance(cls, bytes) else str(cls)) == "char" or "MATLAB_empty" in obj.attrs:
                return
            axes = tuple(range(len(obj.shape)))
            arrays[name] = Array(obj, axes[::-1] if matlab else axes, attrs=dict(obj.attrs), partial=True)

        f.visititems(visit)
        yield Source(fmt, arrays)


class MatV73Format(FileFormat):
    """MATLAB ``-v7.3`` files: HDF5 with a ``.mat`` suffix or a "MATLAB 7.3" header; axes given in MATLAB's order."""

    name = "mat-v7.3"
    title = "a MATLAB v7.3 .mat file (HDF5)"
    # No suffix of its own: a v7.3 file always says HDF5 in its content, and a .mat whose content says nothing is
    # read as v5 (see MatV5Format), as scipy also reads MATLAB v4 files.
    suffixes = ()

    def sniff(self, path: Path, head: bytes) -> bool:
        return (path.suffix.lower() == ".mat" or head.startswith(b"MATLAB 7.3")) and _is_hdf5(path, head)

    def open(self, path: Path) -> ContextManager[Source]:
        return _open_hdf5(path, self.name, matlab=True)


class Hdf5Format(FileFormat):
    """Any other HDF5 file: every numeric dataset, named by its path inside the file."""

    name = "hdf5"
    title = "an HDF5 file"
    suffixes = (".h5", ".hdf5", ".he5")

    def sniff(self, path: Path, head: bytes) -> bool:
        return _is_hdf5(path, head)

    def open(self, path: Path) -> ContextManager[Source]:
        return _open_hdf5(path, self.name, matlab=False)
