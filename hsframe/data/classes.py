"""Class names and map colours given by the user: ``data.class_names`` / ``data.palette``, or a sidecar file.

A sidecar is a JSON file beside the label file, named after it without its data suffixes
(``gt.mat`` -> ``gt.classes.json``, ``tile.tif`` -> ``tile.classes.json``)::

    {"class_names": ["Soil", "Tree", "Water"], "palette": [[166, 118, 60], [34, 139, 34], [30, 110, 255]]}

``palette`` is optional. ``data.class_names`` / ``data.palette`` win over the sidecar. Either must
give exactly one entry per class 1..K of the loaded data, else a one-line :class:`HsframeError`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from hsframe.errors import HsframeError

SIDECAR_SUFFIX = ".classes.json"
_SIDECAR_KEYS = {"class_names", "palette"}

RGB = tuple[int, int, int]


def check_class_options(names: Sequence[str] | None, palette: Sequence[Sequence[int]] | None, source: str = "data.") -> None:
    """ValueError for names that repeat, colours outside 0..255 or black, or a palette whose length differs from the names'."""
    if names is not None:
        if not names:
            raise ValueError(f"{source}class_names is empty; give one name per class 1..K, or leave it out")
        repeated = sorted({n for n in names if list(names).count(n) > 1})
        if repeated:
            raise ValueError(f"{source}class_names must be distinct; repeated: {repeated}")
    if palette is None:
        return
    for i, rgb in enumerate(palette):
        if len(rgb) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in rgb):
            raise ValueError(f"{source}palette entry {i} {list(rgb)} is not an RGB colour of three integers 0..255")
        if tuple(rgb) == (0, 0, 0):
            raise ValueError(f"{source}palette entry {i} is black, the colour maps use for unlabeled pixels; pick another")
    if names is not None and len(palette) != len(names):
        raise ValueError(f"{source}palette has {len(palette)} colours but {source}class_names has {len(names)} names (one per class)")


def sidecar_path(labels: Path) -> Path:
    """Where the class names of ``labels`` are looked for: ``<labels without data suffixes>.classes.json`` beside it."""
    from hsframe.data.io import stem

    return labels.with_name(stem(labels, (".hdr",)) + SIDECAR_SUFFIX)


def read_sidecar(labels: Path) -> tuple[list[str] | None, list[RGB] | None, Path | None]:
    """``(class_names, palette, path)`` from the sidecar beside ``labels``; ``(None, None, None)`` when there is none."""
    path = sidecar_path(labels)
    if not path.is_file():
        return None, None, None
    try:
        content: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HsframeError(f"class file {path} is not readable JSON ({exc}); write it as "
                           '{"class_names": ["a", "b"], "palette": [[r, g, b], ...]} or remove it') from None
    if not isinstance(content, dict) or "class_names" not in content or set(content) - _SIDECAR_KEYS:
        raise HsframeError(f"class file {path} must hold a mapping with class_names (a list of names) and optionally palette "
                           f'(a list of [r, g, b]), e.g. {{"class_names": ["a", "b"]}}; got {json.dumps(content)[:120]}')
    names, palette = content["class_names"], content.get("palette")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise HsframeError(f"class file {path}: class_names must be a list of strings, got {json.dumps(names)[:120]}")
    if palette is not None and (not isinstance(palette, list) or not all(isinstance(c, list) for c in palette)):
        raise HsframeError(f"class file {path}: palette must be a list of [r, g, b] lists, got {json.dumps(palette)[:120]}")
    try:
        check_class_options(names, palette, source="")
    except ValueError as exc:
        raise HsframeError(f"class file {path}: {exc}") from None
    return list(names), ([tuple(c) for c in palette] if palette is not None else None), path  # type: ignore[misc]


def name_classes(data: Any, names: Sequence[str] | None, palette: Sequence[Sequence[int]] | None, source: str = "data.") -> None:
    """Give the loaded ``data`` (any :class:`~hsframe.data.base.LabeledData`) these names and colours, one per class 1..K.

    ``source`` prefixes the option in the error: "data." (``data.class_names``), or "class file x.classes.json: ".
    """
    k = data.num_classes
    for what, noun, given in (("class_names", "names", names), ("palette", "colours", palette)):
        if given is not None and len(given) != k:
            raise HsframeError(f"{source}{what} gives {len(given)} {noun} but {data.name!r} holds {k} classes "
                               f"(ids {_ids_text(data)}); give exactly {k}, one per class")
    if names is not None:
        data.class_names = [str(n) for n in names]
    if palette is not None:
        data.palette = [tuple(int(c) for c in rgb) for rgb in palette]


def _ids_text(data: Any) -> str:
    ids = data.original_ids
    return ", ".join(map(str, ids[:10])) + (", ..." if len(ids) > 10 else "") if ids else "none"
