"""ENVI images (a ``.hdr`` text header + raw image; BSQ/BIL/BIP, any data type and byte order) through spectral.

The image is memory-mapped in its own interleave and viewed as ``(H, W, B)``; the header gives
wavelengths, band names, default bands, the ignore value, the reflectance scale, class names and the
georeferencing (``map info``, ``coordinate system string``: :mod:`hsframe.data.georef`).
"""
from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from hsframe.data.georef import GeoReference
from hsframe.data.io.base import FileFormat
from hsframe.data.io.source import Array, Source, numeric
from hsframe.data.io.wavelengths import to_nm
from hsframe.errors import HsframeError

# Stored axes -> (H, W, B), per interleave: BSQ is (B, H, W), BIL (H, B, W), BIP (H, W, B).
_TO_HWB = {"bsq": (1, 2, 0), "bil": (0, 2, 1), "bip": (0, 1, 2)}


def _header_for(image: Path) -> Path | None:
    """The ENVI header of an image: ``name.img.hdr`` or ``name.hdr``."""
    for cand in (image.with_name(image.name + ".hdr"), image.with_suffix(".hdr")):
        if cand.is_file() and cand != image:
            return cand
    return None


class EnviFormat(FileFormat):
    name = "envi"
    title = "an ENVI image"
    suffixes = (".hdr", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip")

    def claims(self, path: Path) -> bool:
        # A raw ENVI image can start with any bytes, so its header decides before any signature.
        suffix = path.suffix.lower()
        return suffix == ".hdr" or (suffix in self.suffixes and _header_for(path) is not None)

    def sniff(self, path: Path, head: bytes) -> bool:
        return _header_for(path) is not None  # any other name with a header beside it

    @contextmanager
    def open(self, path: Path) -> Iterator[Source]:
        """The ``.hdr`` or the image, whichever ``path`` is; the other is found beside it."""
        import spectral.io.envi as envi

        if path.suffix.lower() == ".hdr":
            header, image = path, None
        else:
            header, image = _header_for(path), path
            if header is None:
                raise HsframeError(
                    f"{path} looks like an ENVI image but has no header beside it "
                    f"({path.name}.hdr or {path.stem}.hdr). Put the .hdr next to the image."
                )
        _check_header(header)
        try:
            img = envi.open(str(header), None if image is None else str(image))
        except envi.EnviDataFileNotFoundError as exc:
            raise HsframeError(
                f"ENVI header {header} has no image file beside it ({exc}). "
                "Put the image next to the header (same name, .img/.dat/.raw or none)."
            ) from None
        rows, cols, bands = img.shape
        dtype = np.dtype(img.dtype)
        if not numeric(dtype):
            raise HsframeError(f"{header}: ENVI data type {img.metadata.get('data type')} (complex) is not supported.")
        need = img.offset + rows * cols * bands * dtype.itemsize
        have = os.path.getsize(img.filename)
        if have != need:  # too short cannot be mapped; too long would be read as the wrong cube, silently
            raise HsframeError(
                f"ENVI image {img.filename} does not match its header {header}: {rows}x{cols}x{bands} {dtype} values need {need} bytes "
                f"(with a header offset of {img.offset}) but the file has {have}. Fix 'lines', 'samples', 'bands', 'data type' "
                "or 'header offset' in the header, or download or export the image again."
            )
        interleave = str(img.metadata.get("interleave", "bsq")).lower()
        store = img.open_memmap(interleave=interleave, writable=False)  # native order: contiguous slabs
        yield Source(
            self.name,
            {"": Array(store, _TO_HWB[interleave], partial=True)},
            named=False,
            layout="HWB",
            layout_firm=True,
            metadata={"interleave": interleave, "byte_order": int(img.byte_order), **_header_metadata(img.metadata),
                      "georef": _georef(img.metadata, header)},
        )


def _check_header(header: Path) -> None:
    """The header fields that size and map the image, each checked, so that a bad one is named (spectral
    says only ``KeyError: '99'`` for an unknown data type, or maps a negative size)."""
    import spectral.io.envi as envi

    h = envi.read_envi_header(str(header))
    types = ", ".join(f"{code} ({np.dtype(t).name})" for code, t in envi.dtype_map)
    checks = {
        "data type": (lambda v: v in dict(envi.dtype_map), f"a data type ENVI defines; valid: {types}"),
        "samples": (lambda v: _whole(v) > 0, "a whole number above 0"),
        "lines": (lambda v: _whole(v) > 0, "a whole number above 0"),
        "bands": (lambda v: _whole(v) > 0, "a whole number above 0"),
        "header offset": (lambda v: _whole(v) >= 0, "a whole number, 0 or more"),
        "byte order": (lambda v: v in ("0", "1"), "0 (little-endian) or 1 (big-endian)"),
        "interleave": (lambda v: v.lower() in _TO_HWB, "bsq, bil or bip"),
    }
    for field, (ok, valid) in checks.items():
        if field not in h and field in ("header offset", "interleave"):
            continue  # optional: 0 and bsq
        value = str(h.get(field, "")).strip()
        if field not in h or not ok(value):
            said = f"'{field} = {value}'" if field in h else f"no '{field}'"
            raise HsframeError(f"{header}: ENVI {said} is not {valid}. Fix the header (or export the image again).")


def _whole(value: str) -> int:
    """A header's whole number, or -1 (not one)."""
    try:
        return int(value)
    except ValueError:
        return -1


def _georef(h: dict[str, Any], header: Path) -> GeoReference | None:
    """The header's map info; one that cannot be read is left out with a warning (the cube itself is fine)."""
    try:
        return GeoReference.from_envi_header(h)
    except ValueError as exc:
        warnings.warn(f"{header}: {exc}; maps predicted from it carry no georeferencing", stacklevel=2)
        return None


def _header_metadata(h: dict[str, Any]) -> dict[str, Any]:
    """Wavelengths (nm), band names, 0-based default bands, ignore value, scale and class names."""
    out: dict[str, Any] = {}
    if "wavelength" in h:
        out["wavelengths"] = to_nm([float(v) for v in h["wavelength"]], str(h.get("wavelength units", "")))
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
