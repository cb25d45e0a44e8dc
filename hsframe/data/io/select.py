"""Choosing the array a reader wants from a :class:`Source`: by its key, or the only one that fits."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

from hsframe.data.io.source import Array, Source, materialize
from hsframe.errors import HsframeError


def describe(arrays: dict[str, Array]) -> str:
    """``"cube (145, 145, 200) float32, gt (145, 145) uint8"``, for error messages."""
    return ", ".join(f"{k} {a.shape} {a.dtype}" for k, a in arrays.items()) or "(no numeric arrays)"


def squeezed_ndim(shape: tuple[int, ...]) -> int:
    """The number of axes longer than 1: an ``(H, W, 1)`` mask is 2-D, a ``(1, N)`` list is 1-D."""
    return sum(1 for s in shape if s != 1)


def integer_valued(arr: Array) -> bool:
    """Whether every value is a whole number: integer dtypes, or floats as MATLAB saves labels (reads float arrays)."""
    if arr.dtype.kind in "biu":
        return True
    values = materialize(arr, arr.perm, arr.dtype)
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def select_array(src: Source, key: str | None, path: Path, option: str, fits: Callable[[Array], bool], what: str,
                 wanted: str = "one wanted", prefer: Callable[[Array], bool] | None = None) -> str:
    """The named array (checked), or the only one that ``fits`` (of several, the only one ``prefer`` takes); else an
    error listing the arrays (name, shape, dtype) and the exact ``--set option=NAME`` to give.

    ``what`` describes the arrays that fit (e.g. "3-D array"); ``wanted`` the array sought (e.g. "cube").
    Single-array formats (``src.named`` False) give their one array, "", whatever ``key`` says.
    """
    if not src.arrays:
        raise HsframeError(f"{path} holds no numeric array. Check that it is the right file.")
    if not src.named:
        return ""
    if key is not None:
        name = key.lstrip("/")
        if name not in src.arrays:
            raise HsframeError(
                f"key {key!r} is not in {path}. Available: {describe(src.arrays)}. "
                f"Set {option} to one of these."
            )
        return name
    found = [k for k, a in src.arrays.items() if fits(a)]
    if len(found) > 1 and prefer is not None:
        preferred = [k for k in found if prefer(src.arrays[k])]
        found = preferred if len(preferred) == 1 else found
    if len(found) == 1:
        return found[0]
    example = max(found or list(src.arrays), key=lambda k: math.prod(src.arrays[k].shape))
    setting = f"--set {option}={example}" if "." in option else f"{option}={example!r}"  # config keys are dotted
    raise HsframeError(
        f"cannot tell which array of {path} is the {wanted}: it holds {len(found) or 'no'} "
        f"{what}{'s' if len(found) != 1 else ''}. Arrays: {describe(src.arrays)}. "
        f"Name the one to use, e.g. {setting}."
    )
