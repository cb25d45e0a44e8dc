"""The split registry's built-in methods, registered through the same hook a plugin uses.

A new split method is one module: a :class:`SplitMethod` subclass with its ``Options``, and a
``register_splits`` hook implementation (here for the built-ins, in a plugin package for others).
"""
from __future__ import annotations

from typing import Callable

from hsframe.hookspecs import hookimpl
from hsframe.splits.base import SplitGrid, SplitMethod, SplitOptions
from hsframe.splits.blocks import BlockSplit
from hsframe.splits.files import FilesSplit
from hsframe.splits.fixed import FixedSplit
from hsframe.splits.random import RandomSplit

__all__ = ["builtin_splits", "SplitGrid", "SplitMethod", "SplitOptions", "RandomSplit", "BlockSplit", "FixedSplit", "FilesSplit"]


def builtin_splits() -> dict[str, SplitMethod]:
    """The built-in methods by name (what a check made while the plugins load can use)."""
    return {m.name: m for m in (RandomSplit(), BlockSplit(), FixedSplit(), FilesSplit())}


@hookimpl
def register_splits(register: Callable[[SplitMethod], None]) -> None:
    for method in builtin_splits().values():
        register(method)
