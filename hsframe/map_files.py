"""Georeferenced map files of `hsframe predict`: a GeoTIFF (tifffile) or an ENVI classification (spectral).

Each holds the class map in the data's own label values (0 = none) at the input's transform and CRS
(:class:`hsframe.data.georef.GeoReference`), and optionally the per-class probabilities as float32 bands
in a second file beside it (``<name>_probabilities``): one TIFF image has one sample type, and a class
map must stay an integer raster that GIS tools colour by class.

A file appears complete or not at all: each is written under a temporary name beside it and renamed.
"""
from __future__ import annotations

import os
import uuid
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterator

import numpy as np

from hsframe.data.georef import GeoReference
from hsframe.errors import HsframeError, one_line

# GDAL's TIFF tags: band descriptions (XML) and the nodata value (text).
GDAL_METADATA, GDAL_NODATA = 42112, 42113


@dataclass
class MapLayers:
    """What a map file holds.

    Attributes:
        values: ``(H, W)`` the data's own label values, 0 = none.
        class_names: K names; ``class_names[k - 1]`` is the class whose value is ``label_ids[k - 1]``.
        palette: K RGB colours (0-255), same order.
        label_ids: the value of each class 1..K.
        georef: the input's transform and CRS; None: the file is written without.
        probabilities: ``(K, H, W)`` float32 class probabilities, or None.
    """

    values: np.ndarray
    class_names: list[str]
    palette: list[tuple[int, int, int]]
    label_ids: list[int]
    georef: GeoReference | None
    probabilities: np.ndarray | None = None

    def value_names(self) -> list[str]:
        """A name for every value 0..max: "Unclassified" (0, ENVI's name), the class names, and "unused" for values no class has."""
        names = ["Unclassified"] + [f"unused {v}" for v in range(1, max(self.label_ids, default=0) + 1)]
        for name, v in zip(self.class_names, self.label_ids):
            names[v] = name
        return names

    def value_colours(self) -> list[tuple[int, int, int]]:
        colours = [(0, 0, 0)] * (max(self.label_ids, default=0) + 1)
        for colour, v in zip(self.palette, self.label_ids):
            colours[v] = tuple(colour)  # type: ignore[assignment]
        return colours


class MapFormat(ABC):
    """A georeferenced map file type, chosen by ``hsframe predict --out``'s suffix or ``--format``."""

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]

    def files(self, path: Path, probabilities: bool) -> list[Path]:
        """Every file written for ``path`` (checked writable before any work)."""
        out = self._files(path)
        return out + self._files(self.probabilities_path(path)) if probabilities else out

    def probabilities_path(self, path: Path) -> Path:
        return path.with_name(f"{path.stem}_probabilities{path.suffix}")

    def _files(self, path: Path) -> list[Path]:
        return [path]

    def write(self, path: Path, layers: MapLayers) -> list[Path]:
        """Write the map (and the probabilities beside it); the paths written. HsframeError when the disk refuses."""
        try:
            written = self._write_classes(path, layers)
            if layers.probabilities is not None:
                written += self._write_probabilities(self.probabilities_path(path), layers)
        except OSError as exc:
            raise HsframeError(f"could not write {path}: {one_line(exc)}; give another path (--out) or free the disk") from None
        return written

    @abstractmethod
    def _write_classes(self, path: Path, layers: MapLayers) -> list[Path]: ...

    @abstractmethod
    def _write_probabilities(self, path: Path, layers: MapLayers) -> list[Path]: ...


class GeoTiffMap(MapFormat):
    """A GeoTIFF: the class values with a colour map (0 = nodata), the GeoTIFF tags of the input's grid and CRS."""

    name = "geotiff"
    suffixes = (".tif", ".tiff")

    def _write_classes(self, path: Path, layers: MapLayers) -> list[Path]:
        import tifffile

        top = int(layers.values.max(initial=0))
        dtype = np.uint8 if top <= 0xFF else np.uint16 if top <= 0xFFFF else np.uint32
        options = {}
        if dtype != np.uint32:  # a palette TIFF: GIS tools show the classes in their map colours
            cmap = np.zeros((3, 2 ** (8 * np.dtype(dtype).itemsize)), np.uint16)
            cmap[:, : top + 1] = (np.array(layers.value_colours(), np.uint16) * 257).T[:, : top + 1]
            options = {"photometric": "palette", "colormap": cmap}
        tags = _geo_tags(layers.georef) + [(GDAL_NODATA, "s", 0, "0", True)]
        with _replacing(path) as [tmp]:
            tifffile.imwrite(tmp, layers.values.astype(dtype), extratags=tags, metadata=None,
                             **({"photometric": "minisblack"} | options))
        return [path]

    def _write_probabilities(self, path: Path, layers: MapLayers) -> list[Path]:
        from xml.sax.saxutils import escape

        import tifffile

        assert layers.probabilities is not None
        items = "".join(f'<Item name="DESCRIPTION" sample="{i}" role="description">{escape(n)}</Item>'
                        for i, n in enumerate(layers.class_names))
        tags = _geo_tags(layers.georef) + [(GDAL_METADATA, "s", 0, f"<GDALMetadata>{items}</GDALMetadata>", True)]
        with _replacing(path) as [tmp]:
            tifffile.imwrite(tmp, layers.probabilities.astype(np.float32), photometric="minisblack", planarconfig="separate",
                             extratags=tags, metadata=None)
        return [path]


class EnviMap(MapFormat):
    """An ENVI classification (``file type = ENVI Classification``, class names and lookup colours per value),
    with the input's ``map info`` (and ``coordinate system string``); probabilities as an ENVI Standard float32 image."""

    name = "envi"
    suffixes = (".hdr", ".img")

    def _files(self, path: Path) -> list[Path]:
        return [path.with_suffix(".hdr"), path.with_suffix(".img")]

    def probabilities_path(self, path: Path) -> Path:
        return path.with_name(f"{path.stem}_probabilities.hdr")

    def _write_classes(self, path: Path, layers: MapLayers) -> list[Path]:
        import spectral.io.envi as envi

        top = int(layers.values.max(initial=0))
        dtype = np.uint8 if top <= 0xFF else np.uint16 if top <= 0xFFFF else np.uint32
        meta = {"description": "hsframe predict: class map", "data ignore value": 0, **self._geo(layers)}
        with _replacing(*self._files(path)) as [hdr, _]:
            envi.save_classification(str(hdr), layers.values.astype(dtype), dtype=dtype, ext=".img", force=True, interleave="bsq",
                                     class_names=layers.value_names(), class_colors=layers.value_colours(), metadata=meta)
        return self._files(path)

    def _write_probabilities(self, path: Path, layers: MapLayers) -> list[Path]:
        import spectral.io.envi as envi

        assert layers.probabilities is not None
        meta = {"description": "hsframe predict: class probabilities", "band names": layers.class_names, **self._geo(layers)}
        with _replacing(*self._files(path)) as [hdr, _]:
            envi.save_image(str(hdr), np.moveaxis(layers.probabilities.astype(np.float32), 0, -1), dtype=np.float32, ext=".img",
                            force=True, interleave="bsq", metadata=meta)
        return self._files(path)

    @staticmethod
    def _geo(layers: MapLayers) -> dict:
        return {} if layers.georef is None else layers.georef.envi_fields()


MAP_FORMATS: dict[str, MapFormat] = {f.name: f for f in (GeoTiffMap(), EnviMap())}
MAP_SUFFIXES = tuple(s for f in MAP_FORMATS.values() for s in f.suffixes)


def format_of(path: Path) -> MapFormat | None:
    """The map format a file name asks for by its suffix; None for any other name (a folder)."""
    return next((f for f in MAP_FORMATS.values() if path.suffix.lower() in f.suffixes), None)


def _geo_tags(georef: GeoReference | None) -> list:
    return [] if georef is None else georef.geotiff_tags()


@contextmanager
def _replacing(*targets: Path) -> Iterator[list[Path]]:
    """Temporary paths beside ``targets``, written by the caller, then renamed onto them; removed on any error.

    The temporaries share one stem, so a writer that names its second file after its first (ENVI's header and
    image) finds them."""
    stem = f".{targets[0].stem}.{uuid.uuid4().hex[:8]}.partial"
    tmps = [t.with_name(stem + t.suffix) for t in targets]
    try:
        yield tmps
        for tmp, target in zip(tmps, targets):
            os.replace(tmp, target)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
