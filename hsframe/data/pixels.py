"""Pixel matrices and abundances: a ``(bands, pixels)`` matrix -> ``(H, W, B)`` cube, abundances -> class ids.

The unmixing benchmarks (Samson, Jasper Ridge, Moffett Field, Urban) are released as a bands x
pixels matrix ``Y`` with the pixels in MATLAB's column-major order, and per-class abundances
instead of a label map. The dataset cards (:mod:`hsframe.data.catalog`) and files read from the
command line (``data.axis_order=bands_pixels``, ``data.labels_encoding=abundances``,
:func:`hsframe.data.readers.open_scene`) both arrange them here.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

PixelOrder = Literal["F", "C"]

# Abundances of a pixel sum to 1; sums further from it than this are reported.
SUM_TOLERANCE = 0.05


def pixels_to_cube(y: np.ndarray, height: int, width: int, order: PixelOrder = "F", *, bands_first: bool = True,
                   dtype: type = np.float32) -> np.ndarray:
    """``(B, H*W)`` band-by-pixel matrix (``bands_first``; else ``(H*W, B)``) -> ``(H, W, B)`` cube of ``dtype``.

    ``order="F"``: pixel ``p = row + H * column`` (MATLAB's column-major order, as in the Samson
    and Jasper Ridge releases); ``"C"``: ``p = row * W + column``.
    """
    pixels = y.T if bands_first else y
    n, bands = pixels.shape
    if n != height * width:
        raise ValueError(f"{n} pixels cannot form a {height} x {width} image")
    return np.ascontiguousarray(pixels.reshape((height, width, bands), order=order), dtype=dtype)


def abundance_labels(abundances: np.ndarray, purity_threshold: float | None = None) -> np.ndarray:
    """``(H, W, K)`` abundances -> ``(H, W)`` int64 labels 1..K (argmax + 1).

    With ``purity_threshold`` pixels whose largest abundance is below it get 0 (unlabeled), so
    only nearly pure pixels are classified.
    """
    labels = np.argmax(abundances, axis=-1).astype(np.int64) + 1
    if purity_threshold is not None:
        labels[np.max(abundances, axis=-1) < purity_threshold] = 0
    return labels


def sum_range(abundances: np.ndarray, axis: int = -1) -> tuple[float, float]:
    """The smallest and largest per-pixel sum of ``abundances`` over the class ``axis``."""
    sums = abundances.sum(axis=axis, dtype=np.float64)
    return float(sums.min(initial=np.inf)), float(sums.max(initial=-np.inf))


def sums_about_one(low: float, high: float) -> bool:
    """Whether per-pixel sums from ``low`` to ``high`` are all within :data:`SUM_TOLERANCE` of 1."""
    return 1 - SUM_TOLERANCE <= low and high <= 1 + SUM_TOLERANCE
