"""Output paths checked before any work starts, for the CLI's options and the engine's config keys alike."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Collection

from hsframe.errors import HsframeError


def check_output(option: str, path: str | os.PathLike[str] | None, folder: bool = False,
                 suffixes: Collection[str] = ()) -> None:
    """Before any work starts: ``path`` given as ``option`` can be written. A file (default): not a folder,
    in an existing, writable folder. A ``folder``: not a file, the nearest existing folder writable (the
    rest is created). An HsframeError names the option, the path and what to do. Output options take a
    bare click.Path(), so that this one line, not click's usage text, says what is wrong. ``suffixes``:
    the file types the writer knows (``.png``), if it picks the format by the suffix."""
    if path is None or os.fspath(path) == "":
        return
    p = Path(path)
    if folder:
        if p.exists() and not p.is_dir():
            raise HsframeError(f"{option} {path} is a file; {option} takes a folder (created if missing): give another path")
        existing = next(a for a in (p.absolute(), *p.absolute().parents) if a.exists())
        if not existing.is_dir():
            raise HsframeError(f"{option} {path}: {existing} is a file, so the folder cannot be created there; give another path")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise HsframeError(f"{option} {path}: folder {existing} is not writable; give another path or fix its permissions")
        return
    parent = Path(os.path.dirname(os.fspath(path)) or ".")
    if p.is_dir():
        raise HsframeError(f"{option} {path} is a folder; give a file path, e.g. {p / _file_example(option)}")
    if suffixes and p.suffix.lower() not in suffixes:
        raise HsframeError(f"{option} {path}: the name's suffix chooses the file type; end it with one of {', '.join(sorted(suffixes))}")
    if not parent.exists():
        raise HsframeError(f"{option} {path}: folder {parent} does not exist; create it first (mkdir -p {parent}) "
                           f"or give another path")
    if not parent.is_dir():
        raise HsframeError(f"{option} {path}: {parent} is a file, not a folder; give another path")
    if p.exists() and not os.access(p, os.W_OK):
        raise HsframeError(f"{option} {path} exists and is not writable; give another path or fix its permissions")
    if not p.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise HsframeError(f"{option} {path}: folder {parent} is not writable; give another path or fix its permissions")


def _file_example(option: str) -> str:
    return {"--csv": "table.csv", "--plot": "plot.png", "--best-config": "best_config.yaml"}.get(option, "summary.json")
