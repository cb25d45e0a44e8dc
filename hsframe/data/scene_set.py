"""A scene set: many hyperspectral tiles of one sensor, each with its label map (e.g. EnMAP Potsdam's 18 tiles).

The tiles are separate images: a patch never reads across a tile's edge, the split may go per
tile (a published train / validation / test list) or per pixel over all tiles, and maps are
written per tile (:class:`~hsframe.tasks.scene_set.SceneSetTask`). Reading a set
(:func:`open_tile_set`) handles what real tiles carry: a nodata value (bands holding only nodata
are dropped, pixels holding it in a kept band become unlabeled) and published per-band
statistics (a band-statistics CSV: ``band,mean,std``, empty for bands without data).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hsframe.data.base import LabeledData
from hsframe.errors import HsframeError

SUBSETS = ("train", "val", "test")


@dataclass
class Tile:
    """One tile: its name (the image file name), ``(H, W, B)`` float32 cube and where it was read from."""

    name: str
    cube: np.ndarray
    image: str = ""
    labels_file: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.cube.shape)  # type: ignore[return-value]


@dataclass
class SceneSet(LabeledData):
    """Tiles with label maps; one class list for all.

    Attributes:
        name: dataset name (as registered).
        tiles: the tiles, each ``(H_i, W_i, B)`` (one band count B for all).
        labels: every tile's label map raveled and concatenated, in tile order (``tile_labels(i)``
            gives tile i's ``(H_i, W_i)`` map); 0 = unlabeled, classes 1..K.
        class_names, palette, label_ids: as for a :class:`~hsframe.data.scene.Scene`.
        subsets: a published split, tile name -> "train" | "val" | "test" (empty: none published).
        wavelengths: optional B band centres (nm); rgb_bands: optional bands of a false-colour preview.
        notes: what reading did to the data (bands dropped, pixels unlabeled), for the terminal.
    """

    name: str
    tiles: list[Tile]
    labels: np.ndarray
    class_names: list[str]
    palette: list[tuple[int, int, int]] = field(default_factory=list)
    subsets: dict[str, str] = field(default_factory=dict)
    wavelengths: np.ndarray | None = None
    rgb_bands: tuple[int, int, int] | None = None
    label_ids: list[int] | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.tiles:
            raise HsframeError(f"scene set '{self.name}' has no tile")
        self.labels = np.asarray(self.labels).reshape(-1)
        sizes = [t.cube.shape[0] * t.cube.shape[1] for t in self.tiles]
        if self.labels.size != sum(sizes):
            raise ValueError(f"{self.labels.size} labels for tiles of {sum(sizes)} pixels")
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._init_classes()

    @property
    def bands(self) -> int:
        return self.tiles[0].cube.shape[2]

    @property
    def tile_names(self) -> list[str]:
        return [t.name for t in self.tiles]

    def tile_labels(self, i: int) -> np.ndarray:
        """Tile ``i``'s ``(H, W)`` label map (class ids 1..K, 0 = unlabeled)."""
        h, w, _ = self.tiles[i].cube.shape
        return self.labels[self.offsets[i] : self.offsets[i + 1]].reshape(h, w)

    def describe(self) -> str:
        shapes = sorted({t.shape[:2] for t in self.tiles})
        sizes = ", ".join(f"{h}x{w}" for h, w in shapes[:3]) + (", ..." if len(shapes) > 3 else "")
        return f"{len(self.tiles)} tiles ({sizes}) x {self.bands} bands"


def read_band_stats(path: Path, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-band ``(mean, std)`` from a CSV with columns band (or Band_Number), mean, std; NaN where a row is empty."""
    known = {"band", "band_number", "mean", "std"}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise HsframeError(f"cannot read band statistics {path}: {exc}") from None
    header = [c.strip().lower() for c in rows[0]] if rows else []
    unknown = [c for c in header if c not in known]
    if unknown or "mean" not in header or "std" not in header:
        what = f"an unknown column '{unknown[0]}'" if unknown else "no mean and std columns"
        raise HsframeError(f"band statistics {path} has {what} (columns: {','.join(rows[0]) if rows else 'none'}); "
                           "it needs the columns band, mean, std")
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if len(body) != bands:
        raise HsframeError(f"band statistics {path} has {len(body)} rows for {bands} bands; one row per band")
    im, isd = header.index("mean"), header.index("std")

    def value(cell: str) -> float:
        return float(cell) if cell.strip() else np.nan

    return np.array([value(r[im]) for r in body]), np.array([value(r[isd]) for r in body])


def open_tile_set(
    pairs: list[tuple[Path, Path | None]],
    *,
    name: str,
    class_names: list[str] | None = None,
    nodata: float | None = None,
    scale: float | None = None,
    band_stats: Path | None = None,
    subsets: dict[str, str] | None = None,
    stored_bands: int | None = None,
    nan_fill: float | None = None,
) -> SceneSet:
    """Read ``(image, labels)`` file pairs into a :class:`SceneSet`.

    Args:
        pairs: image and label files; every file must exist (a missing one is named).
        nodata: the stored value of missing data; default: each file's own (GeoTIFF ``GDAL_NODATA``,
            ENVI ``data ignore value``). Bands that hold only nodata in every tile are dropped; a pixel
            holding it in a kept band becomes unlabeled and its missing values 0.
        scale: multiply stored values by this (e.g. 1e-4 for reflectance x 10000).
        band_stats: a CSV of published per-band mean / std (stored units): the kept bands are
            standardized with them; bands without statistics are dropped.
        subsets: a published split, tile name -> "train" | "val" | "test".
        stored_bands: the band count the tiles must have as stored (a card's shape), if known.
        nan_fill: the value NaN / Inf cube values are replaced by when read (``data.nan_fill``); without
            it a tile holding one is refused, as a single scene is.
    """
    from hsframe.data.readers import read_array

    for image, labels in pairs:
        for path in (image, labels):
            if path is not None and not Path(path).is_file():
                raise HsframeError(f"scene set '{name}': tile file {path} not found; fix the tile list or add the file")
    names = [Path(image).name for image, _ in pairs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise HsframeError(f"scene set '{name}' lists tile {dupes[0]} twice; each tile once")
    cubes, maps, missing_value, wavelengths = [], [], None, None
    for (image, labels), tile in zip(pairs, names):
        label_map = read_array(labels, kind="labels").data if labels is not None else None
        cube_file = read_array(image, kind="cube", spatial_shape=label_map.shape if label_map is not None else None,
                               nan_fill=nan_fill)
        cube = cube_file.data
        if stored_bands is not None and cube.shape[2] != stored_bands:
            raise HsframeError(f"tile {image} has {cube.shape[2]} bands, but the dataset states {stored_bands}; the file may be "
                               "another version")
        if cubes and cube.shape[2] != cubes[0].shape[2]:
            raise HsframeError(f"scene set '{name}': tile {tile} has {cube.shape[2]} bands but tile {names[0]} has "
                               f"{cubes[0].shape[2]}; every tile of a set needs the same bands")
        if label_map is None:
            label_map = np.zeros(cube.shape[:2], np.int64)
        elif label_map.shape != cube.shape[:2]:
            raise HsframeError(f"scene set '{name}': labels {labels} are {label_map.shape} but tile {tile} is {cube.shape[:2]}")
        missing_value = cube_file.metadata.get("ignore_value") if nodata is None and missing_value is None else missing_value
        if wavelengths is None:
            wavelengths = cube_file.metadata.get("wavelengths")
        cubes.append(cube)
        maps.append(label_map)
    fill = nodata if nodata is not None else missing_value
    if fill is not None and np.isnan(fill):  # a NaN nodata: those values were replaced by data.nan_fill when read
        fill = None
    notes: list[str] = []
    keep = np.ones(cubes[0].shape[2], bool)
    if fill is not None:
        empty_band = np.logical_and.reduce([(c == fill).all(axis=(0, 1)) for c in cubes])
        keep &= ~empty_band
        if empty_band.any():
            notes.append(f"dropped {int(empty_band.sum())} band(s) holding only nodata ({fill:g}) in every tile: "
                         f"{_ranges(np.flatnonzero(empty_band))} (0-based)")
    mean = std = None
    if band_stats is not None:
        mean, std = read_band_stats(band_stats, cubes[0].shape[2])
        no_stats = ~np.isfinite(mean) | ~np.isfinite(std) | (std <= 0)
        if (no_stats & keep).any():
            notes.append(f"dropped {int((no_stats & keep).sum())} band(s) without statistics in {band_stats.name}: "
                         f"{_ranges(np.flatnonzero(no_stats & keep))} (0-based)")
        keep &= ~no_stats
        mean, std = mean[keep].astype(np.float32), std[keep].astype(np.float32)
    unlabeled = 0
    for i, cube in enumerate(cubes):
        cube = cube[:, :, keep]
        bad = (cube == fill) if fill is not None else np.zeros(cube.shape, bool)
        if mean is not None:
            cube = (cube - mean) / std
        elif scale is not None:
            cube = cube * np.float32(scale)
        cube[bad] = 0.0
        bad_pixel = bad.any(axis=2)
        unlabeled += int((bad_pixel & (maps[i] > 0)).sum())
        maps[i] = np.where(bad_pixel, 0, maps[i])
        cubes[i] = np.ascontiguousarray(cube, dtype=np.float32)
    if unlabeled:
        notes.append(f"{unlabeled} labeled pixel(s) hold nodata in a kept band: made unlabeled")
    if mean is not None:
        notes.append(f"bands standardized with the published statistics in {band_stats.name}")
    tiles = [Tile(n, c, str(img), str(lab or "")) for n, c, (img, lab) in zip(names, cubes, pairs)]
    labels = np.concatenate([m.reshape(-1) for m in maps])
    names_given = list(class_names) if class_names else []  # empty: "class <id>" for the ids the labels hold
    wl = np.asarray(wavelengths)[keep] if wavelengths is not None and len(wavelengths) == len(keep) else None
    return SceneSet(name=name, tiles=tiles, labels=labels, class_names=names_given, subsets=dict(subsets or {}),
                    wavelengths=wl, notes=notes)


def _ranges(idx: np.ndarray) -> str:
    """``[1, 2, 3, 7]`` -> ``1-3, 7``."""
    out, start = [], None
    for i, v in enumerate(idx):
        if start is None:
            start = v
        if i + 1 == len(idx) or idx[i + 1] != v + 1:
            out.append(f"{start}-{v}" if v != start else f"{v}")
            start = None
    return ", ".join(out)
