"""Readers: any supported hyperspectral file -> array + metadata, and cube (+ labels) files -> Scene.

Supported: MATLAB ``.mat`` (v5 via scipy, v7.3/HDF5 via h5py), ENVI (``.hdr`` + image, BSQ/BIL/BIP,
any data type and byte order, via ``spectral``), HDF5 (``.h5``/``.hdf5``), ``.npy``/``.npz`` and
(Geo)TIFF via ``tifffile``. Every problem with the user's file is an :class:`HsframeError` that says
what to do next; a library exception never escapes as a raw traceback.

Memory: HDF5, ENVI and ``.npy`` are read lazily and converted one slab at a time into the single
output array, so peak memory stays about one cube. ``.mat`` v5, ``.npz`` members and TIFF have no
partial reads in their libraries and are loaded whole first.
"""
from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import numpy as np

from hsframe.data.scene import Scene
from hsframe.errors import HsframeError

Kind = Literal["cube", "labels", "raw"]
AxisOrder = Literal["auto", "HWB", "BHW"]

# Suffix -> format read when the file's signature does not decide (see `_detect_format`).
_SUFFIX_FORMATS: dict[str, str] = {
    ".mat": "mat-v5",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".he5": "hdf5",
    ".npy": "npy",
    ".npz": "npz",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".hdr": "envi",
    ".img": "envi",
    ".dat": "envi",
    ".raw": "envi",
    ".bsq": "envi",
    ".bil": "envi",
    ".bip": "envi",
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_SUFFIX_FORMATS)

# Which option names the key, per kind, for error messages.
_KEY_OPTION = {"cube": "data.cube_key", "labels": "data.labels_key", "raw": "key"}

# Target size of one slab read from a lazy source while converting (tests shrink it).
_SLAB_BYTES = 32 * 2**20

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


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
            ``scale_factor``, ``nonfinite_replaced`` and more, per format.
    """

    data: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Array:
    """One array of an opened file: ``store`` is sliceable on axis 0 (h5py dataset, memmap or ndarray).

    ``perm`` maps the stored axes to the logical ones (``logical = store.transpose(perm)``): the
    reversal of MATLAB v7.3 arrays, or an ENVI interleave to ``(H, W, B)``.
    """

    store: Any
    perm: tuple[int, ...]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(self.store.shape[p]) for p in self.perm)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.store.dtype)


@dataclass
class _Source:
    """An opened file: its numeric arrays by name and what the format itself says about them.

    ``named``: False for single-array formats (ENVI, TIFF, .npy), whose one array has the name "".
    ``layout``: "HWB"/"BHW" when the format states the cube's axis order; ``layout_firm`` when a
    conflicting request must be refused (ENVI's interleave is authoritative).
    """

    format: str
    arrays: dict[str, _Array]
    named: bool = True
    layout: str | None = None
    layout_firm: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- public API


def read_array(
    path: str | os.PathLike,
    key: str | None = None,
    kind: Kind = "cube",
    axis_order: AxisOrder = "auto",
    *,
    spatial_shape: tuple[int, int] | None = None,
    nan_fill: float | None = None,
) -> ArrayFile:
    """Read one array of any supported file.

    Args:
        path: the file (for ENVI either the ``.hdr`` or the image).
        key: the array's name in a ``.mat``/``.h5``/``.npz``; None picks the only 3-D array
            (cube), the only 2-D integer-valued array (labels) or the only array (raw).
        kind: "cube" -> ``(H, W, B)`` float32; "labels" -> ``(H, W)`` int64 checked to be whole
            and >= 0; "raw" -> the array as stored, untouched.
        axis_order: "auto" (from the format, else from ``spatial_shape``, else from the shape), or
            "HWB"/"BHW" to say how the cube is stored.
        spatial_shape: ``(H, W)`` of the label map, if known, to settle the cube's axis order.
        nan_fill: value for NaN/Inf cube values; None makes them an error.

    Raises:
        HsframeError: missing, unsupported, truncated or corrupt file; missing or ambiguous key;
            undecidable axis order; NaN/Inf in the cube without ``nan_fill``; bad labels.
    """
    path = Path(path)
    if kind not in _KEY_OPTION:
        raise ValueError(f"kind must be 'cube', 'labels' or 'raw', got {kind!r}")
    if axis_order not in ("auto", "HWB", "BHW"):
        raise HsframeError(f"axis_order must be 'auto', 'HWB' or 'BHW' (data.axis_order), got {axis_order!r}")
    fmt = _detect_format(path)
    try:
        with _open_source(path, fmt) as src:
            name = _select_key(src, key, kind, path)
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
                **src.metadata,
            }
            if key is not None and not src.named:
                meta["key_ignored"] = key  # a single-array format has no names to choose from
            if kind == "raw":
                data = _materialize(arr, arr.perm, arr.dtype)
            elif kind == "labels":
                data = _read_labels(arr, path, name)
            else:
                data = _read_cube(src, arr, path, name, axis_order, spatial_shape, nan_fill, meta)
                if meta["wavelengths"] is None and src.named:
                    meta["wavelengths"] = _companion_wavelengths(src, arr, data.shape[-1])
    except HsframeError:
        raise
    except MemoryError:
        raise HsframeError(
            f"not enough memory to read {path}: use a machine with more RAM or crop the scene first."
        ) from None
    except Exception as exc:  # the parsers' errors on bad bytes are many and unrelated
        raise HsframeError(
            f"could not read {path} as {_FORMAT_TITLES[fmt]}: {type(exc).__name__}: {exc}. "
            "The file may be truncated or corrupt: download or export it again."
        ) from exc
    _tidy_band_metadata(meta, data, kind)
    return ArrayFile(data=data, metadata=meta)


def open_scene(
    cube_path: str | os.PathLike,
    labels_path: str | os.PathLike | None = None,
    *,
    cube_key: str | None = None,
    labels_key: str | None = None,
    axis_order: AxisOrder = "auto",
    class_names: list[str] | None = None,
    nan_fill: float | None = None,
    name: str | None = None,
) -> Scene:
    """Build a :class:`Scene` from a cube file and an optional label file (may be the same file).

    Labels are read first so their ``(H, W)`` can settle the cube's axis order. Without labels
    every pixel is 0 (unlabeled), so a cube can still be predicted. ``class_names`` default to
    the label file's ENVI class names, else ``["class 1", ..., "class K"]`` for K = max label.
    The name defaults to the cube file's stem.
    """
    labels_file = None
    if labels_path is not None:
        labels_file = read_array(labels_path, key=labels_key, kind="labels")
    spatial = tuple(labels_file.data.shape) if labels_file is not None else None
    cube_file = read_array(
        cube_path, key=cube_key, kind="cube", axis_order=axis_order, spatial_shape=spatial, nan_fill=nan_fill
    )
    cube = cube_file.data
    if labels_file is None:
        labels = np.zeros(cube.shape[:2], dtype=np.int64)
    else:
        labels = labels_file.data
        if labels.shape != cube.shape[:2]:
            raise HsframeError(_mismatch_message(cube_file, labels_file))
    k = int(labels.max(initial=0))
    names = _class_names(class_names, labels_file, k)
    rgb = cube_file.metadata.get("rgb_bands")
    return Scene(
        name=name or _stem(Path(cube_path)),
        cube=cube,
        labels=labels,
        class_names=names,
        wavelengths=cube_file.metadata.get("wavelengths"),
        rgb_bands=tuple(rgb) if rgb is not None else None,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- format detection

_FORMAT_TITLES = {
    "mat-v5": "a MATLAB v5 .mat file",
    "mat-v7.3": "a MATLAB v7.3 .mat file (HDF5)",
    "hdf5": "an HDF5 file",
    "npy": "a NumPy .npy file",
    "npz": "a NumPy .npz archive",
    "tiff": "a (Geo)TIFF file",
    "envi": "an ENVI image",
}


def _detect_format(path: Path) -> str:
    """The format by file signature where it is decisive, else by suffix (or an ENVI header beside it)."""
    if not path.exists():
        raise HsframeError(f"file not found: {path} (working directory {Path.cwd()}). Check the path.")
    if path.is_dir():
        raise HsframeError(f"{path} is a directory; give the path of a data file in it.")
    suffix = path.suffix.lower()
    envi_header = _envi_header_for(path)
    # A raw ENVI image can start with any bytes, so its header decides before any signature.
    if suffix == ".hdr" or (_SUFFIX_FORMATS.get(suffix) == "envi" and envi_header is not None):
        return "envi"
    import h5py

    try:
        with path.open("rb") as fh:
            head = fh.read(128)
        # A .mat v7.3 is HDF5 behind a 512-byte MATLAB header; h5py.is_hdf5 looks past such user blocks.
        hdf5 = head.startswith(_HDF5_SIGNATURE) or h5py.is_hdf5(str(path))
    except OSError as exc:
        raise HsframeError(f"cannot read {path}: {exc.strerror or exc}. Check the file's permissions.") from None
    if hdf5:
        return "mat-v7.3" if suffix == ".mat" or head.startswith(b"MATLAB 7.3") else "hdf5"
    if head.startswith(b"MATLAB 5.0"):
        return "mat-v5"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04") and suffix == ".npz":
        return "npz"
    if head[:4] in _TIFF_SIGNATURES:
        return "tiff"
    if envi_header is not None:
        return "envi"
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]  # signature damaged or absent: let that reader report it
    raise HsframeError(
        f"unsupported file type {suffix or '(no suffix)'!r}: {path}. "
        f"Supported: {', '.join(SUPPORTED_SUFFIXES)} (ENVI images need their .hdr beside them). "
        "Convert the file to one of these."
    )


def _envi_header_for(image: Path) -> Path | None:
    """The ENVI header of an image: ``name.img.hdr`` or ``name.hdr``."""
    for cand in (image.with_name(image.name + ".hdr"), image.with_suffix(".hdr")):
        if cand.is_file() and cand != image:
            return cand
    return None


# --------------------------------------------------------------------------- opening each format


@contextmanager
def _open_source(path: Path, fmt: str) -> Iterator[_Source]:
    """Open ``path`` as ``fmt``; lazy stores (h5py, memmaps) stay valid inside the ``with`` only."""
    if fmt in ("hdf5", "mat-v7.3"):
        import h5py

        with h5py.File(path, "r") as f:
            yield _hdf5_source(f, matlab=fmt == "mat-v7.3")
    elif fmt == "mat-v5":
        yield _mat_v5_source(path)
    elif fmt == "npy":
        store = np.load(path, mmap_mode="r", allow_pickle=False)
        yield _Source("npy", {"": _Array(store, tuple(range(store.ndim)))}, named=False)
        del store
    elif fmt == "npz":
        with np.load(path, allow_pickle=False) as npz:
            yield _npz_source(npz)
    elif fmt == "tiff":
        yield _tiff_source(path)
    else:
        yield _envi_source(path)


def _numeric(dtype: np.dtype) -> bool:
    return dtype.kind in "biuf"


def _hdf5_source(f: Any, matlab: bool) -> _Source:
    """Every numeric dataset by its path; MATLAB v7.3 stores arrays with their axes reversed."""
    import h5py

    arrays: dict[str, _Array] = {}

    def visit(name: str, obj: Any) -> None:
        if name.startswith(("#refs#", "#subsystem#")):  # MATLAB's internal cell/object storage
            return
        if not isinstance(obj, h5py.Dataset) or not _numeric(obj.dtype) or obj.shape is None:
            return
        # MATLAB keeps text as uint16 and marks empty arrays; neither is data.
        cls = obj.attrs.get("MATLAB_class", b"")
        if (cls.decode() if isinstance(cls, bytes) else str(cls)) == "char" or "MATLAB_empty" in obj.attrs:
            return
        axes = tuple(range(len(obj.shape)))
        arrays[name] = _Array(obj, axes[::-1] if matlab else axes, attrs=dict(obj.attrs))

    f.visititems(visit)
    return _Source("mat-v7.3" if matlab else "hdf5", arrays)


def _mat_v5_source(path: Path) -> _Source:
    """All numeric variables of a v5 (or v4) .mat; scipy has no partial reads, so the file is loaded whole."""
    import scipy.io

    # Loading everything (not whosmat + one variable) is what detects a truncated file.
    content = scipy.io.loadmat(path)
    arrays = {
        k: _Array(v, tuple(range(v.ndim)))
        for k, v in content.items()
        if not k.startswith("__") and isinstance(v, np.ndarray) and _numeric(v.dtype)
    }
    return _Source("mat-v5", arrays)


class _NpzMember:
    """One ``.npz`` member: shape and dtype from its header; the data decompressed on first use."""

    def __init__(self, npz: Any, name: str) -> None:
        self._npz, self._name, self._data = npz, name, None
        with npz.zip.open(name + ".npy") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            self.shape, _, self.dtype = read(fh)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, item: Any) -> np.ndarray:
        if self._data is None:
            self._data = self._npz[self._name]
        return self._data[item]


def _npz_source(npz: Any) -> _Source:
    arrays = {}
    for k in npz.files:
        member = _NpzMember(npz, k)
        if _numeric(np.dtype(member.dtype)):
            arrays[k] = _Array(member, tuple(range(member.ndim)))
    return _Source("npz", arrays)


def _tiff_source(path: Path) -> _Source:
    """The first image series; its axis order from tifffile's axes ('SYX'/'IYX' bands first, 'YXS' last)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data = series.asarray()
        axes = series.axes
        page = tif.pages[0]
        meta: dict[str, Any] = {"tiff_axes": axes}
        nodata = page.tags.get("GDAL_NODATA")
        if nodata is not None:
            meta["ignore_value"] = float(str(nodata.value).strip().strip("\x00"))
        gdal = page.tags.get("GDAL_METADATA")
        if gdal is not None:
            meta.update(_gdal_band_metadata(str(gdal.value)))
    if data.ndim == 3:
        layout = "HWB" if axes[-1] in "SC" else "BHW"
    else:
        layout = None
    meta["geotiff"] = "ModelTiepointTag" in {t.name for t in page.tags.values()}
    return _Source("tiff", {"": _Array(data, tuple(range(data.ndim)))}, named=False, layout=layout, metadata=meta)


def _gdal_band_metadata(xml: str) -> dict[str, Any]:
    """Per-band wavelength, description and scale from a GDAL_METADATA XML tag (GDAL's own encoding)."""
    root = ET.fromstring(xml.strip().strip("\x00"))
    per_band: dict[str, dict[int, str]] = {}
    dataset: dict[str, str] = {}
    for item in root.iter("Item"):
        key = item.get("role") or item.get("name", "")
        if item.get("sample") is None:
            dataset[key.lower()] = item.text or ""
        else:
            per_band.setdefault(key.lower(), {})[int(item.get("sample", 0))] = item.text or ""
    out: dict[str, Any] = {}

    def ordered(name: str) -> list[str] | None:
        vals = per_band.get(name)
        return [vals[i] for i in sorted(vals)] if vals else None

    if (wl := ordered("wavelength")) is not None:
        units = (ordered("wavelength_units") or [dataset.get("wavelength_units", "")])[0]
        out["wavelengths"] = _to_nm([float(v) for v in wl], units)
    if (desc := ordered("description")) is not None:
        out["band_names"] = desc
    if (scale := ordered("scale")) is not None and len(set(scale)) == 1:
        out["scale_factor"] = float(scale[0])  # multiply stored values by it for physical units
    return out


def _envi_source(path: Path) -> _Source:
    """ENVI through spectral: a memmap in the file's interleave, viewed as ``(H, W, B)``."""
    import spectral.io.envi as envi

    if path.suffix.lower() == ".hdr":
        header, image = path, None
    else:
        header, image = _envi_header_for(path), path
        if header is None:
            raise HsframeError(
                f"{path} looks like an ENVI image but has no header beside it "
                f"({path.name}.hdr or {path.stem}.hdr). Put the .hdr next to the image."
            )
    try:
        img = envi.open(str(header), None if image is None else str(image))
    except envi.EnviDataFileNotFoundError as exc:
        raise HsframeError(
            f"ENVI header {header} has no image file beside it ({exc}). "
            "Put the image next to the header (same name, .img/.dat/.raw or none)."
        ) from None
    rows, cols, bands = img.shape
    dtype = np.dtype(img.dtype)
    if not _numeric(dtype):
        raise HsframeError(f"{header}: ENVI data type {img.metadata.get('data type')} (complex) is not supported.")
    need = img.offset + rows * cols * bands * dtype.itemsize
    have = os.path.getsize(img.filename)
    if have < need:
        raise HsframeError(
            f"ENVI image {img.filename} is truncated: the header {header} describes {rows}x{cols}x{bands} "
            f"{dtype} values ({need} bytes with the header offset) but the file has {have} bytes. "
            "Download or export it again."
        )
    interleave = str(img.metadata.get("interleave", "bsq")).lower()
    store = img.open_memmap(interleave=interleave, writable=False)  # native order: contiguous slabs
    perm = {"bsq": (1, 2, 0), "bil": (0, 2, 1), "bip": (0, 1, 2)}[interleave]
    return _Source(
        "envi",
        {"": _Array(store, perm)},
        named=False,
        layout="HWB",
        layout_firm=True,
        metadata={"interleave": interleave, "byte_order": int(img.byte_order), **_envi_metadata(img.metadata)},
    )


def _envi_metadata(h: dict[str, Any]) -> dict[str, Any]:
    """Wavelengths (nm), band names, 0-based default bands, ignore value, scale and class names."""
    out: dict[str, Any] = {}
    if "wavelength" in h:
        out["wavelengths"] = _to_nm([float(v) for v in h["wavelength"]], str(h.get("wavelength units", "")))
    if "band names" in h:
        out["band_names"] = [str(v).strip() for v in h["band names"]]
    if "default bands" in h:
        rgb = [int(float(v)) - 1 for v in h["default bands"]]  # ENVI counts bands from 1
        out["rgb_bands"] = tuple(rgb * 3 if len(rgb) == 1 else rgb[:3])
    if "data ignore value" in h:
        out["ignore_value"] = float(h["data ignore value"])
    if "reflectance scale factor" in h:
        out["scale_factor"] = 1.0 / float(h["reflectance scale factor"])  # stored = reflectance x factor
    if "class names" in h:
        out["class_names"] = [str(v).strip() for v in h["class names"]]  # index 0 names class id 0
    return out


def _to_nm(values: list[float], units: str) -> np.ndarray:
    """Wavelengths in nanometres; micrometres are recognised by their unit or by values below 30."""
    wl = np.asarray(values, dtype=np.float64)
    u = units.strip().lower()
    if u in ("micrometers", "micrometer", "microns", "micron", "um", "µm") or (u in ("", "unknown") and wl.max(initial=0) < 30):
        wl = wl * 1000.0
    return wl


# --------------------------------------------------------------------------- choosing the array


def _describe(arrays: dict[str, _Array]) -> str:
    return ", ".join(f"{k} {a.shape} {a.dtype}" for k, a in arrays.items()) or "(no numeric arrays)"


def _spatial_ndim(shape: tuple[int, ...]) -> int:
    return sum(1 for s in shape if s != 1)


def _integer_valued(arr: _Array) -> bool:
    if arr.dtype.kind in "biu":
        return True
    values = _materialize(arr, arr.perm, arr.dtype)
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def _select_key(src: _Source, key: str | None, kind: str, path: Path) -> str:
    """The requested key, checked, or the only array that fits ``kind``."""
    if kind == "cube":
        return select_array(src, key, path, _KEY_OPTION[kind], lambda a: len(a.shape) == 3, "3-D array", "cube")
    if kind == "labels":
        return select_array(src, key, path, _KEY_OPTION[kind],
                            lambda a: len(a.shape) >= 2 and _spatial_ndim(a.shape) == 2 and _integer_valued(a),
                            "2-D integer-valued array", "labels")
    return select_array(src, key, path, _KEY_OPTION[kind], lambda a: True, "array")


def select_array(src: _Source, key: str | None, path: Path, option: str, fits: Callable[[_Array], bool], what: str,
                 wanted: str = "one wanted") -> str:
    """The named array (checked), or the only one that ``fits``; else an error naming ``option``.

    ``what`` describes the arrays that fit (e.g. "3-D array"); ``wanted`` the array sought (e.g. "cube").
    """
    if not src.arrays:
        raise HsframeError(f"{path} holds no numeric array. Check that it is the right file.")
    if not src.named:
        return ""
    if key is not None:
        name = key.lstrip("/")
        if name not in src.arrays:
            raise HsframeError(
                f"key {key!r} is not in {path}. Available: {_describe(src.arrays)}. "
                f"Set {option} to one of these."
            )
        return name
    found = [k for k, a in src.arrays.items() if fits(a)]
    if len(found) == 1:
        return found[0]
    raise HsframeError(
        f"cannot tell which array of {path} is the {wanted}: it holds {len(found) or 'no'} "
        f"{what}{'s' if len(found) != 1 else ''}. Arrays: {_describe(src.arrays)}. "
        f"Name the one to use with {option}."
    )


# --------------------------------------------------------------------------- reading


def _materialize(arr: _Array, perm: tuple[int, ...], dtype: np.dtype | type, fix: Any = None) -> np.ndarray:
    """A new ``store.transpose(perm)`` array of ``dtype``, filled one slab of stored axis 0 at a time.

    ``fix(block)`` may inspect/modify each converted block in place before it is stored.
    """
    store = arr.store
    if len(store.shape) == 0:
        return np.asarray(store[()], dtype=dtype)
    out = np.empty(tuple(int(store.shape[p]) for p in perm), dtype=dtype)
    dst_axis = perm.index(0)  # where stored axis 0 lands in the output
    row_bytes = max(1, math.prod(store.shape[1:]) * arr.dtype.itemsize)
    step = max(1, _SLAB_BYTES // row_bytes)
    chunks = getattr(store, "chunks", None)
    if chunks:  # whole HDF5 chunks per slab, so none is decompressed twice
        step = max(chunks[0], step // chunks[0] * chunks[0])
    index: list[Any] = [slice(None)] * len(perm)
    for start in range(0, int(store.shape[0]), step):
        stop = min(start + step, int(store.shape[0]))
        with np.errstate(over="ignore", invalid="ignore"):  # overflow to Inf is reported by `fix`
            block = np.asarray(store[start:stop]).transpose(perm).astype(dtype, copy=False)
        if fix is not None:
            block = fix(block)
        index[dst_axis] = slice(start, stop)
        out[tuple(index)] = block
    return out


def _cube_perm(
    arr: _Array, src: _Source, path: Path, requested: str, spatial: tuple[int, int] | None, meta: dict[str, Any]
) -> tuple[int, ...]:
    """Permutation from stored axes to ``(H, W, B)``; records the order used and why."""
    order, why = _axis_order(arr.shape, src, path, requested, spatial)
    meta["axis_order"], meta["axis_order_source"] = order, why
    to_hwb = (0, 1, 2) if order == "HWB" else (1, 2, 0)
    return tuple(arr.perm[i] for i in to_hwb)


def _axis_order(
    shape: tuple[int, ...], src: _Source, path: Path, requested: str, spatial: tuple[int, int] | None
) -> tuple[str, str]:
    if requested != "auto":
        if src.layout_firm and requested != src.layout:
            raise HsframeError(
                f"{path} is {_FORMAT_TITLES[src.format]}, whose header fixes the axis order, but "
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
    src: _Source,
    arr: _Array,
    path: Path,
    name: str,
    requested: str,
    spatial: tuple[int, int] | None,
    nan_fill: float | None,
    meta: dict[str, Any],
) -> np.ndarray:
    """``(H, W, B)`` float32, converted slab by slab; NaN/Inf counted, and replaced if ``nan_fill``."""
    if len(arr.shape) != 3:
        raise HsframeError(
            f"the cube in {path}{_key_text(name)} must be 3-D, (H, W, B) or (B, H, W); it is {arr.shape}. "
            f"Name the cube's array with data.cube_key."
        )
    if 0 in arr.shape:
        raise HsframeError(f"the cube in {path}{_key_text(name)} is empty: shape {arr.shape}.")
    perm = _cube_perm(arr, src, path, requested, spatial, meta)
    counts = {"nan": 0, "inf": 0}

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
    cube = _materialize(arr, perm, np.float32, fix=None if arr.dtype.kind in "biu" else fix)
    total = counts["nan"] + counts["inf"]
    if total and nan_fill is None:
        raise HsframeError(
            f"the cube in {path}{_key_text(name)} holds {total} non-finite values ({counts['nan']} NaN, "
            f"{counts['inf']} Inf; {100 * total / cube.size:.3g}% of {cube.size}). Set data.nan_fill "
            "(e.g. data.nan_fill=0) to replace them, or clean the file."
        )
    if total:
        meta["nonfinite_replaced"], meta["nan_fill"] = total, float(nan_fill)  # type: ignore[arg-type]
    return cube


_WAVELENGTH_NAMES = ("wavelength", "wavelengths", "wavelength_nm", "wl", "lambda")


def _companion_wavelengths(src: _Source, cube: _Array, bands: int) -> np.ndarray | None:
    """``(B,)`` wavelengths stored beside the cube: an attribute of it, or a 1-D array named like one."""
    for attr, value in cube.attrs.items():
        if attr.lower() in _WAVELENGTH_NAMES and np.size(value) == bands:
            return _to_nm(np.ravel(value).astype(float).tolist(), str(cube.attrs.get("wavelength_units", "")))
    for name, a in src.arrays.items():
        if name.rsplit("/", 1)[-1].lower() in _WAVELENGTH_NAMES and math.prod(a.shape) == bands:
            return _to_nm(_materialize(a, a.perm, np.float64).ravel().tolist(), "")
    return None


def _read_labels(arr: _Array, path: Path, name: str) -> np.ndarray:
    """``(H, W)`` int64: singleton axes dropped, values checked to be whole numbers >= 0."""
    raw = _materialize(arr, arr.perm, arr.dtype)
    where = f"{path}{_key_text(name)}"
    if raw.ndim < 2 or _spatial_ndim(raw.shape) != 2:
        raise HsframeError(f"the labels in {where} must be a 2-D (H, W) map; the array is {raw.shape}. "
                           "Name the label array with data.labels_key.")
    raw = raw.reshape([s for s in raw.shape if s != 1])
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(raw) | (raw != np.round(raw))
        if bad.any():
            example = raw[bad][0]
            raise HsframeError(
                f"the labels in {where} must be whole numbers (0 = unlabeled, 1..K = classes); "
                f"{int(bad.sum())} values are not (e.g. {example}). Is this an abundance or cube array? "
                "Name the label array with data.labels_key."
            )
    if raw.dtype.kind != "b" and (raw < 0).any():
        raise HsframeError(
            f"the labels in {where} hold {int((raw < 0).sum())} negative values (min {raw.min()}); "
            "labels must be 0 (unlabeled) or class ids 1..K. Map the negative ones to 0 in the file."
        )
    return raw.astype(np.int64)


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
    if given is not None:
        if len(given) < k:
            raise HsframeError(
                f"{len(given)} class names were given but the labels go up to class {k}. "
                "Give one name per class id 1..K."
            )
        return list(given)
    from_file = labels.metadata.get("class_names") if labels is not None else None
    if from_file is not None and len(from_file) > k:
        return list(from_file[1 : k + 1])  # ENVI lists the name of id 0 (unclassified) first
    return [f"class {i}" for i in range(1, k + 1)]


def _stem(path: Path) -> str:
    """File name without its data suffixes: ``samson_1.img.hdr`` -> ``samson_1``."""
    name = path.name
    while Path(name).suffix.lower() in _SUFFIX_FORMATS:
        name = Path(name).stem
    return name or path.name
