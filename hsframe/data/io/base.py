"""What a file format is: its name, the suffixes its files carry, how to recognise them, how to open them.

A new format is one module: a :class:`FileFormat` subclass, and an instance of it registered
through the ``register_formats`` hook (see ``hsframe/data/io/__init__.py`` for the built-ins)::

    class CsvCube(FileFormat):
        name, title, suffixes = "csvcube", "a CSV cube", (".csvcube",)

        @contextmanager
        def open(self, path):
            data = np.loadtxt(path, delimiter=",").reshape(...)
            yield Source(self.name, {"": Array(data, (0, 1, 2))}, named=False)

    @hookimpl
    def register_formats(register):
        register(CsvCube())

(``tests/test_formats.py`` has this plugin in full.) Every reader (:func:`hsframe.data.readers.read_array`, ``open_scene``, the volume and series
readers) then accepts such files. :func:`hsframe.data.io.detect.detect_format` asks the formats in
registration order (built-ins first): first :meth:`FileFormat.claims`, then
:meth:`FileFormat.sniff`, then the ``suffixes``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, ContextManager

from hsframe.data.io.source import Source

# How many leading bytes of a file `sniff` is given.
HEAD_BYTES = 128


class FileFormat(ABC):
    """A file format the readers accept; subclass it, set the class attributes and implement :meth:`open`.

    Attributes:
        name: the registered name, also ``ArrayFile.metadata["format"]`` (e.g. "hdf5").
        title: the format in a sentence, for error messages ("could not read x as an HDF5 file").
        suffixes: lower-case suffixes with the dot; a file whose content no format recognises is
            read by the first registered format listing its suffix. They also make up
            ``SUPPORTED_SUFFIXES`` and are stripped from file names for default dataset names.
        plugin, package, version: who registered the format (set by the plugin manager).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    plugin: str = ""
    package: str = ""
    version: str = ""

    def claims(self, path: Path) -> bool:
        """True when the path alone settles that the file is this format, before any content is read.

        For formats whose files can start with any bytes (a raw ENVI image beside its ``.hdr``);
        the default claims nothing.
        """
        return False

    def sniff(self, path: Path, head: bytes) -> bool:
        """True when the file's content says it is this format; ``head`` is its first :data:`HEAD_BYTES` bytes.

        The default recognises nothing by content (the format is then chosen by suffix only).
        """
        return False

    @abstractmethod
    def open(self, path: Path) -> ContextManager[Source]:
        """Open ``path``: a context manager yielding its :class:`Source`.

        Lazy stores (h5py datasets, memmaps) may stay valid inside the ``with`` only. Library
        errors may escape; the readers turn them into an :class:`HsframeError` naming the file and
        ``title``. Raise an :class:`HsframeError` yourself where you can say what to do next.
        """
