"""File formats (being moved here from hsframe/data/readers.py)."""
from hsframe.data.io.base import FileFormat

__all__ = ["FileFormat"]
