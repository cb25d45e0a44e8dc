"""From a ``data.dataset`` value to loaded data: a registered dataset by name, or files by path."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hsframe.config import DataConfig, RunConfig
from hsframe.data.classes import name_classes, read_sidecar
from hsframe.errors import HsframeError
from hsframe.plugins import Plugins
from hsframe.registry import DatasetSpec


@dataclass(frozen=True)
class FileLayout:
    """How files are read for one ``data.layout``: the kind of data they give and the opener.

    ``open(path, data_config, label_options)`` returns the loaded data; ``needs_labels``: a label
    file (``data.labels``) must be given beside the data file.
    """

    kind: str
    open: Callable[[Path, DataConfig, dict[str, Any]], Any]
    needs_labels: bool = False
    label_options: bool = True  # data.label_remap / data.zero_label apply


def _open_scene(path: Path, d: DataConfig, label_options: dict[str, Any]) -> Any:
    from hsframe.data import readers

    return readers.open_scene(path, d.labels, cube_key=d.cube_key, labels_key=d.labels_key, axis_order=d.axis_order,
                              pixel_order=d.pixel_order, shape=d.shape, labels_encoding=d.labels_encoding,
                              purity_threshold=d.purity_threshold, nan_fill=d.nan_fill, out_of_core=d.out_of_core)


def _open_tiles(path: Path, d: DataConfig, label_options: dict[str, Any]) -> Any:
    from hsframe.data.scene_set import open_tile_set

    return open_tile_set(tile_pairs(path, d.labels), name=path.name, nan_fill=d.nan_fill)


def tile_pairs(path: Path, labels: str | None) -> list[tuple[Path, Path | None]]:
    """The (image, labels) pairs of a tile set: a CSV's rows, or the same-named files of an images and a labels folder.

    A folder holds ``images/`` and ``labels/``; a folder of images takes its labels folder from ``labels`` (data.labels).
    """
    from hsframe.data.io import supported_suffixes
    from hsframe.data.tile_lists import read_pairs_csv

    if path.is_file():
        if labels is not None:
            raise HsframeError(f"data.labels does not apply to the tile list {path}: its mask column names each tile's labels")
        return read_pairs_csv(path)
    images, label_dir = (path, Path(labels).expanduser()) if labels is not None else (path / "images", path / "labels")
    if not images.is_dir() or not label_dir.is_dir():
        raise HsframeError(f"data.layout=tiles reads a folder holding images/ and labels/ (same file names), an images folder "
                           f"with data.labels=LABELS_FOLDER, or a tile-list CSV; {path} is none of them")
    suffixes = tuple(supported_suffixes())
    files = sorted(f for f in images.iterdir() if f.is_file() and f.name.lower().endswith(suffixes) and not f.name.startswith("."))
    if not files:
        raise HsframeError(f"the tile folder {images} holds no image file ({', '.join(suffixes)})")
    return [(f, label_dir / f.name) for f in files]


def _open_volumes(path: Path, d: DataConfig, label_options: dict[str, Any]) -> Any:
    from hsframe.data import volume_readers

    return volume_readers.open_volume_set(path, d.labels, volumes_key=d.cube_key, labels_key=d.labels_key, **label_options)


def _open_dense(path: Path, d: DataConfig, label_options: dict[str, Any]) -> Any:
    from hsframe.data import volume_readers

    return volume_readers.open_labeled_volume(path, d.labels, volume_key=d.cube_key, labels_key=d.labels_key, **label_options)


def _open_frames(path: Path, d: DataConfig, label_options: dict[str, Any]) -> Any:
    from hsframe.data import volume_readers

    return volume_readers.open_frame_series(path, d.labels, frames_key=d.cube_key, labels_key=d.labels_key, **label_options)


LAYOUTS: dict[str, FileLayout] = {
    "scene": FileLayout("hsi", _open_scene, label_options=False),
    "tiles": FileLayout("hsi", _open_tiles, label_options=False),
    "volumes": FileLayout("volume", _open_volumes),
    "dense": FileLayout("volume", _open_dense, needs_labels=True),
    "frames": FileLayout("sequence", _open_frames, needs_labels=True),
}


def resolve_dataset(cfg: RunConfig, plugins: Plugins) -> DatasetSpec:
    """A registered dataset by name, or a data file / folder (with ``data.labels``) by path."""
    name = cfg.data.dataset
    if cfg.data.tiles is not None:
        return listed_tiles(cfg)
    if plugins.claimed("datasets", name):
        return plugins.dataset(name)
    path = Path(name).expanduser()
    if path.exists():
        return file_dataset(cfg, path)
    if path.suffix or "/" in name:
        raise HsframeError(f"dataset file not found: {path}. Give an existing data file or folder, or a registered name "
                           "(see `hsframe datasets list`).")
    return plugins.dataset(name)


def listed_tiles(cfg: RunConfig) -> DatasetSpec:
    """The scene set of the ``data.tiles`` pairs: the command line's form of a tile list (a CSV's rows, inline)."""
    d = cfg.data
    if d.dataset != DataConfig.model_fields["dataset"].default:
        raise HsframeError(f"data.tiles lists the scene set's files, and data.dataset names another dataset ({d.dataset}); "
                           "give one of them")
    if not d.tiles:
        raise HsframeError("data.tiles is an empty list; give [[image, labels], ...] file pairs")
    pairs = [(Path(image).expanduser(), Path(labels).expanduser()) for image, labels in d.tiles]

    def load() -> Any:
        from hsframe.data.scene_set import open_tile_set

        return open_tile_set(pairs, name="tiles", nan_fill=d.nan_fill)

    return DatasetSpec(name="tiles", load=load, kind="hsi", description=f"{len(pairs)} tiles listed in data.tiles", package="file")


def file_layout(cfg: RunConfig, path: Path) -> str:
    """``data.layout``, or from the path when "auto": a folder with images/ and labels/ (or with a labels folder
    given), or a CSV, holds tiles; another folder volumes; NIfTI is dense; else a scene."""
    if cfg.data.layout != "auto":
        return cfg.data.layout
    if path.is_dir() and ((path / "images").is_dir() and (path / "labels").is_dir()
                          or cfg.data.labels is not None and Path(cfg.data.labels).expanduser().is_dir()):
        return "tiles"
    if path.is_dir():
        return "volumes"
    if path.suffix.lower() == ".csv":
        return "tiles"
    if path.name.lower().endswith((".nii", ".nii.gz")):
        return "dense"
    return "scene"


def file_dataset(cfg: RunConfig, path: Path) -> DatasetSpec:
    """A dataset read from files: a scene, volumes, a label volume or frames, as ``data.layout`` says."""
    d = cfg.data
    name = file_layout(cfg, path)
    layout = LAYOUTS[name]
    if path.is_dir() and name not in ("volumes", "tiles"):
        raise HsframeError(f"data.layout={name} reads a file, but {path} is a folder (a folder of class sub-folders "
                           "is read with data.layout=volumes)")
    if not layout.label_options and (d.label_remap is not None or d.zero_label != "unlabeled"):
        raise HsframeError("data.label_remap and data.zero_label apply to volumes and series; a hyperspectral scene's "
                           "label map is read as stored (0 = unlabeled). Set data.layout if this file is not a scene.")
    scene_only = [k for k, v in (("data.axis_order", d.axis_order in ("bands_pixels", "pixels_bands")), ("data.shape", d.shape),
                                 ("data.labels_encoding", d.labels_encoding != "class_ids")) if v]
    if layout.kind != "hsi" and scene_only:
        raise HsframeError(f"{', '.join(scene_only)} apply to a hyperspectral scene (a cube file), but {path} is read as "
                           f"data.layout={name}; leave them out, or set data.layout=scene")
    label_options = {"class_names": None, "label_remap": d.label_remap, "zero_label": d.zero_label}

    def load() -> Any:
        if layout.needs_labels and d.labels is None:
            raise HsframeError(f"data.layout={name} needs data.labels (the label file) beside the data file {path}")
        data = layout.open(path, d, label_options)
        if d.labels is not None:  # names and colours from a <labels>.classes.json beside the label file
            names, palette, sidecar = read_sidecar(Path(d.labels))
            if sidecar is not None:
                name_classes(data, names, palette, f"class file {sidecar}: ")
        return data

    return DatasetSpec(name=path.name, load=load, kind=layout.kind, description=f"file {path} ({name})", package="file")


def load_dataset(cfg: RunConfig, spec: DatasetSpec) -> Any:
    """The dataset's data, loaded with ``data.dataset_options`` and named as registered."""
    try:
        data = spec.load(**cfg.data.dataset_options)
    except TypeError as exc:
        raise HsframeError(f"dataset '{spec.name}' rejected data.dataset_options {cfg.data.dataset_options}: {exc}") from None
    data.name = spec.name  # the registered name, so runs line up by dataset in the UI
    d = cfg.data
    if d.class_names is not None or d.palette is not None:
        name_classes(data, d.class_names, d.palette)
    return data
