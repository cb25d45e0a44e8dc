"""From a ``data.dataset`` value to loaded data: a registered dataset by name, or files by path."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from hsframe.config import RunConfig
from hsframe.errors import HsframeError
from hsframe.plugins import Plugins
from hsframe.registry import DatasetSpec

# How a file is read (``data.layout``), and the kind of data it gives (what a model must serve).
LAYOUT_KINDS = {"scene": "hsi", "volumes": "volume", "dense": "volume", "frames": "sequence"}


def resolve_dataset(cfg: RunConfig, plugins: Plugins) -> DatasetSpec:
    """A registered dataset by name, or a data file / folder (with ``data.labels``) by path."""
    name = cfg.data.dataset
    if plugins.claimed("datasets", name):
        return plugins.dataset(name)
    path = Path(name).expanduser()
    if path.exists():
        return file_dataset(cfg, path)
    if path.suffix or "/" in name:
        raise HsframeError(f"dataset file not found: {path}. Give an existing data file or folder, or a registered name "
                           "(see `hsframe datasets list`).")
    return plugins.dataset(name)


def file_layout(cfg: RunConfig, path: Path) -> str:
    """``data.layout``, or from the path when "auto": a folder holds volumes, NIfTI is dense, else a scene."""
    if cfg.data.layout != "auto":
        return cfg.data.layout
    if path.is_dir():
        return "volumes"
    if path.name.lower().endswith((".nii", ".nii.gz")):
        return "dense"
    return "scene"


def file_dataset(cfg: RunConfig, path: Path) -> DatasetSpec:
    """A dataset read from files: a scene, volumes, a label volume or frames, as ``data.layout`` says."""
    d = cfg.data
    layout = file_layout(cfg, path)
    if path.is_dir() and layout != "volumes":
        raise HsframeError(f"data.layout={layout} reads a file, but {path} is a folder (a folder of class sub-folders "
                           "is read with data.layout=volumes)")
    if layout == "scene" and (d.label_remap is not None or d.zero_label != "unlabeled"):
        raise HsframeError("data.label_remap and data.zero_label apply to volumes and series; a hyperspectral scene's "
                           "label map is read as stored (0 = unlabeled). Set data.layout if this file is not a scene.")
    labels_opts = {"class_names": None, "label_remap": d.label_remap, "zero_label": d.zero_label}

    def load() -> Any:
        from hsframe.data import readers, volume_readers

        if layout == "scene":
            return readers.open_scene(path, d.labels, cube_key=d.cube_key, labels_key=d.labels_key,
                                      axis_order=d.axis_order, nan_fill=d.nan_fill)
        if layout == "volumes":
            return volume_readers.open_volume_set(path, d.labels, volumes_key=d.cube_key, labels_key=d.labels_key, **labels_opts)
        if d.labels is None:
            raise HsframeError(f"data.layout={layout} needs data.labels (the label file) beside the data file {path}")
        if layout == "dense":
            return volume_readers.open_labeled_volume(path, d.labels, volume_key=d.cube_key, labels_key=d.labels_key, **labels_opts)
        return volume_readers.open_frame_series(path, d.labels, frames_key=d.cube_key, labels_key=d.labels_key, **labels_opts)

    return DatasetSpec(name=path.name, load=load, kind=LAYOUT_KINDS[layout], description=f"file {path} ({layout})", package="file")


def load_dataset(cfg: RunConfig, spec: DatasetSpec) -> Any:
    """The dataset's data, loaded with ``data.dataset_options`` and named as registered."""
    try:
        data = spec.load(**cfg.data.dataset_options)
    except TypeError as exc:
        raise HsframeError(f"dataset '{spec.name}' rejected data.dataset_options {cfg.data.dataset_options}: {exc}") from None
    data.name = spec.name  # the registered name, so runs line up by dataset in the UI
    return data
