"""Readers: volume and time-series files -> :class:`VolumeSet`, :class:`LabeledVolume`, :class:`FrameSeries`.

- :func:`open_volume_set`: N labeled volumes from an HDF5 file (read lazily, per batch), a ``.npy``
  of volumes (memory-mapped) with a labels file, or a folder of class sub-folders holding one
  ``.npy``/NIfTI file per volume (each read on demand).
- :func:`open_labeled_volume`: one volume and its label volume (NIfTI through nibabel, or any
  format registered in :mod:`hsframe.data.io`, as :func:`hsframe.data.readers.read_array` reads).
- :func:`open_frame_series`: frames ``(T, H, W[, C])`` and per-pixel or per-frame labels.

Stored label values become class ids the hyperspectral way (0 = unlabeled, classes 1..K), through
``label_remap`` (stored value -> class id, anything not in it -> 0) or ``zero_label="class"``
(stored 0 is a class of its own: every id shifts up by one).

Every problem with the user's files is an :class:`HsframeError` that says what to do next. NIfTI
needs nibabel, an optional extra (``pip install hsframe[nifti]``). No torch import here.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from hsframe.data.io import Array, FileFormat, detect_format, integer_valued, materialize, read_npy_header, select_array, squeezed_ndim, stem
from hsframe.data.labels import MAX_CLASSES, check_int64
from hsframe.data.readers import memory_message
from hsframe.data.series import FrameSeries
from hsframe.data.volumes import LabeledVolume, VolumeSet
from hsframe.errors import HsframeError, one_line

# How a stored label 0 is read (the option data.zero_label; dataset cards use it too).
ZeroLabel = Literal["unlabeled", "class"]

_NIFTI_SUFFIXES = (".nii", ".nii.gz")
_FOLDER_SUFFIXES = (".npy", ".nii", ".nii.gz")
_TEXT_SUFFIXES = (".txt", ".csv")
_NIFTI_EXTRA = "pip install 'hsframe[nifti]' (or pip install nibabel)"


# --------------------------------------------------------------------------- volume readers (VolumeReader protocol)


def _check_index(index: Any, n: int, where: Path) -> np.ndarray:
    idx = np.asarray(index, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"volume index {int(idx.min())}..{int(idx.max())} out of range for {n} volumes of {where}")
    return idx


class Hdf5Volumes:
    """Volumes of one HDF5 dataset ``(N, D, H, W)`` or ``(N, C, D, H, W)``, read on demand.

    Only the requested volumes are read: ``read(index)`` reads the sorted unique indices in one
    selection (h5py needs increasing indices) and returns them in the requested order. The file
    handle is opened on first use and dropped when pickled (and reopened in a new process), so the
    reader can travel to data-loader workers.
    """

    def __init__(self, path: str | os.PathLike, key: str, stored_shape: tuple[int, ...]) -> None:
        self.path = Path(path)
        self.key = key
        self.stored_shape = tuple(int(s) for s in stored_shape)
        rest = self.stored_shape[1:]
        self.shape: tuple[int, int, int, int] = (1, *rest) if len(rest) == 3 else rest  # type: ignore[assignment]
        self._file: Any = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self.stored_shape[0]

    def _dataset(self) -> Any:
        if self._file is None or self._pid != os.getpid():  # an h5py handle must not cross a fork
            import h5py

            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file[self.key]

    def read(self, index: np.ndarray) -> np.ndarray:
        """Volumes at ``index`` (any order, repeats allowed) as float32 ``(len(index), C, D, H, W)``."""
        idx = _check_index(index, len(self), self.path)
        if idx.size == 0:
            return np.empty((0, *self.shape), dtype=np.float32)
        uniq, inverse = np.unique(idx, return_inverse=True)
        try:
            ds = self._dataset()
            if uniq[-1] - uniq[0] + 1 == len(uniq):  # a contiguous run: one hyperslab, the fastest read
                block = ds[int(uniq[0]) : int(uniq[-1]) + 1]
            else:
                block = ds[uniq]
        except OSError as exc:
            raise HsframeError(
                f"could not read volumes from {self.path} (key {self.key!r}): {one_line(exc)}. "
                "Was the file moved, changed or truncated after it was opened? Open the dataset again."
            ) from None
        out = np.asarray(block, dtype=np.float32)[inverse.reshape(-1)]
        return out.reshape(len(idx), *self.shape)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._pid = None, None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"], state["_pid"] = None, None
        return state


class NpyVolumes:
    """Volumes of one ``.npy`` ``(N, D, H, W)`` or ``(N, C, D, H, W)``, memory-mapped: only read rows are loaded."""

    def __init__(self, path: str | os.PathLike, stored_shape: tuple[int, ...]) -> None:
        self.path = Path(path)
        self.stored_shape = tuple(int(s) for s in stored_shape)
        rest = self.stored_shape[1:]
        self.shape: tuple[int, int, int, int] = (1, *rest) if len(rest) == 3 else rest  # type: ignore[assignment]
        self._mm: np.ndarray | None = None

    def __len__(self) -> int:
        return self.stored_shape[0]

    def read(self, index: np.ndarray) -> np.ndarray:
        """Volumes at ``index`` (any order, repeats allowed) as float32 ``(len(index), C, D, H, W)``."""
        idx = _check_index(index, len(self), self.path)
        if self._mm is None:
            self._mm = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return np.asarray(self._mm[idx], dtype=np.float32).reshape(len(idx), *self.shape)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_mm"] = None  # a memmap pickles as a full copy: reopen it instead
        return state


class FileVolumes:
    """One file per volume (``.npy`` or NIfTI), each read when asked for.

    ``.npy`` files are ``(D, H, W)`` or ``(C, D, H, W)``; NIfTI files are ``(X, Y, Z)`` or
    ``(X, Y, Z, C)`` (channels last, as NIfTI stores them) and come back channels first.
    """

    def __init__(self, files: Sequence[str | os.PathLike], shape: tuple[int, int, int, int]) -> None:
        self.files = [Path(f) for f in files]
        self.shape = tuple(int(s) for s in shape)  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.files)

    def _read_one(self, path: Path) -> np.ndarray:
        if _is_nifti(path):
            img = _load_nifti(path)
            try:
                data = img.get_fdata(dtype=np.float32, caching="unchanged")
            except Exception as exc:
                raise HsframeError(f"could not read the data of {path}: {type(exc).__name__}: {one_line(exc)}. "
                                   "The file may be truncated or corrupt: export it again.") from None
            data = _nifti_channels_first(data)
        else:
            try:
                data = np.asarray(np.load(path, mmap_mode="r", allow_pickle=False), dtype=np.float32)
            except (OSError, ValueError) as exc:
                raise HsframeError(f"could not read {path}: {one_line(exc)}. The file may have changed since the "
                                   "dataset was opened: open it again.") from None
            if data.ndim == 3:
                data = data[None]
        if data.shape != self.shape:
            raise HsframeError(f"{path} is now {data.shape} (C, D, H, W) but was {self.shape} when the dataset was "
                               "opened: the file changed. Open the dataset again.")
        return data

    def read(self, index: np.ndarray) -> np.ndarray:
        """Volumes at ``index`` (any order, repeats read once) as float32 ``(len(index), C, D, H, W)``."""
        idx = _check_index(index, len(self), Path(self.files[0].parent.parent) if self.files else Path("."))
        out = np.empty((len(idx), *self.shape), dtype=np.float32)
        first: dict[int, int] = {}
        for j, i in enumerate(idx.tolist()):
            if i in first:
                out[j] = out[first[i]]
            else:
                out[j] = self._read_one(self.files[i])
                first[i] = j
        return out


# --------------------------------------------------------------------------- public API


def open_volume_set(
    path: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    *,
    volumes_key: str | None = None,
    labels_key: str | None = None,
    class_names: Sequence[str] | None = None,
    label_remap: Mapping[Any, Any] | None = None,
    zero_label: ZeroLabel = "unlabeled",
    kind: str = "volume",
    name: str | None = None,
) -> VolumeSet:
    """N labeled volumes, kept on disk and read on demand.

    Args:
        path: an HDF5 file (``.h5``/``.hdf5``) with a volumes dataset ``(N, D, H, W)`` or
            ``(N, C, D, H, W)`` and a labels dataset ``(N,)``; a ``.npy`` of such volumes; or a
            folder with one sub-folder per class (``root/<class>/<sample>.npy|.nii|.nii.gz``).
        labels: the labels file (N class values: ``.npy``, ``.txt``, ``.csv`` or any format
            ``read_array`` reads). Needed for a ``.npy``; optional for HDF5 (default: the same file);
            not allowed for a class folder (its labels are the sub-folder names).
        volumes_key / labels_key: the datasets' names when they cannot be told apart (the only
            4-D/5-D array and the only 1-D integer array are picked otherwise).
        class_names: K names for class ids 1..K; default the sub-folder names, else "class k".
        label_remap: stored label value -> class id; values not in it become 0 (unlabeled).
        zero_label: "class" makes stored 0 a class of its own ("background"), shifting ids by 1.
        kind: "volume" (D is depth) or "sequence" (D is time).
        name: dataset name; default the file's stem or the folder's name.

    Returns:
        A :class:`VolumeSet` whose reader returns float32 ``(n, C, D, H, W)``; 3-D volumes have C = 1.
    """
    path = Path(path)
    if kind not in ("volume", "sequence"):
        raise HsframeError(f"kind must be 'volume' or 'sequence', got {kind!r}")
    _check_zero_label(zero_label)
    if not path.exists():
        raise HsframeError(f"not found: {path} (working directory {Path.cwd()}). Check the path.")
    if path.is_dir():
        return _open_class_folder(path, labels, class_names, label_remap, zero_label, kind, name)
    fmt = detect_format(path)
    if fmt.name == "hdf5":
        reader, stored, where = _open_hdf5_volumes(path, fmt, labels, volumes_key, labels_key)
    elif fmt.name == "npy":
        reader, stored, where = _open_npy_volumes(path, labels, labels_key)
    else:
        raise HsframeError(
            f"{path} is {fmt.title}, which holds no volume set. Volume sets are read from an HDF5 "
            "file (.h5/.hdf5: volumes (N, [C,] D, H, W) + labels (N,)), a .npy of volumes with a labels file "
            "(data.labels), or a folder with one sub-folder per class. Convert the data to one of these."
        )
    if len(stored) != len(reader):
        raise HsframeError(
            f"{len(stored)} labels in {where} for {len(reader)} volumes in {path}: give one label per volume "
            "(check that data.labels / data.labels_key name the right array)."
        )
    if len(reader) == 0:
        raise HsframeError(f"{path} holds no volumes (N = 0). Check that it is the right file.")
    ids, names = _labels_and_names(stored, where, class_names, label_remap, zero_label)
    return VolumeSet(
        name=name or stem(path, _NIFTI_SUFFIXES),
        volumes=reader,
        labels=ids,
        class_names=names,
        kind=kind,
        sources=[f"{path.name}[{i}]" for i in range(len(reader))],
    )


def open_labeled_volume(
    path: str | os.PathLike,
    labels: str | os.PathLike,
    *,
    volume_key: str | None = None,
    labels_key: str | None = None,
    class_names: Sequence[str] | None = None,
    label_remap: Mapping[Any, Any] | None = None,
    zero_label: ZeroLabel = "unlabeled",
    name: str | None = None,
) -> LabeledVolume:
    """One volume and its label volume, e.g. a medical image and its mask.

    Args:
        path: NIfTI (``(X, Y, Z)`` -> ``(1, X, Y, Z)``, ``(X, Y, Z, C)`` -> ``(C, X, Y, Z)``), or any
            format ``read_array`` reads: 3-D ``(D, H, W)`` -> C = 1, 4-D read as ``(C, D, H, W)``.
        labels: label volume of the same spatial shape (NIfTI or any ``read_array`` format); whole
            numbers (float files holding whole numbers are fine).
        volume_key / labels_key: array names inside multi-array files (data.cube_key / data.labels_key).
        class_names, label_remap, zero_label, name: as in :func:`open_volume_set`.

    Returns:
        A :class:`LabeledVolume`: volume float32 ``(C, D, H, W)``, labels int64 ``(D, H, W)``,
        spacing in mm from the NIfTI header (volume's, else the labels') when there is one.
    """
    path, labels = Path(path), Path(labels)
    _check_zero_label(zero_label)
    spacing = None
    if _is_nifti(path):
        img = _load_nifti(path)
        if _nifti_volume_shape(img.shape) is None:
            raise HsframeError(f"the NIfTI volume {path} is {img.shape}; it must be (X, Y, Z) or (X, Y, Z, C). "
                               "Split a time series into volumes first.")
        volume = _nifti_channels_first(_nifti_fdata(img, path))
        spacing = _nifti_spacing(img)
        vol_where = str(path)
    else:
        raw, key = _read_raw(path, volume_key, "data.cube_key", lambda a: len(a.shape) in (3, 4),
                             "3-D (D, H, W) or 4-D (C, D, H, W) array")
        vol_where = _where(path, key)
        if raw.ndim not in (3, 4):
            raise HsframeError(f"the volume in {vol_where} must be 3-D (D, H, W) or 4-D (C, D, H, W); it is {raw.shape}. "
                               "Name the volume's array with data.cube_key.")
        volume = np.asarray(raw, dtype=np.float32)
        if volume.ndim == 3:
            volume = volume[None]
    _check_finite(volume, "volume", vol_where)

    if _is_nifti(labels):
        limg = _load_nifti(labels)
        stored = _nifti_labels(limg, labels)
        lab_where = str(labels)
        if spacing is None:
            spacing = _nifti_spacing(limg)
    else:
        stored, key = _read_raw(labels, labels_key, "data.labels_key",
                                lambda a: len(a.shape) == 3 and integer_valued(a), "3-D integer-valued array")
        lab_where = _where(labels, key)
    if stored.ndim == 4 and stored.shape[-1] == 1:  # a mask saved as (X, Y, Z, 1)
        stored = stored[..., 0]
    spatial = volume.shape[1:]
    if stored.shape != spatial:
        hint = " The label volume looks transposed (axes reversed)." if stored.shape == spatial[::-1] else ""
        raise HsframeError(
            f"the label volume {stored.shape} from {lab_where} does not match the volume's spatial shape {spatial} "
            f"(volume read as (C, D, H, W) {volume.shape}) from {vol_where}.{hint} Check that the two files belong "
            "together (resample the labels onto the volume's grid) and that data.cube_key / data.labels_key name the right arrays."
        )
    ids, names = _labels_and_names(_whole(stored, lab_where), lab_where, class_names, label_remap, zero_label)
    return LabeledVolume(name=name or stem(path, _NIFTI_SUFFIXES), volume=volume, labels=ids, class_names=names, spacing=spacing)


def open_frame_series(
    path: str | os.PathLike,
    labels: str | os.PathLike,
    *,
    frames_key: str | None = None,
    labels_key: str | None = None,
    class_names: Sequence[str] | None = None,
    label_remap: Mapping[Any, Any] | None = None,
    zero_label: ZeroLabel = "unlabeled",
    timestamps: Sequence[str] | str | os.PathLike | None = None,
    name: str | None = None,
) -> FrameSeries:
    """A time series of frames and its labels.

    Args:
        path: frames ``(T, H, W)`` (-> C = 1) or ``(T, H, W, C)``, any format ``read_array`` reads.
            NaN/Inf values are an error (fill them in the file first; nothing is filled silently).
        labels: per-pixel ``(H, W)`` (or ``(H, W, 1)``, squeezed) or per-frame ``(T,)`` label values.
        frames_key / labels_key: array names inside multi-array files (data.cube_key / data.labels_key).
        class_names, label_remap, zero_label, name: as in :func:`open_volume_set`.
        timestamps: T strings, or a ``.json`` list / text file (one per line) of them.

    Returns:
        A :class:`FrameSeries`: frames float32 ``(T, H, W, C)``, labels int64 ``(H, W)`` or ``(T,)``.
    """
    path, labels = Path(path), Path(labels)
    _check_zero_label(zero_label)
    raw, key = _read_raw(path, frames_key, "data.cube_key", lambda a: len(a.shape) in (3, 4),
                         "3-D (T, H, W) or 4-D (T, H, W, C) array")
    frames_where = _where(path, key)
    if raw.ndim not in (3, 4):
        raise HsframeError(f"the frames in {frames_where} must be (T, H, W) or (T, H, W, C); they are {raw.shape}. "
                           "Name the frames' array with data.cube_key.")
    frames = np.asarray(raw, dtype=np.float32)
    if frames.ndim == 3:
        frames = frames[..., None]
    _check_finite(frames, "frames", frames_where)
    t, h, w, _ = frames.shape

    def fits(a: Array) -> bool:
        return (a.shape in ((h, w), (h, w, 1), (t,))) and integer_valued(a)

    stored, lkey = _read_raw(labels, labels_key, "data.labels_key", fits, f"integer-valued array of shape {(h, w)} or {(t,)}")
    lab_where = _where(labels, lkey)
    if stored.shape == (h, w, 1):
        stored = stored[..., 0]
    if stored.shape not in ((h, w), (t,)):
        hint = " The label map looks transposed." if stored.shape[:2] == (w, h) and h != w else ""
        raise HsframeError(
            f"labels {stored.shape} from {lab_where} do not fit the frames (T, H, W, C) {frames.shape} from {frames_where}: "
            f"labels must be per pixel (H, W) = {(h, w)} (or {(h, w, 1)}) or per frame (T,) = {(t,)}.{hint} "
            "Check that the two files belong together and that data.labels_key names the right array."
        )
    ids, names = _labels_and_names(_whole(stored, lab_where), lab_where, class_names, label_remap, zero_label)
    stamps = _timestamps(timestamps, t)
    return FrameSeries(name=name or stem(path, _NIFTI_SUFFIXES), frames=frames, labels=ids, class_names=names, timestamps=stamps)


# --------------------------------------------------------------------------- volume sets: the three layouts


def _open_hdf5_volumes(
    path: Path, fmt: FileFormat, labels: str | os.PathLike | None, volumes_key: str | None, labels_key: str | None
) -> tuple[Hdf5Volumes, np.ndarray, str]:
    """The lazy reader of the volumes dataset, the stored labels ``(N,)`` and where they came from."""
    same_file = labels is None or _same_file(Path(labels), path)
    try:
        with fmt.open(path) as src:
            vkey = select_array(src, volumes_key, path, "data.cube_key", lambda a: len(a.shape) in (4, 5),
                         "4-D (N, D, H, W) or 5-D (N, C, D, H, W) array")
            vshape = src.arrays[vkey].shape
            if len(vshape) not in (4, 5):
                raise HsframeError(
                    f"the volumes in {_where(path, vkey)} must be (N, D, H, W) or (N, C, D, H, W); the array is {vshape}. "
                    "Name the volumes' array with data.cube_key."
                )
            if 0 in vshape[1:]:
                raise HsframeError(f"the volumes in {_where(path, vkey)} are empty: shape {vshape}.")
            if same_file:
                lkey = select_array(src, labels_key, path, "data.labels_key",
                             lambda a: len(a.shape) >= 1 and squeezed_ndim(a.shape) <= 1 and a.dtype.kind in "biu",
                             "1-D integer array")
                arr = src.arrays[lkey]
                stored, where = materialize(arr, arr.perm, arr.dtype), _where(path, lkey)
    except HsframeError:
        raise
    except Exception as exc:
        raise HsframeError(f"could not read {path} as {fmt.title}: {type(exc).__name__}: {one_line(exc)}. "
                           "The file may be truncated or corrupt: export it again.") from exc
    if not same_file:
        stored, where = _read_label_list(Path(labels), labels_key)  # type: ignore[arg-type]
    return Hdf5Volumes(path, vkey, vshape), _label_list(stored, where), where


def _open_npy_volumes(path: Path, labels: str | os.PathLike | None, labels_key: str | None) -> tuple[NpyVolumes, np.ndarray, str]:
    shape, _ = _npy_header(path)
    if len(shape) not in (4, 5):
        raise HsframeError(f"the volumes in {path} must be (N, D, H, W) or (N, C, D, H, W); the array is {shape}. "
                           "Save them with one of these shapes.")
    if labels is None:
        raise HsframeError(f"a .npy of volumes ({path}, {shape}) needs a labels file with its {shape[0]} labels "
                           "(.npy, .txt or .csv): set data.labels.")
    stored, where = _read_label_list(Path(labels), labels_key)
    return NpyVolumes(path, shape), _label_list(stored, where), where


def _open_class_folder(
    root: Path,
    labels: str | os.PathLike | None,
    class_names: Sequence[str] | None,
    label_remap: Mapping[Any, Any] | None,
    zero_label: str,
    kind: str,
    name: str | None,
) -> VolumeSet:
    """``root/<class>/<sample>``: sorted class folders -> ids 1..K, sorted files, shapes checked from headers."""
    if labels is not None:
        raise HsframeError(f"{root} is a folder of class sub-folders, whose names are the labels; leave data.labels unset.")
    if label_remap is not None or zero_label != "unlabeled":
        raise HsframeError(f"data.label_remap and data.zero_label do not apply to a folder of class sub-folders ({root}): "
                           "its classes are the sub-folders. Leave them unset (rename or remove sub-folders instead).")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        loose = sorted(p.name for p in root.iterdir() if p.is_file())[:3]
        raise HsframeError(
            f"{root} has no class sub-folders. A volume set folder holds one sub-folder per class, each with one "
            f"file per volume (root/<class>/<sample>.npy|.nii|.nii.gz){f'; found files {loose}' if loose else ''}."
        )
    files: list[Path] = []
    ids: list[int] = []
    for k, folder in enumerate(folders, start=1):
        members = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(_FOLDER_SUFFIXES))
        if not members:
            other = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))[:3]
            raise HsframeError(
                f"class folder {folder} holds no volume file (.npy, .nii, .nii.gz){f'; it has {other}' if other else ''}. "
                "Put the class's volumes in it, convert them to .npy or NIfTI, or remove the folder."
            )
        files += members
        ids += [k] * len(members)
    first: tuple[Path, tuple[int, ...], tuple[int, int, int, int]] | None = None
    for f in files:
        stored, shape = _file_volume_shape(f)
        if first is None:
            first = (f, stored, shape)
        elif shape != first[2]:
            a, sa, ca = first
            raise HsframeError(
                f"every volume of a dataset must have one shape: {a.relative_to(root)} is {sa} but "
                f"{f.relative_to(root)} is {stored} (as (C, D, H, W): {ca} vs {shape}). "
                "Resample or crop the volumes to one shape first."
            )
    assert first is not None
    folder_names = [p.name for p in folders]
    if class_names is not None:
        if len(class_names) != len(folders):
            raise HsframeError(f"{len(class_names)} class names were given for the {len(folders)} class folders of {root} "
                               f"({', '.join(folder_names)}); give one name per folder, in sorted folder order.")
        folder_names = [str(n) for n in class_names]
    return VolumeSet(
        name=name or root.name,
        volumes=FileVolumes(files, first[2]),
        labels=np.asarray(ids, dtype=np.int64),
        class_names=folder_names,
        kind=kind,
        sources=[f.relative_to(root).as_posix() for f in files],
    )


def _file_volume_shape(path: Path) -> tuple[tuple[int, ...], tuple[int, int, int, int]]:
    """The stored shape of one folder volume and its ``(C, D, H, W)``, from the header only."""
    if _is_nifti(path):
        stored = tuple(int(s) for s in _load_nifti(path).shape)
        shape = _nifti_volume_shape(stored)
        if shape is None:
            raise HsframeError(f"{path} is {stored}: a NIfTI volume must be (X, Y, Z) or (X, Y, Z, C). "
                               "Split or convert it first.")
        return stored, shape
    stored, _ = _npy_header(path)
    if len(stored) not in (3, 4):
        raise HsframeError(f"{path} is {stored}: a .npy volume must be 3-D (D, H, W) or 4-D (C, D, H, W). "
                           "Save it with one of these shapes.")
    return stored, ((1, *stored) if len(stored) == 3 else stored)  # type: ignore[return-value]


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` from its header, checking that the data is all there."""
    try:
        with path.open("rb") as fh:
            shape, dtype = read_npy_header(fh)
            offset = fh.tell()
    except (OSError, ValueError) as exc:
        raise HsframeError(f"could not read {path} as a NumPy .npy file: {one_line(exc)}. "
                           "The file may be truncated or corrupt: save it again.") from None
    if dtype.kind not in "biuf":
        raise HsframeError(f"{path} holds {dtype} values; volumes must be numeric (integer or float). Save them as such.")
    need = offset + math.prod(shape) * dtype.itemsize
    if path.stat().st_size < need:
        raise HsframeError(f"{path} is truncated: its header describes {shape} {dtype} ({need} bytes) but the file has "
                           f"{path.stat().st_size} bytes. Save it again.")
    return tuple(int(s) for s in shape), dtype


def _read_label_list(path: Path, key: str | None) -> tuple[np.ndarray, str]:
    """N stored labels from a text file (.txt/.csv: one per line or one row) or an array file."""
    if path.name.lower().endswith(_TEXT_SUFFIXES):
        if not path.is_file():
            raise HsframeError(f"file not found: {path} (working directory {Path.cwd()}). Check data.labels.")
        return _read_text_labels(path), str(path)
    raw, name = _read_raw(path, key, "data.labels_key", lambda a: len(a.shape) >= 1 and squeezed_ndim(a.shape) <= 1 and integer_valued(a),
                          "1-D integer-valued array")
    return raw, _where(path, name)


def _read_text_labels(path: Path) -> np.ndarray:
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append([tok for tok in re.split(r"[\s,;]+", line) if tok])

    def numeric(row: list[str]) -> bool:
        try:
            [float(tok) for tok in row]
        except ValueError:
            return False
        return True

    if rows and not numeric(rows[0]):
        rows = rows[1:]  # a header line ("label")
    bad = next((r for r in rows if not numeric(r)), None)
    if bad is not None:
        raise HsframeError(f"{path} must hold numbers only (one label per volume); found {' '.join(bad)!r}.")
    if not rows:
        raise HsframeError(f"{path} holds no labels. Write one label per volume, one per line.")
    if len(rows) > 1 and any(len(r) != 1 for r in rows):
        raise HsframeError(f"{path} has several columns; write one label per line (or all of them in one row).")
    return np.asarray([float(tok) for r in rows for tok in r], dtype=np.float64)


def _label_list(stored: np.ndarray, where: str) -> np.ndarray:
    if squeezed_ndim(stored.shape) > 1:
        raise HsframeError(f"the labels in {where} must be one value per volume (N,); they are {stored.shape}. "
                           "Name the labels' array with data.labels_key.")
    return _whole(stored.reshape(-1), where)


# --------------------------------------------------------------------------- NIfTI


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(_NIFTI_SUFFIXES)


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError:
        raise HsframeError(f"reading NIfTI files (.nii, .nii.gz) needs nibabel, an optional extra: {_NIFTI_EXTRA}.") from None
    return nibabel


def _load_nifti(path: Path) -> Any:
    """The NIfTI image (header read, data not yet)."""
    nib = _nibabel()
    if not path.is_file():
        raise HsframeError(f"file not found: {path} (working directory {Path.cwd()}). Check the path.")
    try:
        return nib.load(str(path))
    except Exception as exc:
        raise HsframeError(f"could not read {path} as NIfTI: {type(exc).__name__}: {one_line(exc)}. "
                           "The file may be truncated or corrupt: export it again.") from None


def _nifti_fdata(img: Any, path: Path) -> np.ndarray:
    """Scaled intensities as float32 (nibabel applies the header's slope/intercept and byte order)."""
    try:
        return img.get_fdata(dtype=np.float32, caching="unchanged")
    except Exception as exc:
        raise HsframeError(f"could not read the data of {path}: {type(exc).__name__}: {one_line(exc)}. "
                           "The file may be truncated or corrupt: export it again.") from None


def _nifti_labels(img: Any, path: Path) -> np.ndarray:
    """Stored label values as the file's own type (float only when the header scales them)."""
    try:
        return np.asanyarray(img.dataobj)
    except Exception as exc:
        raise HsframeError(f"could not read the data of {path}: {type(exc).__name__}: {one_line(exc)}. "
                           "The file may be truncated or corrupt: export it again.") from None


def _nifti_volume_shape(shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """``(C, X, Y, Z)`` of a NIfTI ``(X, Y, Z)``, ``(X, Y, Z, C)`` or vector ``(X, Y, Z, 1, C)``; None otherwise."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 5 and shape[3] == 1:  # NIfTI keeps vector components in dim 5, after a time axis of 1
        shape = shape[:3] + shape[4:]
    if len(shape) == 3:
        return (1, *shape)
    if len(shape) == 4:
        return (shape[3], *shape[:3])
    return None


def _nifti_channels_first(data: np.ndarray) -> np.ndarray:
    """``(X, Y, Z[, 1][, C])`` -> ``(C, X, Y, Z)``: NIfTI stores channels last."""
    if data.ndim == 5:
        data = data[:, :, :, 0, :]
    return data[None] if data.ndim == 3 else np.moveaxis(data, -1, 0)


def _nifti_spacing(img: Any) -> tuple[float, float, float] | None:
    """Voxel size in mm from the header (converted from metres or microns when the header says so)."""
    zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
    if len(zooms) < 3 or not all(math.isfinite(z) and z > 0 for z in zooms):
        return None
    unit = img.header.get_xyzt_units()[0]
    factor = {"meter": 1000.0, "micron": 0.001}.get(unit, 1.0)
    return tuple(z * factor for z in zooms)  # type: ignore[return-value]


# --------------------------------------------------------------------------- any-format arrays


def _read_raw(path: Path, key: str | None, option: str, fits: Callable[[Array], bool], what: str) -> tuple[np.ndarray, str]:
    """One array of any ``read_array`` format, as stored; ``key`` or else the only array that ``fits``."""
    path = Path(path)
    fmt = detect_format(path)
    try:
        with fmt.open(path) as src:
            name = select_array(src, key, path, option, fits, what)
            arr = src.arrays[name]
            return materialize(arr, arr.perm, arr.dtype), name
    except HsframeError:
        raise
    except MemoryError as exc:
        raise HsframeError(memory_message(path, exc, "the data")) from None
    except Exception as exc:  # the parsers' errors on bad bytes are many and unrelated
        raise HsframeError(f"could not read {path} as {fmt.title}: {type(exc).__name__}: {one_line(exc)}. "
                           "The file may be truncated or corrupt: export it again.") from exc


# --------------------------------------------------------------------------- labels -> class ids


def _check_zero_label(zero_label: str) -> None:
    if zero_label not in ("unlabeled", "class"):
        raise HsframeError(f"data.zero_label must be 'unlabeled' or 'class', got {zero_label!r}")


def _whole(raw: np.ndarray, where: str) -> np.ndarray:
    """Stored label values as int64; refuses anything that is not a whole number."""
    if raw.dtype.kind == "b":
        return raw.astype(np.int64)
    if raw.dtype.kind not in "iuf":
        raise HsframeError(f"the labels in {where} are {raw.dtype}; they must be whole numbers. Name the label array with data.labels_key.")
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(raw) | (raw != np.round(raw))
        if bad.any():
            raise HsframeError(
                f"the labels in {where} must be whole numbers (class values); {int(bad.sum())} of {raw.size} are not "
                f"(e.g. {raw[bad].flat[0]}). Is this an intensity or probability array? Name the label array with "
                "data.labels_key, or threshold/round the labels in the file first."
            )
    check_int64(raw, f"the labels in {where}")
    return raw.astype(np.int64)


def _parse_remap(label_remap: Mapping[Any, Any]) -> dict[int, int]:
    try:
        remap = {int(k): int(v) for k, v in dict(label_remap).items()}
    except (TypeError, ValueError):
        raise HsframeError(f"data.label_remap must map whole numbers to class ids, e.g. {{1: 1, 8: 5}}; got {label_remap!r}") from None
    if any(v < 0 or v > MAX_CLASSES for v in remap.values()):
        raise HsframeError(f"data.label_remap maps to negative ids or ids above {MAX_CLASSES}: "
                           f"{sorted(v for v in remap.values() if v < 0 or v > MAX_CLASSES)}; class ids are 1..K (0 = unlabeled).")
    return remap


def _labels_and_names(
    stored: np.ndarray,
    where: str,
    class_names: Sequence[str] | None,
    label_remap: Mapping[Any, Any] | None,
    zero_label: str,
) -> tuple[np.ndarray, list[str]]:
    """Stored whole-number labels -> int64 class ids (0 = unlabeled, 1..K) and K class names."""
    stored = np.asarray(stored, dtype=np.int64)
    if label_remap is not None:
        if zero_label == "class":
            raise HsframeError("data.zero_label='class' and data.label_remap cannot be combined: give stored 0 its own "
                               "class id in data.label_remap instead (e.g. {0: 1, 1: 2}).")
        remap = _parse_remap(label_remap)
        keys = np.asarray(sorted(remap), dtype=np.int64)
        values = np.asarray([remap[k] for k in keys.tolist()], dtype=np.int64)
        if keys.size:
            pos = np.clip(np.searchsorted(keys, stored), 0, len(keys) - 1)
            ids = np.where(keys[pos] == stored, values[pos], 0)  # not in the map -> unlabeled
        else:
            ids = np.zeros_like(stored)
        k = int(values.max(initial=0))  # the map's targets are the class ids (at most MAX_CLASSES: _parse_remap)
        default = [f"class {i}" for i in range(1, k + 1)]
    else:
        if stored.size and stored.min() < 0:
            raise HsframeError(
                f"the labels in {where} hold {int((stored < 0).sum())} negative values (min {int(stored.min())}); class "
                "values must be >= 0 (0 = unlabeled). Map them with data.label_remap (values not in it become 0)."
            )
        if zero_label == "class":  # stored 0's name first, then one per stored value present: the data renumbers them
            ids = stored + 1
            default = ["background"] + [f"class {v}" for v in np.unique(stored[stored > 0]).tolist()]
        else:
            ids, default = stored, []  # the data names the classes it finds
    if class_names is None:
        return ids, default
    names = [str(n) for n in class_names]
    k = int(ids.max(initial=0))
    if len(names) < k and zero_label == "class":  # the usual slip: stored 0's name forgotten (the data checks the rest)
        raise HsframeError(f"{len(names)} class names were given but the labels in {where} go up to class id {k}; "
                           "with data.zero_label='class' the first name is stored 0's.")
    return ids, names


# --------------------------------------------------------------------------- small helpers


def _check_finite(data: np.ndarray, what: str, where: str) -> None:
    bad = ~np.isfinite(data)
    if bad.any():
        n_nan = int(np.isnan(data).sum())
        total = int(bad.sum())
        raise HsframeError(
            f"the {what} in {where} hold {total} non-finite values ({n_nan} NaN, {total - n_nan} Inf; "
            f"{100 * total / data.size:.3g}% of {data.size}). They are not filled silently: fill them in the file "
            "first (e.g. numpy.nan_to_num, or interpolate over time for cloudy frames)."
        )


def _timestamps(timestamps: Sequence[str] | str | os.PathLike | None, t: int) -> list[str] | None:
    if timestamps is None:
        return None
    if isinstance(timestamps, (str, os.PathLike)):
        p = Path(timestamps)
        if not p.is_file():
            raise HsframeError(f"timestamps file not found: {p}. Give a .json list or a text file with one date per line.")
        text = p.read_text(encoding="utf-8")
        try:
            values = json.loads(text) if p.suffix.lower() == ".json" else [ln.strip() for ln in text.splitlines() if ln.strip()]
        except json.JSONDecodeError as exc:
            raise HsframeError(f"{p} is not valid JSON ({exc}); write the timestamps as a JSON list of strings.") from None
        if not isinstance(values, list):
            raise HsframeError(f"{p} must hold a list of timestamps (one per frame).")
    else:
        values = list(timestamps)
    if len(values) != t:
        raise HsframeError(f"{len(values)} timestamps for {t} frames: give one per frame.")
    return [str(v) for v in values]


def _where(path: Path, key: str) -> str:
    return f"{path} (key {key!r})" if key else str(path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
