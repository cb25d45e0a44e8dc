"""Dataset cards: one YAML file per real dataset, turned into registered, loadable datasets.

A card (``datasets/NAME.yaml`` at the repository root, see ``datasets/README.md``) says which files
make up a dataset, where to download them, their checksums, how to read them (array keys and
layout), the classes with their names and colours, and how to cite the data. A card is one of three
kinds (:data:`hsframe.registry.DATA_KINDS`): ``hsi`` (a hyperspectral cube + label map, loaded as a
:class:`~hsframe.data.scene.Scene`), ``sequence`` (a time series of frames + per-pixel or per-frame
labels, loaded as a :class:`~hsframe.data.series.FrameSeries`) or ``volume`` (one volume + a dense
label volume, loaded as a :class:`~hsframe.data.volumes.LabeledVolume`). This module

* validates cards (:class:`DatasetCard`; a bad card is an :class:`HsframeError` naming the file
  and the field),
* finds them (:func:`card_dirs`, :func:`load_cards`, :func:`get_card`): the shipped folder plus
  any folders listed in ``HSFRAME_CARDS``,
* says where data lives (:func:`data_dir`: ``$HSFRAME_DATA``, else the user cache folder),
* opens a downloaded dataset (:func:`load_dataset`): a hyperspectral scene (:func:`load_scene`),
  including the unmixing benchmarks (Samson, Jasper Ridge) whose labels are the argmax of
  ground-truth abundances, a frame series (:func:`load_frame_series`) or a labeled volume
  (:func:`load_labeled_volume`), and
* registers every card as a :class:`~hsframe.registry.DatasetSpec` of the card's kind, with the
  card's ``defaults`` (dotted config keys), through the ``register_datasets`` hook, exactly like a
  plugin would.

Nothing here imports torch; readers (scipy, h5py, nibabel, ...) are imported only when a dataset is loaded.
"""
from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from hsframe.data.volume_readers import ZeroLabel
from hsframe.errors import HsframeError, validation_message
from hsframe.hookspecs import hookimpl
from hsframe.registry import DATA_KINDS, DatasetSpec

if TYPE_CHECKING:  # numpy and the data classes are only needed once a dataset is loaded
    import numpy as np

    from hsframe.data.scene import Scene
    from hsframe.data.scene_set import SceneSet
    from hsframe.data.series import FrameSeries
    from hsframe.data.volumes import LabeledVolume

CARDS_ENV = "HSFRAME_CARDS"
DATA_ENV = "HSFRAME_DATA"
CARD_SUFFIXES = (".yaml", ".yml")

# Cube layouts: the two (H, W, B)/(B, H, W) orders the readers know, plus the unmixing
# benchmarks' (bands, pixels) matrix whose pixels run in Fortran (column-major) or C order.
CubeLayout = Literal["auto", "HWB", "BHW", "bands_x_pixels_F", "bands_x_pixels_C"]
PIXEL_LAYOUTS = ("bands_x_pixels_F", "bands_x_pixels_C")

# What each kind's ``shape`` means, as loaded. Series and volumes may omit the channel axis
# (a 3-number shape means one channel: (T, H, W) -> (T, H, W, 1), (D, H, W) -> (1, D, H, W)).
SHAPE_AXES = {"hsi": ("H", "W", "B"), "sequence": ("T", "H", "W", "C"), "volume": ("C", "D", "H", "W")}

_HEX = {"md5": 32, "sha256": 64, "git_sha1": 40}
CHECKSUM_KINDS = tuple(_HEX)


class _Strict(BaseModel):
    # A misspelt field must be an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class FileEntry(_Strict):
    """One file of a dataset: its name in the dataset folder, where to get it, how to check it."""

    name: str = Field(description="file name inside data_dir()/<dataset>/")
    urls: list[str] = Field(default_factory=list, description="mirrors, tried in order; https:// only")
    allow_insecure: bool = Field(False, description="allow http:// URLs for this file (a warning each time one is used)")
    md5: str | None = None
    sha256: str | None = None
    git_sha1: str | None = Field(None, description="git blob SHA-1: sha1(b'blob <size>\\0' + content)")
    size: int | None = Field(None, ge=0, description="size in bytes, if known")
    notes: str | None = None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not v or "/" in v or "\\" in v or v in (".", ".."):
            raise ValueError(f"must be a plain file name without folders, got {v!r}")
        return v

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        # A download must not be swappable on the way: https only. ftp://, file:// (any local file) and
        # other schemes are refused; http:// is checked against allow_insecure below.
        for url in v:
            if not re.match(r"^https?://[^\s/]+\S*$", url, re.IGNORECASE):
                raise ValueError(f"{url!r} is not an https:// URL (ftp://, file:// and other schemes are refused)")
        return v

    @model_validator(mode="after")
    def _insecure_needs_consent(self) -> "FileEntry":
        plain = self.insecure_urls
        if plain and not self.allow_insecure:
            raise ValueError(f"{plain[0]!r} is plain http://, which anyone on the network path can alter; use https://, "
                             "or set allow_insecure: true on this file if the host offers nothing else")
        if self.allow_insecure and not plain:
            raise ValueError("allow_insecure: true but none of the urls is http://; remove allow_insecure")
        return self

    @property
    def insecure_urls(self) -> list[str]:
        """The http:// URLs (allowed by ``allow_insecure``)."""
        return [u for u in self.urls if u.lower().startswith("http://")]

    @field_validator("md5", "sha256", "git_sha1")
    @classmethod
    def _hex(cls, v: str | None, info: Any) -> str | None:
        if v is None:
            return v
        v = v.strip().lower()
        n = _HEX[info.field_name]
        if not re.fullmatch(f"[0-9a-f]{{{n}}}", v):
            raise ValueError(f"must be {n} hexadecimal digits, got {v!r}")
        return v

    @property
    def checksums(self) -> dict[str, str]:
        """The known checksums, by kind (md5, sha256, git_sha1)."""
        return {k: getattr(self, k) for k in CHECKSUM_KINDS if getattr(self, k)}


class CubeSource(_Strict):
    """Where the cube is: which file, which array, in which layout."""

    file: str
    key: str | None = Field(None, description="array name in a .mat/.h5/.npz; None = the only 3-D array")
    layout: CubeLayout = "auto"
    scale: float | None = Field(None, gt=0, description="multiply stored values by this (e.g. 1e-4)")


class DataSource(_Strict):
    """Sequence and volume cards: where the frames ``(T, H, W[, C])`` or the volume are."""

    file: str
    key: str | None = Field(None, description="array name in a .mat/.h5/.npz; None = the only array that fits")
    scale: float | None = Field(None, gt=0, description="multiply stored values by this (e.g. 1e-4)")


class LabelSource(_Strict):
    """Where the labels are: a class-id map, or ground-truth abundances turned into labels."""

    file: str
    key: str | None = None
    encoding: Literal["class_ids", "abundances"] = "class_ids"
    purity_threshold: float | None = Field(
        None, gt=0, le=1, description="abundances only: pixels whose largest abundance is below it are unlabeled"
    )
    remap: dict[int, int] | None = Field(
        None, description="sequence/volume: stored value -> class id (1..K); stored values not in it are unlabeled (0)"
    )
    zero_label: ZeroLabel = Field(
        "unlabeled", description="sequence/volume: 'class' makes stored 0 a class of its own (class_names[0]), ids shift by 1"
    )

    @field_validator("remap")
    @classmethod
    def _remap(cls, v: dict[int, int] | None) -> dict[int, int] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("is empty; map each stored label value to a class id, e.g. {1: 1, 8: 5}, or leave it out")
        bad = {k: c for k, c in v.items() if c < 0}
        if bad:
            raise ValueError(f"maps to negative class ids {bad}; class ids are 1..K (0 = unlabeled)")
        return v

    @model_validator(mode="after")
    def _threshold_needs_abundances(self) -> "LabelSource":
        if self.purity_threshold is not None and self.encoding != "abundances":
            raise ValueError("purity_threshold only applies to encoding: abundances")
        if self.remap is not None and self.zero_label == "class":
            raise ValueError("remap and zero_label: class cannot be combined; give stored 0 its own class id in remap "
                             "instead (e.g. {0: 1, 1: 2})")
        return self


class TileSource(_Strict):
    """hsi scene sets: the published tile lists (CSV files with columns image,mask) and how to read the tiles."""

    train: str = Field(description="CSV of the training tiles (image,mask paths relative to the dataset folder)")
    val: str | None = Field(None, description="CSV of the validation tiles")
    test: str | None = Field(None, description="CSV of the test tiles")
    nodata: float | None = Field(None, description="stored value of missing data; default: each file's own (GeoTIFF GDAL_NODATA)")
    scale: float | None = Field(None, gt=0, description="multiply stored values by this (e.g. 1e-4); not with band_stats")
    band_stats: str | None = Field(None, description="CSV of published per-band mean,std (stored units) to standardize the bands "
                                   "with; bands without statistics are dropped")

    @model_validator(mode="after")
    def _one_scaling(self) -> "TileSource":
        if self.scale is not None and self.band_stats is not None:
            raise ValueError("give scale or band_stats, not both: band_stats standardizes the stored values")
        return self

    @property
    def lists(self) -> dict[str, str]:
        """subset -> CSV file, for the lists given."""
        return {k: v for k, v in (("train", self.train), ("val", self.val), ("test", self.test)) if v is not None}


RGB = tuple[int, int, int]


class DatasetCard(_Strict):
    """A validated dataset card. Field meanings: ``datasets/README.md``."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    description: str
    kind: str = "hsi"
    sensor: str | None = None
    wavelength_range_nm: tuple[float, float] | None = None
    shape: tuple[int, ...] = Field(
        min_length=3, max_length=4,
        description="as loaded: hsi (H, W, B); sequence (T, H, W, C) or (T, H, W); volume (C, D, H, W) or (D, H, W)",
    )
    files: list[FileEntry] = Field(min_length=1)
    cube: CubeSource | None = Field(None, description="hsi: the cube")
    tiles: TileSource | None = Field(None, description="hsi scene sets: the tile lists, instead of cube and labels")
    data: DataSource | None = Field(None, description="sequence/volume: the frames or the volume")
    labels: LabelSource | None = Field(None, description="the labels; a scene set (tiles) takes them from its tile lists")
    timestamps: str | None = Field(None, description="sequence: one of the files, a JSON list of T dates")
    num_classes: int = Field(ge=1)
    class_names: list[str]
    palette: list[RGB]
    rgb_bands: RGB | None = Field(None, description="hsi: 0-based bands of a false-colour preview")
    defaults: dict[str, Any] = Field(
        default_factory=dict, description="dotted config keys the dataset needs, e.g. {data.window: 16}"
    )
    ignored_label: int = 0
    citation: str
    license: str
    source: str = Field(description="the page that publishes the data")
    manual_download: bool = False
    download_instructions: str | None = Field(None, description="manual datasets: how to get the files")
    data_folder: str | None = Field(None, description="folder under data_dir(); default: the card's name")
    notes: str | None = None
    # The YAML file the card was read from, for messages ("fix datasets/foo.yaml"); None if built in code.
    _path: Path | None = PrivateAttr(default=None)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in DATA_KINDS:
            raise ValueError(f"must be one of {', '.join(DATA_KINDS)}, got {v!r}")
        return v

    @field_validator("shape")
    @classmethod
    def _shape(cls, v: tuple[int, ...], info: Any) -> tuple[int, ...]:
        kind = info.data.get("kind")  # absent when the kind itself is invalid (reported on its own)
        if kind == "hsi" and len(v) != 3:
            raise ValueError(f"kind hsi needs 3 numbers (H, W, B), got {list(v)}")
        axes = ", ".join(SHAPE_AXES.get(kind, ("H", "W", "B")))
        if min(v) < 1:
            raise ValueError(f"({axes}) must all be >= 1, got {list(v)}")
        return v

    @field_validator("defaults")
    @classmethod
    def _defaults(cls, v: dict[str, Any]) -> dict[str, Any]:
        # The same keys and values a config file takes, checked the same way (unknown key -> nearest one).
        from hsframe.config import resolve
        from hsframe.splits import builtin_splits

        undotted = [k for k in v if not re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)+", str(k))]
        if undotted:
            raise ValueError(f"keys must be dotted config keys such as data.window, got {undotted}")
        try:
            # Cards load while the plugins load, so they are checked against the built-in split methods.
            resolve([("dataset card defaults", v)], builtin_splits())
        except HsframeError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("palette")
    @classmethod
    def _palette(cls, v: list[RGB]) -> list[RGB]:
        for i, rgb in enumerate(v):
            if not all(0 <= c <= 255 for c in rgb):
                raise ValueError(f"entry {i} {list(rgb)}: RGB values must be 0..255")
            if tuple(rgb) == (0, 0, 0):
                raise ValueError(f"entry {i} is black, the colour maps use for unlabeled pixels; pick another")
        dupes = sorted({tuple(c) for c in v if v.count(c) > 1})
        if dupes:
            raise ValueError(f"colours must be distinct; repeated: {[list(c) for c in dupes]}")
        return v

    @field_validator("ignored_label")
    @classmethod
    def _ignored(cls, v: int) -> int:
        # Scene's convention: 0 = unlabeled, classes 1..K; other encodings must be remapped in the file.
        if v != 0:
            raise ValueError("hsframe uses 0 for unlabeled pixels; remap the label file so that 0 is unlabeled")
        return v

    @field_validator("data_folder")
    @classmethod
    def _folder(cls, v: str | None) -> str | None:
        if v is not None and (not v or "/" in v or "\\" in v or v in (".", "..")):
            raise ValueError(f"must be a plain folder name, got {v!r}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "DatasetCard":
        k = self.num_classes
        if len(self.class_names) != k:
            raise ValueError(f"num_classes is {k} but class_names has {len(self.class_names)} names")
        if len(set(self.class_names)) != k:
            raise ValueError("class_names must be distinct")
        if len(self.palette) != k:
            raise ValueError(f"num_classes is {k} but palette has {len(self.palette)} colours (one per class)")
        if self.kind == "hsi":
            self._check_hsi()
        else:
            self._check_series_or_volume()
        names = [f.name for f in self.files]
        if len(set(names)) != len(names):
            raise ValueError(f"files lists a name twice: {names}")
        sources = [("cube", self.cube), ("data", self.data), ("labels", self.labels)]
        if self.tiles is not None:
            sources += [(f"tiles.{k}", v) for k, v in (*self.tiles.lists.items(), ("band_stats", self.tiles.band_stats))]
        for what, src in sources:
            file = src if isinstance(src, str) or src is None else src.file
            if file is not None and file not in names:
                raise ValueError(f"{what}{'' if isinstance(src, str) else '.file'} {file!r} is not one of the files: {names}")
        if self.timestamps is not None and self.timestamps not in names:
            raise ValueError(f"timestamps {self.timestamps!r} is not one of the files: {names}")
        if self.manual_download and not (self.download_instructions or "").strip():
            raise ValueError("manual_download: true needs download_instructions (where and how to get the files)")
        if not self.manual_download:
            no_url = [f.name for f in self.files if not f.urls]
            if no_url:
                raise ValueError(
                    f"files without urls: {no_url}; add urls or set manual_download: true"
                )
        if self.wavelength_range_nm is not None and self.wavelength_range_nm[0] >= self.wavelength_range_nm[1]:
            raise ValueError("wavelength_range_nm must be [first, last] with first < last")
        return self

    def _check_hsi(self) -> None:
        if self.tiles is not None:
            if self.cube is not None or self.labels is not None:
                raise ValueError("a scene set names its tiles in tiles (the lists give images and labels); drop cube and labels")
        elif self.cube is None or self.labels is None:
            raise ValueError("kind hsi needs cube: {file, key, layout} and labels: {file, key} (or tiles: a scene set's tile lists)")
        if self.data is not None:
            raise ValueError("data only applies to kind sequence or volume; a hyperspectral card names its cube in cube")
        if self.rgb_bands is None:
            raise ValueError("kind hsi needs rgb_bands: three 0-based band indices for a false-colour preview")
        bands = self.shape[2]
        if not all(0 <= b < bands for b in self.rgb_bands):
            raise ValueError(f"rgb_bands {list(self.rgb_bands)} must be 0-based band indices below {bands}")
        if self.labels is not None and (self.labels.remap is not None or self.labels.zero_label != "unlabeled"):
            which = "remap" if self.labels.remap is not None else "zero_label"
            raise ValueError(f"labels.{which} only applies to kind sequence or volume; a hyperspectral label map "
                             "stores 0 = unlabeled and classes 1..K")
        if self.timestamps is not None:
            raise ValueError("timestamps only applies to kind sequence")

    def _check_series_or_volume(self) -> None:
        kind = self.kind
        if self.tiles is not None:
            raise ValueError(f"tiles only applies to kind hsi, not {kind}")
        if self.labels is None:
            raise ValueError(f"kind {kind} needs labels: {{file, key}}")
        if self.data is None:
            what = "frames (T, H, W[, C])" if kind == "sequence" else "volume"
            raise ValueError(f"kind {kind} needs data: {{file, key}} (where the {what} are)")
        if self.cube is not None:
            raise ValueError(f"cube only applies to kind hsi; a {kind} card names its data file in data: {{file, key}}")
        if self.rgb_bands is not None:
            raise ValueError(f"rgb_bands only applies to kind hsi, not {kind}")
        if self.labels.encoding != "class_ids":
            raise ValueError(f"labels.encoding: abundances only applies to kind hsi, not {kind}")
        if self.timestamps is not None and kind != "sequence":
            raise ValueError(f"timestamps only applies to kind sequence, not {kind}")
        k = self.num_classes
        remap = self.labels.remap
        if remap is not None:
            over = {s: c for s, c in remap.items() if c > k}
            if over:
                raise ValueError(f"labels.remap maps to class ids above num_classes {k}: {over}; "
                                 f"class ids are 1..{k} (0 = unlabeled)")
            unused = sorted(set(range(1, k + 1)) - set(remap.values()))
            if unused:
                raise ValueError(f"labels.remap never maps to class ids {unused}, so class_names "
                                 f"{[self.class_names[i - 1] for i in unused]} would never occur; map a stored value "
                                 "to each class id 1..K or drop those classes")
        elif self.labels.zero_label == "class" and k < 2:
            raise ValueError("labels.zero_label: class makes stored 0 class 1 (class_names[0]); list at least one more "
                             "class for the stored non-zero values")

    # ------------------------------------------------------------------ convenience

    @property
    def path(self) -> Path | None:
        """The YAML file this card was read from (None for a card built in code)."""
        return self._path

    @property
    def folder_name(self) -> str:
        return self.data_folder or self.name

    @property
    def shape_axes(self) -> tuple[str, ...]:
        """Names of the loaded shape's axes: ``("H", "W", "B")``, ``("T", "H", "W", "C")`` or ``("C", "D", "H", "W")``."""
        return SHAPE_AXES[self.kind]

    @property
    def loaded_shape(self) -> tuple[int, ...]:
        """The shape the loaded array has: ``shape``, with the single channel added to a 3-number series/volume shape."""
        if self.kind == "sequence" and len(self.shape) == 3:
            return (*self.shape, 1)
        if self.kind == "volume" and len(self.shape) == 3:
            return (1, *self.shape)
        return tuple(self.shape)

    @property
    def shape_text(self) -> str:
        """``145x145x200 (HxWxB)``, ``68x101x100x1 (TxHxWxC)``, ``1x33x41x25 (CxDxHxW)``: for listings."""
        return f"{'x'.join(map(str, self.loaded_shape))} ({'x'.join(self.shape_axes)})"

    @property
    def source_array(self) -> "CubeSource | DataSource":
        """Where the data array is: ``cube`` (hsi) or ``data`` (sequence, volume)."""
        src = self.cube if self.kind == "hsi" else self.data
        assert src is not None  # guaranteed by validation
        return src

    def file(self, name: str) -> FileEntry:
        return next(f for f in self.files if f.name == name)


# --------------------------------------------------------------------------- locations


def builtin_cards_dir() -> Path | None:
    """The repository's ``datasets/`` folder, when hsframe runs from a checkout (editable install).

    Checked by the ``pyproject.toml`` beside it, so that a non-editable install in site-packages
    never mistakes an unrelated ``site-packages/datasets`` package for the cards.
    """
    import hsframe

    root = Path(hsframe.__file__).resolve().parent.parent
    candidates = [root / "datasets"] if (root / "pyproject.toml").is_file() else []
    # Where a wheel could install them as data files.
    candidates.append(Path(sys.prefix) / "share" / "hsframe" / "datasets")
    for cand in candidates:
        if cand.is_dir():
            return cand
    return None


def card_dirs() -> list[Path]:
    """Folders searched for cards: the shipped one, then each folder in ``$HSFRAME_CARDS``.

    ``HSFRAME_CARDS`` holds folders separated by the OS path separator (``:`` on Unix); a card
    there replaces a shipped card of the same name (e.g. to point at a local mirror).
    """
    dirs: list[Path] = []
    builtin = builtin_cards_dir()
    if builtin is not None:
        dirs.append(builtin)
    for part in os.environ.get(CARDS_ENV, "").split(os.pathsep):
        if part.strip():
            dirs.append(Path(part.strip()).expanduser())
    return dirs


def data_dir() -> Path:
    """Where dataset files live: ``$HSFRAME_DATA``, else ``$XDG_CACHE_HOME/hsframe/datasets``.

    Without ``XDG_CACHE_HOME`` the base is ``~/.cache`` (``%LOCALAPPDATA%`` on Windows). The
    files are re-downloadable, hence a cache folder. Each dataset gets a sub-folder named after it.
    """
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if not base and sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA", "").strip()
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "hsframe" / "datasets"


def dataset_dir(card: DatasetCard, root: Path | None = None) -> Path:
    """The folder a dataset's files go in: ``data_dir()/<name>`` (or the card's ``data_folder``)."""
    return (root if root is not None else data_dir()) / card.folder_name


def missing_files(card: DatasetCard, root: Path | None = None) -> list[FileEntry]:
    """The card's files not present in its folder."""
    folder = dataset_dir(card, root)
    return [f for f in card.files if not (folder / f.name).is_file()]


def is_downloaded(card: DatasetCard, root: Path | None = None) -> bool:
    return not missing_files(card, root)


# --------------------------------------------------------------------------- reading cards


def read_card(path: str | os.PathLike) -> DatasetCard:
    """Read and validate one card file.

    Raises:
        HsframeError: unreadable YAML, not a mapping, a field missing or wrong, or a name that
            does not match the file name.
    """
    import yaml

    path = Path(path)
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is there
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)
    except OSError as exc:
        raise HsframeError(f"cannot read dataset card {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise HsframeError(f"dataset card {path} is not valid YAML: {exc}. Fix the syntax.") from None
    if not isinstance(raw, dict):
        raise HsframeError(f"dataset card {path} must be a YAML mapping of fields (name, title, files, ...).")
    try:
        card = DatasetCard.model_validate(raw)
    except ValidationError as exc:
        raise HsframeError(validation_message(exc, where=f"dataset card {path}")
                           + "\nFix the card (field reference: datasets/README.md).") from None
    if _file_key(card.name) != _file_key(path.stem):  # eolearn-ndvi may live in eolearn_ndvi.yaml
        raise HsframeError(
            f"dataset card {path}: field 'name' is {card.name!r} but the file is named {path.name}; "
            f"rename the file to {card.name}{path.suffix} or change the name."
        )
    card._path = path
    return card


def _file_key(name: str) -> str:
    """A card name as it must appear in its file name: ``-`` and ``_`` are the same there."""
    return name.replace("-", "_")


def scan_cards(dirs: list[Path] | None = None) -> tuple[dict[str, DatasetCard], list[str]]:
    """Every valid card by name, and one message per card (or folder) that could not be used.

    Later folders win over earlier ones for the same name; within one folder a name must be unique
    (it must equal the file name, so only ``a-b.yaml`` next to ``a_b.yaml``, or ``a.yaml`` next to
    ``a.yml``, can clash: both are then refused).
    """
    cards: dict[str, DatasetCard] = {}
    problems: list[str] = []
    for folder in card_dirs() if dirs is None else dirs:
        if not folder.is_dir():
            problems.append(f"dataset card folder {folder} (from {CARDS_ENV}) does not exist; fix {CARDS_ENV}.")
            continue
        here: dict[str, list[DatasetCard]] = {}
        for path in sorted(p for p in folder.iterdir() if p.suffix in CARD_SUFFIXES and p.is_file()):
            try:
                card = read_card(path)
            except HsframeError as exc:
                problems.append(str(exc))
                continue
            here.setdefault(card.name, []).append(card)
        for name, same in here.items():
            if len(same) > 1:
                files = ", ".join(str(c.path) for c in same)
                problems.append(f"dataset '{name}' is described by {len(same)} cards in {folder} ({files}); "
                                "keep one of them.")
                continue
            cards[name] = same[0]
    return cards, problems


def load_cards(dirs: list[Path] | None = None) -> dict[str, DatasetCard]:
    """Every card by name; any bad card is an error (use :func:`scan_cards` to skip bad ones)."""
    cards, problems = scan_cards(dirs)
    if problems:
        raise HsframeError("\n".join(problems))
    return cards


def get_card(name: str, cards: dict[str, DatasetCard] | None = None) -> DatasetCard:
    """The card called ``name``; an unknown name is an error that suggests the nearest one."""
    if cards is None:
        cards, _ = scan_cards()
    if name in cards:
        return cards[name]
    close = difflib.get_close_matches(name, list(cards), n=1, cutoff=0.5)
    if not close:  # "pavia" -> pavia_centre / pavia_university
        close = [c for c in sorted(cards) if c.startswith(name) or name in c][:1]
    hint = f" Did you mean '{close[0]}'?" if close else ""
    available = ", ".join(sorted(cards)) or "(none)"
    raise HsframeError(f"unknown dataset '{name}'.{hint} Available: {available} (see `hsframe datasets list`).")


# --------------------------------------------------------------------------- messages


def missing_message(card: DatasetCard, missing: list[FileEntry], root: Path | None = None) -> str:
    """What to do when files are missing: download command, URLs, and the folder to put them in."""
    folder = dataset_dir(card, root)
    where = f"put them in {folder}/ (set {DATA_ENV} to use another data folder than {folder.parent})"
    if card.manual_download:
        names = ", ".join(f.name for f in missing)
        steps = " ".join((card.download_instructions or "").split())
        return (
            f"dataset '{card.name}' is not available: {names} missing. It must be downloaded by hand "
            f"(source: {card.source}). {steps}\nThen {where}. `hsframe datasets info {card.name}` shows the details."
        )
    lines = [f"dataset '{card.name}' is not downloaded; missing:"]
    for f in missing:
        lines.append(f"  - {f.name}: {', '.join(f.urls)}")
    lines.append(f"Run `hsframe datasets download {card.name}`, or download the files yourself and {where}.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- loading scenes

_CARD_DEFAULT: Any = object()  # "use the card's purity threshold" (None means: no threshold)


def load_scene(
    card: DatasetCard | str,
    *,
    purity_threshold: float | None = _CARD_DEFAULT,
    root: Path | None = None,
) -> "Scene":
    """Open a downloaded dataset as a Scene with the card's class names, palette and RGB bands.

    Args:
        card: a card or a card name.
        purity_threshold: abundance-labelled datasets only: pixels whose largest abundance is
            below it become unlabeled (0); None keeps every pixel; default: the card's value.
        root: data folder to use instead of :func:`data_dir`.

    Raises:
        HsframeError: files missing (naming them, their URLs, the folder and the download
            command), unreadable, or not of the shape the card states.
    """
    if isinstance(card, str):
        card = get_card(card)
    if card.kind != "hsi":
        raise HsframeError(
            f"dataset '{card.name}' is a {card.kind}, not a hyperspectral scene: open it with "
            f"hsframe.data.catalog.load_dataset('{card.name}')."
        )
    if purity_threshold is _CARD_DEFAULT:
        purity_threshold = card.labels.purity_threshold
    elif purity_threshold is not None and card.labels.encoding != "abundances":
        raise HsframeError(
            f"dataset '{card.name}' has class-id labels; purity_threshold only applies to abundance-labelled datasets."
        )
    elif purity_threshold is not None and not 0 < purity_threshold <= 1:
        raise HsframeError(f"purity_threshold must be in (0, 1], got {purity_threshold}.")
    missing = missing_files(card, root)
    if missing:
        raise HsframeError(missing_message(card, missing, root))
    folder = dataset_dir(card, root)
    assert card.cube is not None  # kind hsi
    cube_path, labels_path = folder / card.cube.file, folder / card.labels.file

    from hsframe.data.readers import open_scene

    # The readers arrange every layout (a bands x pixels matrix, abundance labels) as `hsframe run` does for files.
    matrix = card.cube.layout in PIXEL_LAYOUTS
    try:
        scene = open_scene(
            cube_path,
            labels_path,
            cube_key=card.cube.key,
            labels_key=card.labels.key,
            axis_order="bands_pixels" if matrix else card.cube.layout,  # type: ignore[arg-type]
            pixel_order="C" if card.cube.layout == "bands_x_pixels_C" else "F",
            shape=card.shape[:2] if matrix else None,  # type: ignore[arg-type]
            labels_encoding=card.labels.encoding,
            purity_threshold=purity_threshold,
            class_names=card.class_names,
            name=card.name,
        )
    except HsframeError as exc:
        raise _reader_error(card, exc) from None
    if card.cube.scale is not None:
        scene.cube *= scene.cube.dtype.type(card.cube.scale)
    _check_scene(card, scene, cube_path, labels_path)
    scene.class_names = list(card.class_names)
    scene.palette = [tuple(c) for c in card.palette]  # type: ignore[misc]
    scene.rgb_bands = tuple(card.rgb_bands)  # type: ignore[assignment]
    return scene


def _check_scene(card: DatasetCard, scene: "Scene", cube_path: Path, labels_path: Path) -> None:
    if tuple(scene.cube.shape) != tuple(card.shape):
        raise HsframeError(
            f"{cube_path} gives a {tuple(scene.cube.shape)} cube but card {card.name} states (H, W, B) "
            f"{tuple(card.shape)}. The file may be another version (e.g. uncorrected, with all bands): "
            f"delete it and run `hsframe datasets download {card.name} --force`, or fix the card."
        )
    _check_labels(card, scene.labels, labels_path)


def _check_labels(card: DatasetCard, labels: "np.ndarray", labels_path: Path) -> None:
    top = int(labels.max(initial=0))
    if top > card.num_classes:
        raise HsframeError(
            f"labels in {labels_path} go up to class {top} but card {card.name} has {card.num_classes} classes. "
            "Check that the label file belongs to this dataset, or fix the card."
        )


# --------------------------------------------------------------------------- loading series and volumes


def load_dataset(card: DatasetCard | str, *, root: Path | None = None, **options: Any) -> "Scene | FrameSeries | LabeledVolume":
    """Open a downloaded dataset of any kind: a Scene (hsi), a FrameSeries (sequence) or a LabeledVolume (volume).

    ``options`` go to :func:`load_scene` (hsi: ``purity_threshold``); series and volumes take none.
    """
    if isinstance(card, str):
        card = get_card(card)
    if card.kind == "hsi" and card.tiles is not None and not options:
        return load_scene_set(card, root=root)
    if card.kind == "hsi" and card.tiles is None:
        return load_scene(card, root=root, **options)
    if options:
        raise HsframeError(
            f"dataset '{card.name}' ({card.kind}) takes no loader options, got {sorted(options)}. "
            "Remove them from data.dataset_options (or write a card of your own; see datasets/README.md)."
        )
    if card.kind == "sequence":
        return load_frame_series(card, root=root)
    return load_labeled_volume(card, root=root)


def load_scene_set(card: DatasetCard | str, *, root: Path | None = None) -> "SceneSet":
    """Open a downloaded scene set (a card with ``tiles``): every tile its lists name, with the published split.

    Raises:
        HsframeError: a list or a tile missing (named), tiles of different band counts, a list with an unknown
            column, or tiles not of the card's band count.
    """
    from hsframe.data.scene_set import open_tile_set
    from hsframe.data.tile_lists import read_pairs_csv

    card, folder = _files_of(card, "hsi", root)
    tiles = card.tiles
    assert tiles is not None
    pairs, subsets = [], {}
    for subset, csv_file in tiles.lists.items():
        for image, labels in read_pairs_csv(folder / csv_file):
            if labels is None:
                raise HsframeError(f"dataset '{card.name}': tile list {folder / csv_file} has no mask column; the card's lists "
                                   "must name each tile's labels")
            pairs.append((image, labels))
            subsets[image.name] = subset
    try:
        data = open_tile_set(pairs, name=card.name, class_names=list(card.class_names), nodata=tiles.nodata, scale=tiles.scale,
                             band_stats=folder / tiles.band_stats if tiles.band_stats else None, subsets=subsets,
                             stored_bands=card.shape[2])
    except HsframeError as exc:
        raise _reader_error(card, exc) from None
    _check_labels(card, data.labels, folder)
    data.class_names = list(card.class_names)
    data.palette = [tuple(c) for c in card.palette]
    data.rgb_bands = tuple(card.rgb_bands) if card.rgb_bands else None  # type: ignore[assignment]
    return data


def _files_of(card: DatasetCard | str, kind: str, root: Path | None) -> tuple[DatasetCard, Path]:
    """The card (of ``kind``) and its folder, once every file is there."""
    if isinstance(card, str):
        card = get_card(card)
    if card.kind != kind:
        raise HsframeError(
            f"dataset '{card.name}' is of kind {card.kind}, not {kind}: open it with "
            f"hsframe.data.catalog.load_dataset('{card.name}')."
        )
    missing = missing_files(card, root)
    if missing:
        raise HsframeError(missing_message(card, missing, root))
    return card, dataset_dir(card, root)


def _reader_error(card: DatasetCard, exc: HsframeError) -> HsframeError:
    where = f"card {card.path}" if card.path else "a card built in code"
    msg = f"dataset '{card.name}' ({where}): {exc}"
    if any(opt in msg for opt in ("data.cube_key", "data.labels_key", "data.label_remap", "data.zero_label", "data.shape")):
        msg += ("\n(In a card, data.cube_key is cube.key or data.key, data.labels_key is labels.key, data.label_remap is "
                "labels.remap, data.zero_label is labels.zero_label and data.shape is shape.)")
    return HsframeError(msg)


def _check_shape(card: DatasetCard, got: tuple[int, ...], path: Path) -> None:
    want = card.loaded_shape
    if tuple(got) != want:
        axes = ", ".join(card.shape_axes)
        raise HsframeError(
            f"{path} gives {card.kind} data of shape ({axes}) {tuple(got)} but card {card.name} states {want}. "
            f"The file may be another version: delete it and run `hsframe datasets download {card.name} --force`, "
            "or fix the card's shape (and data.key)."
        )


def load_frame_series(card: DatasetCard | str, *, root: Path | None = None) -> "FrameSeries":
    """Open a downloaded ``kind: sequence`` dataset as a FrameSeries with the card's classes, palette and timestamps.

    Raises:
        HsframeError: files missing (what to download, and where to put it), unreadable, or frames
            not of the card's shape ``(T, H, W, C)``.
    """
    from hsframe.data.volume_readers import open_frame_series

    def open_series(card: DatasetCard, folder: Path, data_path: Path, **common: Any) -> "FrameSeries":
        return open_frame_series(data_path, frames_key=card.data.key,
                                 timestamps=folder / card.timestamps if card.timestamps else None, **common)

    return _load_card_data(card, "sequence", root, open_series, "frames")


def load_labeled_volume(card: DatasetCard | str, *, root: Path | None = None) -> "LabeledVolume":
    """Open a downloaded ``kind: volume`` dataset as a LabeledVolume with the card's classes and palette.

    Raises:
        HsframeError: files missing (what to download, and where to put it), unreadable (NIfTI
            needs nibabel), or a volume not of the card's shape ``(C, D, H, W)``.
    """
    from hsframe.data.volume_readers import open_labeled_volume

    def open_volume(card: DatasetCard, folder: Path, data_path: Path, **common: Any) -> "LabeledVolume":
        return open_labeled_volume(data_path, volume_key=card.data.key, **common)

    return _load_card_data(card, "volume", root, open_volume, "volume")


def _load_card_data(card: DatasetCard | str, kind: str, root: Path | None, opener: Any, array: str) -> Any:
    """Shared by the sequence and volume loaders: open with the card's labels, check the shape,
    scale the values, give the card's class names and palette. ``array``: the attribute holding the data."""
    import numpy as np

    card, folder = _files_of(card, kind, root)
    assert card.data is not None
    data_path = folder / card.data.file
    try:
        loaded = opener(card, folder, data_path, labels=folder / card.labels.file, labels_key=card.labels.key,
                        class_names=card.class_names, label_remap=card.labels.remap,
                        zero_label=card.labels.zero_label, name=card.name)
    except HsframeError as exc:
        raise _reader_error(card, exc) from None
    values = getattr(loaded, array)
    _check_shape(card, values.shape, data_path)
    if card.data.scale is not None:
        values *= np.float32(card.data.scale)
    loaded.class_names = list(card.class_names)
    loaded.palette = [tuple(c) for c in card.palette]
    return loaded


# --------------------------------------------------------------------------- registration


def _loader(card: DatasetCard):
    def load(seed: int | None = None, **options: Any) -> "Scene | FrameSeries | LabeledVolume":
        """Load the dataset (``seed`` is unused: real data is fixed); options go to ``load_dataset``."""
        return load_dataset(card, **options)

    load.__name__ = f"load_{card.name}"
    return load


def _shape_description(card: DatasetCard) -> str:
    if card.kind == "sequence":
        t, h, w, c = card.loaded_shape
        return f"{t} frames of {h}x{w}x{c}"
    if card.kind == "volume":
        c, d, h, w = card.loaded_shape
        return f"volume {d}x{h}x{w}, {c} channel{'s' if c != 1 else ''}"
    return "x".join(map(str, card.shape))


def dataset_specs(cards: dict[str, DatasetCard] | None = None) -> list[DatasetSpec]:
    """One DatasetSpec per card, of the card's kind and with the card's defaults."""
    if cards is None:
        cards, _ = scan_cards()
    specs = []
    for card in cards.values():
        how = "manual download" if card.manual_download else f"`hsframe datasets download {card.name}`"
        specs.append(
            DatasetSpec(
                name=card.name,
                load=_loader(card),
                kind=card.kind,
                description=f"{card.title} ({_shape_description(card)}, {card.num_classes} classes; {how}).",
                defaults=dict(card.defaults),
            )
        )
    return specs


@hookimpl
def register_datasets(register) -> None:
    """Register every valid card; a broken card is reported and skipped, never fatal to the others."""
    cards, problems = scan_cards()
    for problem in problems:
        print(f"Warning: {problem}", file=sys.stderr)
    for spec in dataset_specs(cards):
        register(spec)
