"""Where a scene's pixels lie on the ground: an affine transform and a CRS, from GeoTIFF tags or an ENVI header.

Read from, and written back as, the GeoTIFF tags themselves (ModelPixelScale 33550, ModelTiepoint 33922,
ModelTransformation 34264, the GeoKey directory 34735 with its double and ASCII parameters 34736/34737)
through tifffile, and as the ENVI ``map info`` / ``coordinate system string`` fields. No rasterio or GDAL:
they are large binary dependencies for what is here a dozen numbers copied from the input to the output,
and a CRS is carried as the codes the input states (EPSG, WKT), never converted or reprojected.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

# GDAL's order: x = t[0] + col * t[1] + row * t[2]; y = t[3] + col * t[4] + row * t[5], (col, row) = (0, 0)
# at the upper-left corner of the upper-left pixel.
GeoTransform = tuple[float, float, float, float, float, float]

# GeoTIFF tags and GeoKeys (GeoTIFF 1.1, OGC 19-008r4).
PIXEL_SCALE, TIEPOINT, TRANSFORMATION, GEO_KEYS, GEO_DOUBLES, GEO_ASCII = 33550, 33922, 34264, 34735, 34736, 34737
MODEL_TYPE, RASTER_TYPE, CITATION, GEOGRAPHIC_TYPE, PROJECTED_TYPE, LINEAR_UNITS, ANGULAR_UNITS = 1024, 1025, 1026, 2048, 3072, 3076, 2054
PROJECTED, GEOGRAPHIC, USER_DEFINED = 1, 2, 32767
PIXEL_IS_AREA, PIXEL_IS_POINT = 1, 2
METRE, DEGREE = 9001, 9102
WGS84 = 4326


@dataclass(frozen=True)
class GeoReference:
    """A scene's georeferencing as its file states it.

    Attributes:
        transform: pixel -> map coordinates, GDAL's six numbers (:data:`GeoTransform`).
        epsg: the CRS's EPSG code, when the file gives one (GeoTIFF keys) or its ENVI map info names
            one (UTM on WGS-84, geographic WGS-84).
        wkt: the CRS as WKT, when the file gives it (ENVI ``coordinate system string``), as written there.
        geokeys: the GeoTIFF GeoKeys (id -> value) the CRS is written with; read from a GeoTIFF they are
            its own, unchanged, so a GeoTIFF written from it states the same CRS.
        map_info: an ENVI header's ``map info`` fields as read, copied unchanged into ENVI outputs.
    """

    transform: GeoTransform
    epsg: int | None = None
    wkt: str | None = None
    geokeys: dict[int, int | float | str] | None = None
    map_info: tuple[str, ...] | None = None

    @property
    def north_up(self) -> bool:
        return self.transform[2] == 0 and self.transform[4] == 0

    def describe(self) -> str:
        t = self.transform
        crs = f"EPSG:{self.epsg}" if self.epsg else ("a WKT CRS" if self.wkt else "no stated CRS")
        return f"{crs}, {abs(t[1]):g} x {abs(t[5]):g} pixels from ({t[0]:.3f}, {t[3]:.3f})"

    # ------------------------------------------------------------------ JSON (the run's preprocess/scene.json)

    def to_json(self) -> dict[str, Any]:
        return {"transform": list(self.transform), "epsg": self.epsg, "wkt": self.wkt,
                "geokeys": None if self.geokeys is None else {str(k): v for k, v in self.geokeys.items()},
                "map_info": None if self.map_info is None else list(self.map_info)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GeoReference:
        keys = raw.get("geokeys")
        info = raw.get("map_info")
        return cls(_six(raw["transform"]), raw.get("epsg"), raw.get("wkt"),
                   None if keys is None else {int(k): v for k, v in keys.items()}, None if info is None else tuple(info))

    # ------------------------------------------------------------------ GeoTIFF

    @classmethod
    def from_geotiff_tags(cls, tags: Mapping[int, Any]) -> GeoReference | None:
        """From a TIFF page's tag values (code -> value); None without a transform (no tags, or tiepoints only)."""
        keys = parse_geokeys(tags)
        if TRANSFORMATION in tags:
            m = [float(v) for v in tags[TRANSFORMATION]]
            transform: GeoTransform = (m[3], m[0], m[1], m[7], m[4], m[5])
        elif PIXEL_SCALE in tags and TIEPOINT in tags and len(tags[TIEPOINT]) == 6:
            sx, sy = float(tags[PIXEL_SCALE][0]), float(tags[PIXEL_SCALE][1])
            i, j, _, x, y, _ = (float(v) for v in tags[TIEPOINT])
            transform = (x - i * sx, sx, 0.0, y + j * sy, 0.0, -sy)
        else:
            return None  # ground control points without an affine transform: not a grid we can carry
        if keys.get(RASTER_TYPE) == PIXEL_IS_POINT:  # the tiepoint is a pixel's centre: move it to the corner, as GDAL does
            t = transform
            transform = (t[0] - 0.5 * (t[1] + t[2]), t[1], t[2], t[3] - 0.5 * (t[4] + t[5]), t[4], t[5])
            keys[RASTER_TYPE] = PIXEL_IS_AREA
        return cls(transform, _epsg_of(keys), None, keys or None)

    def geotiff_tags(self) -> list[tuple[int, str, int, Any, bool]]:
        """tifffile ``extratags`` that state this transform and CRS (pixel-is-area)."""
        t = self.transform
        if self.north_up:
            tags = [(PIXEL_SCALE, "d", 3, (t[1], -t[5], 0.0), True), (TIEPOINT, "d", 6, (0.0, 0.0, 0.0, t[0], t[3], 0.0), True)]
        else:
            matrix = (t[1], t[2], 0.0, t[0], t[4], t[5], 0.0, t[3], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
            tags = [(TRANSFORMATION, "d", 16, matrix, True)]
        return tags + geokey_tags({**self._geokeys(), RASTER_TYPE: PIXEL_IS_AREA})

    def _geokeys(self) -> dict[int, int | float | str]:
        if self.geokeys:
            return dict(self.geokeys)
        if self.epsg is not None and self.epsg == WGS84:
            return {MODEL_TYPE: GEOGRAPHIC, GEOGRAPHIC_TYPE: WGS84, ANGULAR_UNITS: DEGREE}
        if self.epsg is not None:
            return {MODEL_TYPE: PROJECTED, PROJECTED_TYPE: self.epsg, LINEAR_UNITS: METRE}
        if self.wkt:  # no code: the WKT rides in the citation, where GDAL also looks for it
            return {MODEL_TYPE: USER_DEFINED, CITATION: f"ESRI PE String = {self.wkt}"}
        return {}

    # ------------------------------------------------------------------ ENVI

    @classmethod
    def from_envi_header(cls, header: Mapping[str, Any]) -> GeoReference | None:
        """From a header as spectral reads it; None without ``map info``. ValueError: a map info hsframe cannot read."""
        info = header.get("map info")
        if info is None:
            return None
        fields = tuple(str(v).strip() for v in (info if isinstance(info, list) else str(info).strip("{}").split(",")))
        keyed = {k.strip().lower(): v.strip() for k, _, v in (f.partition("=") for f in fields if "=" in f)}
        plain = [f for f in fields if "=" not in f]
        if len(plain) < 7:
            raise ValueError(f"map info has {len(plain)} of the 7 fields it needs (projection, reference pixel, "
                             "map coordinates, pixel size)")
        if float(keyed.get("rotation", "0")) != 0:
            raise ValueError(f"map info is rotated by {keyed['rotation']} degrees; hsframe reads north-up grids only")
        name = plain[0].lower()
        if name == "arbitrary":
            return None  # pixel coordinates, no place on Earth
        ref_x, ref_y, x, y, dx, dy = (float(v) for v in plain[1:7])
        # ENVI's reference pixel is 1-based, (1, 1) the upper-left corner of the upper-left pixel.
        transform = (x - (ref_x - 1) * dx, dx, 0.0, y + (ref_y - 1) * dy, 0.0, -dy)
        wkt = header.get("coordinate system string")
        if isinstance(wkt, list):  # spectral splits a braced value at its commas
            wkt = ",".join(str(v).strip() for v in wkt)
        return cls(transform, _envi_epsg(name, plain[7:]), (wkt or None), None, fields)

    def envi_fields(self) -> dict[str, Any]:
        """The ``map info`` (and ``coordinate system string``) of an ENVI header for this grid; none for a rotated grid."""
        out: dict[str, Any] = {}
        if self.wkt:
            out["coordinate system string"] = "{" + self.wkt + "}"
        if self.map_info is not None:
            out["map info"] = list(self.map_info)
        elif self.north_up:
            t = self.transform
            grid = ["1", "1", repr(t[0]), repr(t[3]), repr(t[1]), repr(-t[5])]
            if self.epsg == WGS84:
                out["map info"] = ["Geographic Lat/Lon", *grid, "WGS-84", "units=Degrees"]
            elif self.epsg is not None and (32601 <= self.epsg <= 32660 or 32701 <= self.epsg <= 32760):
                zone, hemisphere = self.epsg % 100, "North" if self.epsg < 32700 else "South"
                out["map info"] = ["UTM", *grid, str(zone), hemisphere, "WGS-84", "units=Meters"]
            else:  # a CRS ENVI has no name for here: the grid, with the CRS in the WKT when known
                out["map info"] = ["Arbitrary", *grid, "0"]
        return out


def _six(values: Any) -> GeoTransform:
    t = tuple(float(v) for v in values)
    if len(t) != 6 or not all(math.isfinite(v) for v in t):
        raise ValueError(f"a transform is 6 finite numbers, got {list(values)}")
    return t  # type: ignore[return-value]


def _epsg_of(keys: Mapping[int, Any]) -> int | None:
    """The EPSG code of a GeoKey set: its projected CRS, else its geographic one (codes 1..32766; 32767 = user-defined)."""
    for key in (PROJECTED_TYPE, GEOGRAPHIC_TYPE):
        code = keys.get(key)
        if isinstance(code, int) and 0 < code < USER_DEFINED:
            return code
    return None


def _envi_epsg(name: str, rest: list[str]) -> int | None:
    """EPSG of the ENVI map projections with a code (datum WGS-84): UTM zones, geographic lat/lon."""
    datum = next((f for f in rest if not f.replace(".", "").isdigit() and f.lower() not in ("north", "south")), "")
    if datum.upper().replace("-", "").replace(" ", "") != "WGS84":
        return None
    if name == "utm" and len(rest) >= 2 and rest[0].isdigit():
        return (32600 if rest[1].lower() == "north" else 32700) + int(rest[0])
    if name == "geographic lat/lon":
        return WGS84
    return None


def parse_geokeys(tags: Mapping[int, Any]) -> dict[int, int | float | str]:
    """GeoKey id -> value from the raw directory (34735) and its double (34736) and ASCII (34737) parameters."""
    raw = [int(v) for v in tags.get(GEO_KEYS, ())]
    if len(raw) < 4:
        return {}
    doubles = [float(v) for v in tags.get(GEO_DOUBLES, ())]
    ascii_ = str(tags.get(GEO_ASCII, ""))
    out: dict[int, int | float | str] = {}
    for n in range(raw[3]):
        key, location, count, value = raw[4 + 4 * n: 8 + 4 * n]
        if location == 0:
            out[key] = value
        elif location == GEO_DOUBLES:
            out[key] = doubles[value] if count == 1 else tuple(doubles[value:value + count])  # type: ignore[assignment]
        elif location == GEO_ASCII:
            out[key] = ascii_[value:value + count].rstrip("|\x00")
    return out


def geokey_tags(keys: Mapping[int, int | float | str]) -> list[tuple[int, str, int, Any, bool]]:
    """tifffile ``extratags`` for a GeoKey set: the directory and, when needed, its double and ASCII parameters."""
    directory, doubles, ascii_ = [1, 1, 0, len(keys)], [], ""
    for key in sorted(keys):
        value = keys[key]
        if isinstance(value, str):
            text = value.replace("|", "/") + "|"  # '|' ends each ASCII value
            directory += [key, GEO_ASCII, len(text), len(ascii_)]
            ascii_ += text
        elif isinstance(value, (float, tuple, list)):
            vals = list(value) if isinstance(value, (tuple, list)) else [value]
            directory += [key, GEO_DOUBLES, len(vals), len(doubles)]
            doubles += [float(v) for v in vals]
        else:
            directory += [key, 0, 1, int(value)]
    tags = [(GEO_KEYS, "H", len(directory), tuple(directory), True)]
    if doubles:
        tags.append((GEO_DOUBLES, "d", len(doubles), tuple(doubles), True))
    if ascii_:
        tags.append((GEO_ASCII, "s", 0, ascii_, True))
    return tags
