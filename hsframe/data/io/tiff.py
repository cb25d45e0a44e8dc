"""(Geo)TIFF through tifffile: the first image series, loaded whole (tifffile has no partial reads of it).

GDAL's tags give the nodata value and per-band wavelengths, descriptions and scale; the GeoTIFF tags the
georeferencing (:mod:`hsframe.data.georef`).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from hsframe.data.georef import GeoReference
from hsframe.data.io.base import FileFormat
from hsframe.data.io.source import Array, Source, check_size
from hsframe.data.io.wavelengths import to_nm

_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # little/big endian, classic/BigTIFF


class TiffFormat(FileFormat):
    name = "tiff"
    title = "a (Geo)TIFF file"
    suffixes = (".tif", ".tiff")

    def sniff(self, path: Path, head: bytes) -> bool:
        return head[:4] in _SIGNATURES

    @contextmanager
    def open(self, path: Path) -> Iterator[Source]:
        """The first image series; its axis order from tifffile's axes ('SYX'/'IYX' bands first, 'YXS' last)."""
        import tifffile

        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            check_size(series.shape, series.dtype)  # a damaged tag must not allocate (and zero-fill) a huge array
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
            meta["georef"] = GeoReference.from_geotiff_tags({t.code: t.value for t in page.tags.values()})
        if data.ndim == 3:
            layout = "HWB" if axes[-1] in "SC" else "BHW"
        else:
            layout = None
        meta["geotiff"] = meta["georef"] is not None
        yield Source(self.name, {"": Array(data, tuple(range(data.ndim)))}, named=False, layout=layout, metadata=meta)


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
        out["wavelengths"] = to_nm([float(v) for v in wl], units)
    if (desc := ordered("description")) is not None:
        out["band_names"] = desc
    if (scale := ordered("scale")) is not None and len(set(scale)) == 1:
        out["scale_factor"] = float(scale[0])  # multiply stored values by it for physical units
    return out
