"""What a file format is (being filled in: see hsframe/data/io/__init__.py)."""
from __future__ import annotations


class FileFormat:
    name: str = ""
    plugin: str = ""
    package: str = ""
    version: str = ""
