"""The file-format registry's built-in formats, registered through the same hook a plugin uses, and the small I/O layer.

A new file format is one module: a :class:`FileFormat` subclass (see :mod:`hsframe.data.io.base`)
and a ``register_formats`` hook implementation (here for the built-ins, in a plugin package for
others). The readers find every format through ``hsframe.plugins.get_plugins().formats``:

- :func:`detect_format`: which registered format a file is; :func:`supported_suffixes`, :func:`stem`.
- :class:`Source` / :class:`Array`: what an opened file holds; :func:`select_array` picks one,
  :func:`materialize` reads it into memory slab by slab.
"""
from __future__ import annotations

from typing import Callable

from hsframe.data.io.base import HEAD_BYTES, FileFormat
from hsframe.data.io.detect import detect_format, registered_formats, stem, supported_suffixes
from hsframe.data.io.envi import EnviFormat
from hsframe.data.io.hdf5 import Hdf5Format, MatV73Format
from hsframe.data.io.mat import MatV5Format
from hsframe.data.io.npy import NpyFormat, read_npy_header
from hsframe.data.io.npz import NpzFormat
from hsframe.data.io.select import describe, integer_valued, select_array, squeezed_ndim
from hsframe.data.io.source import Array, Source, materialize, numeric
from hsframe.data.io.tiff import TiffFormat
from hsframe.data.io.wavelengths import to_nm
from hsframe.hookspecs import hookimpl

__all__ = [
    "FileFormat", "HEAD_BYTES", "Array", "Source",
    "MatV73Format", "Hdf5Format", "MatV5Format", "NpyFormat", "NpzFormat", "TiffFormat", "EnviFormat",
    "detect_format", "registered_formats", "supported_suffixes", "stem",
    "select_array", "describe", "integer_valued", "squeezed_ndim", "materialize", "numeric", "read_npy_header", "to_nm",
]


@hookimpl
def register_formats(register: Callable[[FileFormat], None]) -> None:
    # The order is the sniffing precedence: v7.3 before plain HDF5 (both are HDF5), and ENVI, whose
    # content test is only "a header lies beside it", after every signature.
    for fmt in (MatV73Format(), Hdf5Format(), MatV5Format(), NpyFormat(), NpzFormat(), TiffFormat(), EnviFormat()):
        register(fmt)
