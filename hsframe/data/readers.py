"""Readers: any file of a registered format -> array + metadata, and cube (+ labels) files -> Scene.

The formats live in :mod:`hsframe.data.io`, one module each, found through the plugin registry:
MATLAB ``.mat`` (v5 via scipy, v7.3/HDF5 via h5py), ENVI (``.hdr`` + image, BSQ/BIL/BIP, any data
type and byte order, via ``spectral``), HDF5 (``.h5``/``.hdf5``), ``.npy``/``.npz``, (Geo)TIFF via
``tifffile``, and any a plugin registers. Every problem with the user's file is an
:class:`HsframeError` that says what to do next; a library exception never escapes as a raw traceback.

Memory: HDF5, ENVI and ``.npy`` are read lazily and converted one slab at a time into the single
output array, so peak memory stays about one cube. ``.mat`` v5, ``.npz`` members and TIFF have no
partial reads in their libraries and are loaded whole first. With ``out_of_core`` a 3-D cube is not
loaded at all: it stays in its file as a :class:`~hsframe.data.lazy_cube.LazyCube`.
"""
from __future__ import annotations

import math
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hsframe.data.io import (
    Array,
    Source,
    describe,
    detect_format,
    integer_valued,
    materialize,
    select_array,
    squeezed_ndim,
    stem,
    supported_suffixes,
    to_nm,
)
from hsframe.data.io.source import physical_memory
from hsframe.data.labels import whole_label_values
from hsframe.data.lazy_cube import LAZY_ABOVE, LazyCube, count_nonfinite
from hsframe.data.pixels import PixelOrder, abundance_labels, pixels_to_cube, sum_range, sums_about_one
from hsframe.data.scene import Scene
from hsframe.errors import HsframeError, folded_warnings, one_line

Kind = Literal["cube", "labels", "abundances", "raw"]
AxisOrder = Literal["auto", "HWB", "BHW", "bands_pixels", "pixels_bands"]
AXIS_ORDERS = ("auto", "HWB", "BHW", "bands_pixels", "pixels_bands")
# The 2-D layouts: a matrix of bands x pixels (or pixels x bands) of an image of data.shape.
PIXEL_MATRIX = ("bands_pixels", "pixels_bands")

# Which option names the key, per kind, for error messages.
_KEY_OPTION = {"cube": "data.cube_key", "labels": "data.labels_key", "abundances": "data.labels_key", "raw": "key"}


def __getattr__(name: str) -> Any:
    # SUPPORTED_SUFFIXES is computed on access, so that it follows the format registry (plugins included).
    if name == "SUPPORTED_SUFFIXES":
        return supported_suffixes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class ArrayFile:
    """What :func:`read_array` returns.

    Attributes:
        data: the cube as ``(H, W, B)`` float32 (kind "cube"), the label map as ``(H, W)`` int64
            (kind "labels"), or the array exactly as stored (kind "raw"; MATLAB v7.3 arrays are
            given in MATLAB's axis order, the same as a v5 file would give).
        metadata: ``format``, ``path``, ``key``, ``keys`` (every array with its shape),
            ``source_shape``/``source_dtype``, ``axis_order`` and ``axis_order_source`` (cube),
            ``wavelengths`` (``(B,)`` float64 nm or None), ``band_names``, ``rgb_bands``
            (0-based), ``ignore_value`` (ENVI "data ignore value" / GeoTIFF nodata),
            ``scale_factor``, ``nonfinite_replaced``, ``georef`` (:class:`~hsframe.data.georef.GeoReference`
            or None) and more, per format.
    """

    data: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- public API


@folded_warnings()  # a reader's warnings about the file end the error's line instead of preceding it
def read_array(
    path: str | os.PathLike,
    key: str | None = None,
    kind: Kind = "cube",
    axis_order: AxisOrder = "auto",
    *,
    spatial_shape: tuple[int, int] | None = None,
    pixel_order: PixelOrder = "F",
    nan_fill: float | None = None,
    out_of_core: bool | Literal["auto"] = False,
) -> ArrayFile:
    """Read one array of any file a registered format (built-in or plugin) reads.

    Args:
        path: the file (for ENVI either the ``.hdr`` or the image).
        key: the array's name in a ``.mat``/``.h5``/``.npz``; None picks the only array that fits:
            the only 3-D array (cube; refused when a larger bands x pixels matrix would give more
            bands), the only 2-D integer-valued array (labels), the 3-D or pixel-matrix array whose
            sums are about 1 (abundances), or the only array (raw).
        kind: "cube" -> ``(H, W, B)`` float32; "labels" -> ``(H, W)`` int64 checked to be whole
            and >= 0; "abundances" -> ``(H, W, K)`` float64 from ``(H, W, K)``, ``(K, H, W)``,
            ``(K, pixels)`` or ``(pixels, K)`` (``metadata["abundance_sums"]``: the smallest and
            largest per-pixel sum); "raw" -> the array as stored, untouched.
        axis_order: "auto" (from the format, else from ``spatial_shape``, else from the shape),
            "HWB"/"BHW" to say how the cube is stored, or "bands_pixels"/"pixels_bands" for a 2-D
            matrix of an image of ``spatial_shape`` with pixels in ``pixel_order``.
        spatial_shape: ``(H, W)`` of the image, if known (``data.shape``, the label map's): it
            settles the cube's axis order, and shapes pixel matrices (cube and abundances).
        pixel_order: "F" (pixel ``row + H * column``, MATLAB) or "C" (``row * W + column``).
        nan_fill: value for NaN/Inf cube values; None makes them an error.
        out_of_core: True leaves a 3-D cube in its file (``data`` is then a
            :class:`~hsframe.data.lazy_cube.LazyCube`, read a block of rows at a time); "auto" does so when
            the cube would take more than ``LAZY_ABOVE`` bytes as float32; a pixel matrix is always loaded.

    Raises:
        HsframeError: missing, unsupported, truncated or corrupt file; missing or ambiguous key;
            undecidable axis order; NaN/Inf in the cube without ``nan_fill``; bad labels.
    """
    path = Path(path)
    if kind not in _KEY_OPTION:
        raise ValueError(f"kind must be 'cube', 'labels' or 'raw', got {kind!r}")
    if axis_order not in AXIS_ORDERS:
        raise HsframeError(f"axis_order must be one of {', '.join(AXIS_ORDERS)} (data.axis_order), got {axis_order!r}")
    if pixel_order not in ("F", "C"):
        raise HsframeError(f"pixel_order must be 'F' or 'C' (data.pixel_order), got {pixel_order!r}")
    fmt = detect_format(path)
    files = ExitStack()  # an out-of-core cube takes it over: its file stays open as long as the cube lives
    try:
        with files:
            src = files.enter_context(fmt.open(path))
            name = _select_key(src, key, kind, path, axis_order, spatial_shape)
            arr = src.arrays[name]
            meta: dict[str, Any] = {
                "format": src.format,
                "path": str(path),
                "key": name if src.named else None,
                "keys": {k: a.shape for k, a in src.arrays.items()} if src.named else {},
                "source_shape": arr.shape,
                "source_dtype": str(arr.dtype),
                "wavelengths": None,
                "band_names": None,
                "rgb_bands": None,
                "ignore_value": None,
                "georef": None,
                **src.metadata,
            }
            if key is not None and not src.named:
                meta["key_ignored"] = key  # a single-array format has no names to choose from
            if kind == "raw":
                data = materialize(arr, arr.perm, arr.dtype)
            elif kind == "labels":
                data = _read_labels(arr, path, name)
            elif kind == "abundances":
                data = _read_abundances(src, fmt.title, arr, path, name, spatial_shape, pixel_order, meta)
            else:
                data = _read_cube(src, fmt.title, arr, path, name, axis_order, spatial_shape, pixel_order, nan_fill, meta,
                                  out_of_core, files)
                if meta["wavelengths"] is None and src.named:
                    meta["wavelengths"] = _companion_wavelengths(src, arr, data.shape[-1])
    except HsframeError:
        raise
    except MemoryError as exc:
        raise HsframeError(memory_message(path, exc, "the scene")) from None
    except Exception as exc:  # the parsers' errors on bad bytes are many and unrelated
        raise HsframeError(
            f"could not read {path} as {fmt.title}: {type(exc).__name__}: {one_line(exc)}. "
            "The file may be truncated or corrupt: download or export it again."
        ) from exc
    _tidy_band_metadata(meta, data, kind)
    return ArrayFile(data=data, metadata=meta)


def memory_message(path: Path, exc: MemoryError, what: str) -> str:
    """Not enough memory: the size the file claims when known, and what to do either way."""
    claim = f" ({exc})" if str(exc) else ""
    return (f"not enough memory to read {path}{claim}: if the file is not that big, it is damaged (export it again); "
            f"else use a machine with more RAM or crop {what} first.")


def open_scene(
    cube_path: str | os.PathLike,
    labels_path: str | os.PathLike | None = None,
    *,
    cube_key: str | None = None,
    labels_key: str | None = None,
    axis_order: AxisOrder = "auto",
    pixel_order: PixelOrder = "F",
    shape: tuple[int, int] | None = None,
    labels_encoding: Literal["class_ids", "abundances"] = "class_ids",
    purity_threshold: float | None = None,
    class_names: list[str] | None = None,
    nan_fill: float | None = None,
    name: str | None = None,
    out_of_core: bool | Literal["auto"] = False,
) -> Scene:
    """Build a :class:`Scene` from a cube file and an optional label file (may be the same file).

    Labels are read first so their ``(H, W)`` can settle the cube's axis order, and shape a pixel
    matrix (``axis_order`` "bands_pixels"/"pixels_bands") when ``shape`` (``(H, W)``) is not given.
    ``labels_encoding="abundances"``: the label file holds per-class abundances (see
    :func:`read_array`); label = argmax + 1, 0 where the largest is below ``purity_threshold``,
    and sums far from 1 are noted in ``Scene.notes``. Without labels every pixel is 0
    (unlabeled), so a cube can still be predicted. ``class_names`` default to the label file's
    ENVI class names, else ``class <id>`` for each id the labels hold (ids other than 1..K are
    renumbered by the :class:`Scene`; abundances name all K). The name defaults to the cube
    file's stem. ``Scene.nonfinite_replaced`` counts the NaN/Inf values ``nan_fill`` replaced.
    ``out_of_core`` (see :func:`read_array`): the scene's cube stays in its file.
    """
    if purity_threshold is not None and labels_encoding != "abundances":
        raise HsframeError("purity_threshold only applies to abundance labels (data.labels_encoding=abundances)")
    labels_file, notes = None, []
    if labels_path is not None and labels_encoding == "abundances":
        labels_file, note = _abundance_labels(labels_path, labels_key, shape, pixel_order, purity_threshold)
        notes += [note] if note else []
        class_names = class_names or [f"class {k}" for k in range(1, labels_file.metadata["classes"] + 1)]
    elif labels_path is not None:
        labels_file = read_array(labels_path, key=labels_key, kind="labels")
    spatial = shape or (tuple(labels_file.data.shape) if labels_file is not None else None)
    cube_file = read_array(cube_path, key=cube_key, kind="cube", axis_order=axis_order, spatial_shape=spatial,  # type: ignore[arg-type]
                           pixel_order=pixel_order, nan_fill=nan_fill, out_of_core=out_of_core)
    cube = cube_file.data
    if shape is not None and tuple(shape) != cube.shape[:2]:
        raise HsframeError(f"data.shape {list(shape)} does not match the cube {cube.shape} read from {cube_path}: data.shape "
                           "shapes a bands_pixels / pixels_bands matrix; leave it out for a 3-D cube, or correct it")
    if labels_file is None:
        labels = np.zeros(cube.shape[:2], dtype=np.int64)
    else:
        labels = labels_file.data
        if labels.shape != cube.shape[:2]:
            raise HsframeError(_mismatch_message(cube_file, labels_file))
    names = _class_names(class_names, labels_file, int(labels.max(initial=0)))
    rgb = cube_file.metadata.get("rgb_bands")
    return Scene(
        name=name or stem(Path(cube_path)),
        cube=cube,
        labels=labels,
        class_names=names,
        wavelengths=cube_file.metadata.get("wavelengths"),
        rgb_bands=tuple(rgb) if rgb is not None else None,  # type: ignore[arg-type]
        nonfinite_replaced=int(cube_file.metadata.get("nonfinite_replaced", 0)),
        georef=cube_file.metadata.get("georef"),
        notes=notes,
    )


def _abundance_labels(path: str | os.PathLike, key: str | None, shape: tuple[int, int] | None, pixel_order: PixelOrder,
                      purity_threshold: float | None) -> tuple[ArrayFile, str]:
    """Labels from the abundances in ``path`` (``metadata["classes"]``: K), and a warning when their sums are not about 1."""
    read = read_array(path, key=key, kind="abundances", spatial_shape=shape, pixel_order=pixel_order)
    low, high = read.metadata["abundance_sums"]
    note = "" if sums_about_one(low, high) else (
        f"warning: the abundances in {path}{_key_text(read.metadata['key'] or '')} sum to {low:.3g}..{high:.3g} per pixel, "
        "not about 1: check that data.labels_key names the abundance array (labels are the argmax either way)")
    labels = abundance_labels(read.data, purity_threshold)
    return ArrayFile(labels, {**read.metadata, "classes": read.data.shape[-1]}), note


# --------------------------------------------------------------------------- choosing the array


def _select_key(src: Source, key: str | None, kind: str, path: Path, axis_order: str, spatial: tuple[int, int] | None) -> str:
    """The requested key, checked, or the only array that fits ``kind``."""
    option = _KEY_OPTION[kind]
    pixels = math.prod(spatial) if spatial is not None else None
    if kind == "cube" and axis_order in PIXEL_MATRIX:
        if key is None and src.named and pixels is not None and not any(_pixel_matrix(a, pixels) for a in src.arrays.values()):
            _refuse_pixel_count(src, path, spatial)  # type: ignore[arg-type]
        return select_array(src, key, path, option, lambda a: _pixel_matrix(a, pixels), "2-D (bands, pixels) array", "cube")
    if kind == "cube":
        if key is None and src.named:
            _refuse_few_band_cube(src, path, spatial)
        return select_array(src, key, path, option, lambda a: len(a.shape) == 3, "3-D array", "cube")
    if kind == "labels":
        # Each array is checked once (integer_valued reads float arrays whole); only a choice among several needs it.
        maps = [a for a in src.arrays.values() if _label_map(a)] if key is None and src.named else []
        if key is None and src.named and not maps:
            _suggest_abundances(src, path)
        return select_array(src, key, path, option, lambda a: any(a is m for m in maps), "2-D integer-valued array", "labels")
    if kind == "abundances":
        return select_array(src, key, path, option,
                            lambda a: (len(a.shape) == 3 and 0 not in a.shape) or _pixel_matrix(a, pixels),
                            "3-D or (classes, pixels) array", "abundances", prefer=lambda a: _sums_about_one(a, pixels))
    return select_array(src, key, path, option, lambda a: True, "array")


def _suggest_abundances(src: Source, path: Path) -> None:
    """No class-id map in the file, but (H, W, K) abundances: say how to read them as labels."""
    found = [k for k, a in src.arrays.items() if len(a.shape) == 3 and 0 not in a.shape and _sums_about_one(a, None)]
    if found:
        raise HsframeError(f"{path} holds no 2-D class-id map, but {found[0]} {src.arrays[found[0]].shape} sums to 1 per "
                           f"pixel, like per-class abundances. Arrays: {describe(src.arrays)}. To take their argmax as the "
                           f"labels: --set data.labels_encoding=abundances --set data.labels_key={found[0]}")


def _label_map(arr: Array) -> bool:
    """A 2-D (singleton axes aside) array of whole numbers."""
    return len(arr.shape) >= 2 and squeezed_ndim(arr.shape) == 2 and integer_valued(arr)


def _pixel_matrix(arr: Array, pixels: int | None) -> bool:
    """A 2-D array of two real axes, one of them ``pixels`` long when that is known."""
    return len(arr.shape) == 2 and min(arr.shape) > 1 and (pixels is None or pixels in arr.shape)


def _refuse_pixel_count(src: Source, path: Path, spatial: tuple[int, int]) -> None:
    """No 2-D array has the ``spatial`` image's pixel count: say so, with the counts the matrices do have."""
    counts = sorted({max(a.shape) for a in src.arrays.values() if _pixel_matrix(a, None)}, reverse=True)
    hint = f"one of {', '.join(map(str, counts))}" if counts else "the pixel count of a 2-D array"
    raise HsframeError(f"data.shape [{spatial[0]},{spatial[1]}] makes {math.prod(spatial)} pixels, but no 2-D array of {path} has "
                       f"that many rows or columns. Arrays: {describe(src.arrays)}. Give data.shape with H*W = {hint}.")


def _sums_about_one(arr: Array, pixels: int | None) -> bool:
    """Whether the array reads as abundances: every pixel's values over the class axis sum to about 1."""
    shape = arr.shape
    if len(shape) == 3:  # the class axis: the short one at an end (as for a cube's bands)
        axis = -1 if shape[-1] <= shape[0] else 0
    else:
        axis = 0 if (shape[1] == pixels if pixels is not None else shape[0] < shape[1]) else 1
    return sums_about_one(*sum_range(materialize(arr, arr.perm, np.float64), axis))


def _refuse_few_band_cube(src: Source, path: Path, spatial: tuple[int, int] | None) -> None:
    """No key given: refuse to take a 3-D array as the cube when a larger 2-D matrix would give more bands.

    Moffett Field's .mat holds ``Y`` (184, 2500), the cube as a bands x pixels matrix, and ``S_GT``
    (50, 50, 3), abundances: the only 3-D array, but as a cube it has 3 bands.
    """
    size = {k: math.prod(a.shape) for k, a in src.arrays.items()}
    cubes = [k for k, a in src.arrays.items() if len(a.shape) == 3]
    matrices = [k for k, a in src.arrays.items() if _pixel_matrix(a, None)]
    if not matrices:
        return
    best = max(matrices, key=lambda k: size[k])
    bands = min(src.arrays[best].shape)
    cube_bands = {k: _bands_of(src, k, path, spatial) for k in cubes}
    fewer = [k for k in cubes if cube_bands[k] < bands and size[k] < size[best]]
    if cubes and len(fewer) < len(cubes):
        return  # a 3-D array with at least as many bands: today's rule (the only 3-D array) decides
    why = (f"{', '.join(fewer)} would give only {cube_bands[fewer[0]]} bands, while {best} "
           f"{src.arrays[best].shape} looks like a bands x pixels matrix") if fewer else "it holds no 3-D array"
    also = f"; to read {fewer[0]} as the cube: --set data.cube_key={fewer[0]}" if fewer else ""
    raise HsframeError(f"cannot tell which array of {path} is the cube: {why}. Arrays: {describe(src.arrays)}. "
                       f"To read {best} as the cube: {_matrix_settings(src.arrays[best].shape, spatial, best)}{also}.")


def _bands_of(src: Source, key: str, path: Path, spatial: tuple[int, int] | None) -> int:
    """How many bands the 3-D array ``key`` has as a cube (its smallest axis when its order cannot be told)."""
    shape = src.arrays[key].shape
    try:
        order, _ = _axis_order(shape, src, "", path, "auto", spatial)
    except HsframeError:
        return min(shape)
    return shape[2] if order == "HWB" else shape[0]


def _matrix_settings(shape: tuple[int, ...], spatial: tuple[int, int] | None, key: str | None = None) -> str:
    """The exact ``--set`` options that read a 2-D array of ``shape`` as a bands x pixels (or pixels x bands) cube."""
    bands_first = shape[0] <= shape[1]  # an image has more pixels than bands
    n = shape[1] if bands_first else shape[0]
    if spatial is not None and math.prod(spatial) == n:
        hw = f"[{spatial[0]},{spatial[1]}]"
    elif math.isqrt(n) ** 2 == n:
        hw = f"[{math.isqrt(n)},{math.isqrt(n)}] (if the image is square; else [H,W] with H*W = {n})"
    else:
        hw = f"[H,W] with H*W = {n}"
    sets = f"--set data.cube_key={key} " if key else ""
    return (f"{sets}--set data.axis_order={'bands_pixels' if bands_first else 'pixels_bands'} --set data.shape={hw}; "
            "pixels are taken in MATLAB's column-major order (data.pixel_order=F, the default; C for row-major)")


# --------------------------------------------------------------------------- reading


def _cube_perm(
    arr: Array, src: Source, title: str, path: Path, requested: str, spatial: tuple[int, int] | None, meta: dict[str, Any]
) -> tuple[int, ...]:
    """Permutation from stored axes to ``(H, W, B)``; records the order used and why."""
    order, why = _axis_order(arr.shape, src, title, path, requested, spatial)
    meta["axis_order"], meta["axis_order_source"] = order, why
    to_hwb = (0, 1, 2) if order == "HWB" else (1, 2, 0)
    return tuple(arr.perm[i] for i in to_hwb)


def _axis_order(
    shape: tuple[int, ...], src: Source, title: str, path: Path, requested: str, spatial: tuple[int, int] | None
) -> tuple[str, str]:
    """The cube's stored order ("HWB"/"BHW") and what settled it; ``title`` names the format in errors."""
    if requested != "auto":
        if src.layout_firm and requested != src.layout:
            raise HsframeError(
                f"{path} is {title}, whose header fixes the axis order, but "
                f"data.axis_order={requested!r} was given. Set data.axis_order to 'auto' for this file."
            )
        return requested, "requested"
    if src.layout is not None:
        return src.layout, "format"
    if spatial is not None:
        hwb, bhw = tuple(shape[:2]) == tuple(spatial), tuple(shape[1:]) == tuple(spatial)
        if hwb != bhw:
            return ("HWB" if hwb else "BHW"), "labels shape"
    # The band axis is the one whose size differs from the two (roughly equal) spatial ones.
    a, b, c = shape
    first_pair, last_pair = abs(math.log(a / b)), abs(math.log(b / c))
    if math.isclose(first_pair, last_pair):
        raise HsframeError(
            f"cannot tell the band axis of the cube {shape} in {path}: it could be (H, W, B) or (B, H, W). "
            "Set data.axis_order to 'HWB' or 'BHW'."
        )
    return ("HWB" if first_pair < last_pair else "BHW"), "shape"


def _read_cube(
    src: Source,
    title: str,
    arr: Array,
    path: Path,
    name: str,
    requested: str,
    spatial: tuple[int, int] | None,
    pixel_order: PixelOrder,
    nan_fill: float | None,
    meta: dict[str, Any],
    out_of_core: bool | Literal["auto"] = False,
    files: ExitStack | None = None,
) -> np.ndarray | LazyCube:
    """``(H, W, B)`` float32, converted slab by slab; NaN/Inf counted, and replaced if ``nan_fill``.

    Out of core (a 3-D cube and ``out_of_core`` True, or "auto" and above ``LAZY_ABOVE`` bytes), the cube
    stays in its file, which ``files`` holds open: the values are counted in one pass here, and each block
    is converted (and filled) when read.
    """
    where = f"{path}{_key_text(name)}"
    if requested in PIXEL_MATRIX:
        hw = _matrix_image(arr.shape, where, requested, spatial)
        # (N, B): the pixels axis first, whichever way the matrix is stored
        perm = (arr.perm[1], arr.perm[0]) if requested == "bands_pixels" else arr.perm
        meta["axis_order"], meta["axis_order_source"], meta["pixel_order"] = requested, "requested", pixel_order
    elif len(arr.shape) == 2:
        raise HsframeError(f"the cube in {where} must be 3-D, (H, W, B) or (B, H, W); it is 2-D, {arr.shape}. If it is a "
                           f"bands x pixels matrix, read it as one: {_matrix_settings(arr.shape, spatial)}.")
    elif len(arr.shape) != 3:
        raise HsframeError(
            f"the cube in {where} must be 3-D, (H, W, B) or (B, H, W); it is {arr.shape}. "
            f"Name the cube's array with data.cube_key."
        )
    elif 0 in arr.shape:
        raise HsframeError(f"the cube in {where} is empty: shape {arr.shape}.")
    else:
        perm = _cube_perm(arr, src, title, path, requested, spatial, meta)
    counts = {"nan": 0, "inf": 0}
    if files is not None and requested not in PIXEL_MATRIX and _stays_in_file(arr, perm, out_of_core):
        cube = LazyCube(arr, perm, None, files.pop_all())  # type: ignore[union-attr]
        try:
            if arr.dtype.kind not in "biu":  # integers cannot hold NaN
                counts["nan"], counts["inf"] = count_nonfinite(cube)
        except BaseException:
            cube.close()
            raise
        cube.nan_fill = nan_fill
        meta["out_of_core"] = True
        _check_nonfinite(counts, cube, where, nan_fill, meta, cube.close)
        return cube

    def fix(block: np.ndarray) -> np.ndarray:
        bad = ~np.isfinite(block)
        if bad.any():
            n_nan = int(np.isnan(block).sum())
            counts["nan"] += n_nan
            counts["inf"] += int(bad.sum()) - n_nan
            if nan_fill is not None:
                block = np.array(block, copy=True) if not block.flags.writeable else block
                block[bad] = nan_fill
        return block

    # Integer data cannot hold NaN, and float64 beyond float32's range becomes Inf here: checked too.
    cube = materialize(arr, perm, np.float32, fix=None if arr.dtype.kind in "biu" else fix)
    if requested in PIXEL_MATRIX:
        cube = pixels_to_cube(cube, *hw, pixel_order, bands_first=False)
    _check_nonfinite(counts, cube, where, nan_fill, meta)
    return cube


def _stays_in_file(arr: Array, perm: tuple[int, ...], out_of_core: bool | Literal["auto"]) -> bool:
    """Whether a 3-D cube is read out of core: asked for (or "auto" and over ``LAZY_ABOVE`` bytes as float32), its format
    reads parts of the file, and its per-pixel maps (int64 labels, features) fit in memory; a header claiming more
    pixels than that is left to the in-memory reader, which refuses it before allocating anything."""
    h, w, b = (int(arr.store.shape[p]) for p in perm)
    ram = physical_memory()
    wanted = out_of_core is True or (out_of_core == "auto" and h * w * b * 4 > LAZY_ABOVE)
    return wanted and arr.partial and (ram is None or h * w * 12 <= ram)


def _check_nonfinite(counts: dict[str, int], cube: Any, where: str, nan_fill: float | None, meta: dict[str, Any],
                     on_error: Any = None) -> None:
    """Refuse NaN/Inf values without ``nan_fill`` (after ``on_error()``, e.g. closing the file); else record how many were replaced."""
    total = counts["nan"] + counts["inf"]
    if total and nan_fill is None:
        if on_error is not None:
            on_error()
        raise HsframeError(
            f"the cube in {where} holds {total} non-finite values ({counts['nan']} NaN, "
            f"{counts['inf']} Inf; {100 * total / cube.size:.3g}% of {cube.size}). Set data.nan_fill "
            "(e.g. data.nan_fill=0) to replace them, or clean the file."
        )
    if total:
        meta["nonfinite_replaced"], meta["nan_fill"] = total, float(nan_fill)  # type: ignore[arg-type]


def _matrix_image(shape: tuple[int, ...], where: str, layout: str, spatial: tuple[int, int] | None) -> tuple[int, int]:
    """``(H, W)`` of the image a ``layout`` matrix of ``shape`` holds, checked against its pixel count."""
    if len(shape) != 2 or 0 in shape:
        raise HsframeError(f"data.axis_order={layout} reads a 2-D matrix, but the cube in {where} is {shape}; "
                           "set data.axis_order to auto, HWB or BHW for a 3-D cube")
    n = shape[1] if layout == "bands_pixels" else shape[0]
    if spatial is None:
        square = f" (e.g. [{math.isqrt(n)},{math.isqrt(n)}] if the image is square)" if math.isqrt(n) ** 2 == n else ""
        raise HsframeError(f"the cube in {where} is a {layout.replace('_', ' x ')} matrix {shape} of {n} pixels: give the "
                           f"image's size with --set data.shape=[H,W], H*W = {n}{square}")
    if math.prod(spatial) != n:
        other = "pixels_bands" if layout == "bands_pixels" else "bands_pixels"
        flip = f", or the matrix is {other.replace('_', ' x ')} (data.axis_order={other})" if math.prod(spatial) in shape else ""
        raise HsframeError(f"data.shape [{spatial[0]},{spatial[1]}] makes {math.prod(spatial)} pixels, but the {layout.replace('_', ' x ')} "
                           f"matrix {shape} in {where} holds {n}: give data.shape with H*W = {n}{flip}")
    return int(spatial[0]), int(spatial[1])


def _read_abundances(src: Source, title: str, arr: Array, path: Path, name: str, spatial: tuple[int, int] | None,
                     pixel_order: PixelOrder, meta: dict[str, Any]) -> np.ndarray:
    """``(H, W, K)`` float64 abundances from ``(H, W, K)``/``(K, H, W)`` or a ``(K, pixels)``/``(pixels, K)`` matrix."""
    where = f"the abundances in {path}{_key_text(name)}"
    shape = arr.shape
    if len(shape) == 3 and 0 not in shape:
        order, _ = _axis_order(shape, src, title, path, "auto", spatial)
        a = materialize(arr, tuple(arr.perm[i] for i in ((0, 1, 2) if order == "HWB" else (1, 2, 0))), np.float64)
    elif len(shape) == 2 and 0 not in shape:
        n = math.prod(spatial) if spatial is not None else None
        if n is None or n not in shape:
            size = f"data.shape [{spatial[0]},{spatial[1]}] makes {n} pixels, which neither axis has" if spatial else \
                "the image's size is not known"
            raise HsframeError(f"{where} are a {shape} matrix of classes and pixels, but {size}: give --set "
                               "data.shape=[H,W] with H*W = its pixel count")
        a = materialize(arr, (arr.perm[1], arr.perm[0]) if shape[1] == n else arr.perm, np.float64)  # (N, K)
        a = pixels_to_cube(a, *spatial, pixel_order, bands_first=False, dtype=np.float64)  # type: ignore[misc]
    else:
        raise HsframeError(f"{where} must be (H, W, K), (K, H, W), (K, pixels) or (pixels, K); the array is {shape}. "
                           "Name the abundance array with data.labels_key.")
    if not np.isfinite(a).all():
        raise HsframeError(f"{where} hold NaN or Inf values; the file is damaged: get it again, or name another array "
                           "with data.labels_key.")
    meta["abundance_sums"] = sum_range(a)
    return a


_WAVELENGTH_NAMES = ("wavelength", "wavelengths", "wavelength_nm", "wl", "lambda")


def _companion_wavelengths(src: Source, cube: Array, bands: int) -> np.ndarray | None:
    """``(B,)`` wavelengths stored beside the cube: an attribute of it, or a 1-D array named like one."""
    for attr, value in cube.attrs.items():
        if attr.lower() in _WAVELENGTH_NAMES and np.size(value) == bands:
            return to_nm(np.ravel(value).astype(float).tolist(), str(cube.attrs.get("wavelength_units", "")))
    for name, a in src.arrays.items():
        if name.rsplit("/", 1)[-1].lower() in _WAVELENGTH_NAMES and math.prod(a.shape) == bands:
            return to_nm(materialize(a, a.perm, np.float64).ravel().tolist(), "")
    return None


def _read_labels(arr: Array, path: Path, name: str) -> np.ndarray:
    """``(H, W)`` int64: singleton axes dropped, values checked to be whole numbers >= 0."""
    raw = materialize(arr, arr.perm, arr.dtype)
    where = f"{path}{_key_text(name)}"
    if raw.ndim < 2 or squeezed_ndim(raw.shape) != 2:
        raise HsframeError(f"the labels in {where} must be a 2-D (H, W) map; the array is {raw.shape}. "
                           f"Name the label array with data.labels_key{_ABUNDANCE_HINT if raw.ndim == 3 else ''}.")
    raw = raw.reshape([s for s in raw.shape if s != 1])
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(raw) | (raw != np.round(raw))
        if bad.any():
            example = raw[bad][0]
            raise HsframeError(
                f"the labels in {where} must be whole numbers (0 = unlabeled, 1..K = classes); "
                f"{int(bad.sum())} values are not (e.g. {example}). Is this an abundance or cube array? "
                f"Name the label array with data.labels_key{_ABUNDANCE_HINT}."
            )
    if raw.dtype.kind != "b" and (raw < 0).any():
        raise HsframeError(
            f"the labels in {where} hold {int((raw < 0).sum())} negative values (min {raw.min()}); "
            "labels must be 0 (unlabeled) or class ids 1..K. Map the negative ones to 0 in the file."
        )
    return whole_label_values(raw, f"the labels in {where}")  # int64, refusing values beyond it


_ABUNDANCE_HINT = ", or read per-class abundances as labels (their argmax) with --set data.labels_encoding=abundances"


def _key_text(name: str) -> str:
    return f" (key {name!r})" if name else ""


def _tidy_band_metadata(meta: dict[str, Any], data: np.ndarray, kind: str) -> None:
    """Drop band metadata that does not match the cube's band count, saying so."""
    if kind != "cube":
        return
    bands = data.shape[-1]
    for k in ("wavelengths", "band_names"):
        v = meta.get(k)
        if v is not None and len(v) != bands:
            meta[f"{k}_ignored"] = f"{len(v)} values for {bands} bands"
            meta[k] = None
    rgb = meta.get("rgb_bands")
    if rgb is not None and (len(rgb) != 3 or not all(0 <= b < bands for b in rgb)):
        meta["rgb_bands_ignored"], meta["rgb_bands"] = rgb, None


# --------------------------------------------------------------------------- open_scene helpers


def _mismatch_message(cube: ArrayFile, labels: ArrayFile) -> str:
    c, lab = cube.data.shape, labels.data.shape
    hint = ""
    if lab[::-1] == c[:2]:
        hint = " The label map looks transposed (was it written with its axes reversed?)."
    elif lab in (c[1:], (c[0], c[2])):
        hint = f" The cube may be stored in another axis order: set data.axis_order (used {cube.metadata.get('axis_order')})."
    return (
        f"labels {lab} from {labels.metadata['path']} do not match the cube's (H, W) {c[:2]} "
        f"from {cube.metadata['path']} (cube read as {c}).{hint} Check that the two files belong "
        "together and that data.cube_key / data.labels_key name the right arrays."
    )


def _class_names(given: list[str] | None, labels: ArrayFile | None, k: int) -> list[str]:
    """The given names, the file's names of ids 1..k, or none: the Scene names the ids it finds (never k names by the largest id)."""
    if given is not None:
        return list(given)
    from_file = labels.metadata.get("class_names") if labels is not None else None
    if from_file is not None and len(from_file) > k:
        return list(from_file[1 : k + 1])  # ENVI lists the name of id 0 (unclassified) first
    return []
