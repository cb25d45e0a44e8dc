"""One typed, validated run config, resolved in layers.

framework defaults < model defaults < dataset defaults < preset < YAML file (``--config``) < ``--set key=value``
(:func:`build_config`).
Keys are dotted (``train.epochs``); an unknown key or a bad value raises an HsframeError that names
the key and suggests the nearest valid one.
"""
from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hsframe.errors import HsframeError, folded_warnings, validation_message

if TYPE_CHECKING:
    from hsframe.plugins import Plugins
    from hsframe.splits.base import SplitMethod


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    dataset: str = Field("synthetic-pines", description="a registered dataset name, or a path to a cube file")
    dataset_options: dict[str, Any] = Field(default_factory=dict, description="passed to the dataset's loader, e.g. {purity_threshold: 0.6}")
    labels: str | None = Field(None, description="label-map file when `dataset` is a path")
    tiles: list[tuple[str, str]] | None = Field(
        None, description="a scene set given inline as [[image, labels], ...] file pairs (instead of a folder or a CSV in `dataset`)")
    cube_key: str | None = Field(None, description="array name inside the cube file (auto-detected when unique)")
    labels_key: str | None = Field(None, description="array name inside the labels file (auto-detected when unique)")
    axis_order: Literal["auto", "HWB", "BHW", "bands_pixels", "pixels_bands"] = Field(
        "auto", description="how the cube is stored: (H, W, B), (B, H, W), or a 2-D matrix of bands x pixels / pixels x bands "
        "(needs data.shape, pixels in data.pixel_order)")
    pixel_order: Literal["F", "C"] = Field(
        "F", description="bands_pixels / pixels_bands and 2-D abundances: F = pixel row + H * column (MATLAB's column-major "
        "order, as the unmixing benchmarks are released), C = row * W + column (numpy's row-major order)")
    shape: tuple[int, int] | None = Field(None, description="[H, W] of the image a bands_pixels / pixels_bands matrix holds "
                                          "(default: the label map's)")
    labels_encoding: Literal["class_ids", "abundances"] = Field(
        "class_ids", description="abundances: the labels file holds per-class abundances (H, W, K), (K, pixels) or "
        "(pixels, K); label = argmax + 1")
    purity_threshold: float | None = Field(None, gt=0, le=1, description="abundances: pixels whose largest abundance is "
                                           "below it are unlabeled")
    class_names: list[str] | None = Field(None, description="names of classes 1..K (default: the file's, a "
                                          "<labels>.classes.json beside the labels, else 'class <id>')")
    palette: list[tuple[int, int, int]] | None = Field(None, description="RGB (0-255) of classes 1..K in maps")
    nan_fill: float | None = Field(None, allow_inf_nan=False,
                                   description="replace NaN/Inf in the cube with this finite value (else they are an error)")
    out_of_core: bool | Literal["auto"] = Field(
        "auto", description="leave the scene's cube in its file (.npy/ENVI memmap, HDF5 dataset) and read it in blocks of rows: "
        "PCA is fitted on the training pixels (at most 100,000, a seeded sample) and the cube projected block by block; "
        "auto: when the cube would take more than 1 GiB as float32")
    strict_labels: bool = Field(False, description="refuse label ids other than 1..K (e.g. 1, 2, 1000) instead of renumbering "
                                "them as classes 1..K with the original ids kept for maps (hsframe run --strict-labels)")
    remove_bands: list[int] | str | None = Field(None, description="0-based bands to drop, e.g. [0, 1] or '103-107,149-162'")
    band_standardize: bool = Field(False, description="standardize each band before PCA (training-pixel statistics)")
    pca_components: int | None = Field(30, ge=1, description="null keeps every band")
    pca_fit: Literal["train", "all"] = Field("train", description="'all' fits PCA on the whole image as some papers do: the run is tagged as leaking")
    whiten: bool = Field(False, description="without PCA: decorrelate the bands (PCA whitening keeping every component)")
    standardize: bool = Field(True, description="standardize each feature (component or band) on training pixels")
    patch_size: int = Field(25, ge=1, description="odd side of the square patch around each pixel")
    padding: Literal["zero", "reflect"] = "zero"
    # Volumes and time series (see docs/data-kinds.md).
    layout: Literal["auto", "scene", "tiles", "volumes", "dense", "frames"] = Field(
        "auto", description="how a dataset file is read: scene (HSI cube + label map), tiles (a scene set: a folder with "
        "images/ and labels/ of same-named files, or a CSV of image,mask pairs), volumes (N labeled volumes: "
        "HDF5, .npy, or a folder of class sub-folders), dense (one volume + label volume), frames (T, H, W[, C] + labels); "
        "auto: a folder with images/ and labels/ or a .csv is tiles, another folder volumes, NIfTI dense, anything else a scene")
    patch_depth: int | None = Field(None, ge=1, description="dense volumes: odd depth of the 3-D patch; default patch_size (a cube)")
    window: int | None = Field(None, ge=1, description="time series: frames per window; default the whole series")
    stride: int = Field(1, ge=1, description="time series: frames between the starts of consecutive windows")
    zero_label: Literal["unlabeled", "class"] = Field(
        "unlabeled", description="volumes / series read from files: 'class' makes label 0 a class of its own (e.g. a mask's background)")
    label_remap: dict[int, int] | None = Field(
        None, description="volumes / series read from files: map stored label values to class ids 1..K (0 = unlabeled)")

    @model_validator(mode="after")
    def _odd_patch(self) -> "DataConfig":
        if self.patch_size % 2 == 0:
            raise ValueError(f"patch_size must be odd so the pixel sits at the centre (got {self.patch_size})")
        if self.patch_depth is not None and self.patch_depth % 2 == 0:
            raise ValueError(f"patch_depth must be odd so the voxel sits at the centre (got {self.patch_depth})")
        if self.purity_threshold is not None and self.labels_encoding != "abundances":
            raise ValueError("purity_threshold only applies to abundance labels: set data.labels_encoding=abundances")
        if self.shape is not None and min(self.shape) < 1:
            raise ValueError(f"shape is [H, W] of the image, both >= 1 (got {list(self.shape)})")
        from hsframe.data.classes import check_class_options  # numpy-free, like this module

        check_class_options(self.class_names, self.palette)
        return self


class SplitConfig(_Section):
    """``split.method`` picks a registered split method; its own typed options are the other ``split.*`` keys.

    The options are validated against the chosen method's ``Options`` model when the config is
    resolved (see :func:`resolve`), and the resolved section holds the method's options with their
    defaults filled in.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    method: str = Field("random", description="a registered split method: random, blocks, fixed, or one a plugin adds")


class TrainConfig(_Section):
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(256, ge=1)
    micro_batch_size: int | None = Field(
        None, ge=1, description="split each batch into chunks this size and accumulate gradients: the same update, less memory")
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    amp: bool = Field(True, description="bf16 autocast on CUDA")
    compile: bool = Field(False, description="torch.compile the model for training (inductor: a C++ compiler on the CPU, "
                          "triton on CUDA); the first batches pay the compilation")
    # Imbalance and schedule (hsframe/losses.py, sampling.py, schedules.py say exactly what each does).
    loss: Literal["cross_entropy", "weighted_cross_entropy", "focal"] = Field(
        "cross_entropy", description="weighted_cross_entropy and focal weight class c by 1/n_c (training counts), "
        "normalized to mean 1; focal also scales each sample by (1 - p)^focal_gamma")
    focal_gamma: float = Field(2.0, ge=0, description="focusing exponent of the focal loss (0 = weighted cross-entropy)")
    sampler: Literal["uniform", "balanced"] = Field(
        "uniform", description="balanced: every class drawn equally often per epoch (same epoch length), seeded")
    scheduler: Literal["none", "cosine", "plateau"] = Field(
        "none", description="cosine: from lr to min_lr over the epochs; plateau: lr * plateau_factor when val OA stalls")
    min_lr: float = Field(0.0, ge=0, description="the LR cosine ends at and plateau never goes below")
    plateau_patience: int = Field(5, ge=0, description="plateau: epochs without a better val OA before the LR drops")
    plateau_factor: float = Field(0.1, gt=0, lt=1, description="plateau: what the LR is multiplied by when it drops")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop once val OA has not improved for this many epochs (best weights kept); null = off")
    checkpoint_dir: str | None = Field(
        "checkpoints", description="folder of the per-epoch checkpoints (<dir>/<run_id>/last.pt, relative to the "
        "current folder) that `hsframe run --resume` continues from; deleted when a run finishes; null = none")


class EvalConfig(_Section):
    batch_size: int = Field(256, ge=1, description="patches per inference batch (validation, test and map)")
    full_map: bool = Field(True, description="predict every pixel (labeled or not) for the classification map")
    tile: int | None = Field(256, ge=1, description="side of the output tiles of fully convolutional inference (bounds memory); null = whole scene")


class RunConfig(_Section):
    model: str = Field("hybridsn", description="the model to train (see `hsframe plugins`)")
    seed: int = 0
    experiment: str | None = Field(None, description="MLflow experiment; default from mlflow.yml")
    run_name: str | None = None
    data: DataConfig = DataConfig()
    split: SplitConfig = SplitConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    model_options: dict[str, Any] = Field(default_factory=dict, description="options passed to the model's build()")


# Named recipes. "paper": the published HybridSN recipe (Roy et al., 2019).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "train.epochs": 100,
        "train.batch_size": 256,
        "train.optimizer": "adam",
        "train.lr": 1e-3,
        "data.patch_size": 25,
        "data.pca_components": 30,
        "split.train_fraction": 0.3,
    },
}
# The paper used 15 components for these scenes, 30 for Indian Pines.
_PAPER_PCA_15 = {"pavia_university", "salinas", "paviau", "salinas_corrected"}


def preset_overrides(name: str, dataset: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise HsframeError(f"unknown preset '{name}'. Available: {', '.join(sorted(PRESETS))}.")
    values = dict(PRESETS[name])
    if name == "paper" and dataset.lower() in _PAPER_PCA_15:
        values["data.pca_components"] = 15
    return values


def _section_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _section_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def valid_keys(splits: Mapping[str, "SplitMethod"] | None = None) -> list[str]:
    """Every dotted key a config may set: the sections' fields and every registered split method's options."""
    keys = _section_keys(RunConfig)
    for method in _splits(splits).values():
        keys += [f"split.{name}" for name in method.Options.model_fields if f"split.{name}" not in keys]
    return keys


def _splits(splits: Mapping[str, "SplitMethod"] | None) -> Mapping[str, "SplitMethod"]:
    """The split registry: the one given, else the process plugins' (a plugin may add methods)."""
    if splits is not None:
        return splits
    from hsframe import plugins

    return plugins.get_plugins().splits


def suggest_key(key: str, keys: list[str]) -> str:
    """`` Did you mean 'train.lr'?`` for a mistyped key, or "" when nothing is close."""
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.5)
    if not close:  # a bare key like "epochs" still finds "train.epochs"
        close = [k for k in keys if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1]][:1]
    return f" Did you mean '{close[0]}'?" if close else ""


def check_key(key: str, source: str, splits: Mapping[str, "SplitMethod"] | None = None) -> str:
    """``key`` in today's spelling, or an HsframeError naming it, its ``source`` and the nearest valid key."""
    key = canonical_key(key)
    _require_known(key, source, valid_keys(splits))
    return key


def _require_known(key: str, source: str, keys: list[str]) -> None:
    """``key`` (canonical) is one of ``keys`` or under ``model_options`` (free-form), else one line with the nearest."""
    if key.split(".")[0] != "model_options" and key not in keys:
        raise HsframeError(f"unknown config key '{key}' (from {source}).{suggest_key(key, keys)}")


def canonical_key(key: str) -> str:
    """Older spellings kept working: ``plugin`` is ``model``, ``model.X`` is ``model_options.X``."""
    if key == "plugin":
        return "model"
    if key.startswith("model."):
        return "model_options." + key[len("model."):]
    return key


def logged_config(config: dict[str, Any]) -> dict[str, Any]:
    """A config as a run logged it, in today's spelling (runs logged before ``model`` / ``model_options``)."""
    config = dict(config)
    if isinstance(config.get("model"), dict):
        config["model_options"] = config.pop("model")
    if "plugin" in config:
        config["model"] = config.pop("plugin")
    return config


def set_dotted(tree: dict[str, Any], key: str, value: Any, source: str, keys: list[str]) -> None:
    """Set dotted ``key`` in ``tree``; ``keys``: the valid keys (:func:`valid_keys`)."""
    key = canonical_key(key)
    parts = key.split(".")
    _require_known(key, source, keys)
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise HsframeError(f"config key '{key}' (from {source}) goes inside a value that is not a section")
    node[parts[-1]] = value


# Keys whose value is itself a mapping (not a section of further keys).
_MAPPING_VALUED = {"split.remap", "data.dataset_options", "data.label_remap"}


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value and f"{prefix}{key}" not in _MAPPING_VALUED:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# Keys that do not change the experiment a run is a repeat of: which seed, what it is called, where it ran.
NOT_IN_FINGERPRINT = ("seed", "run_name", "experiment", "train.device", "train.checkpoint_dir")


def fingerprint(cfg: RunConfig) -> str:
    """A short hash of the resolved config without :data:`NOT_IN_FINGERPRINT`: equal for the seeds of one condition."""
    import hashlib
    import json

    flat = {k: v for k, v in flatten(cfg.model_dump()).items() if k not in NOT_IN_FINGERPRINT}
    text = json.dumps(flat, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["train.lr=1e-3", "data.padding=reflect"]`` -> typed values (parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise HsframeError(f"--set expects key=value, got '{item}' (for example --set train.epochs=5)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        out[key.strip()] = _number(value)
    return out


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string; researchers mean the number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def read_yaml_mapping(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A YAML file holding a mapping, or an HsframeError that names the file."""
    path = Path(path)
    if not path.is_file():
        raise HsframeError(f"{what} not found: {path}")
    with folded_warnings():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError as exc:
            raise HsframeError(f"{what} {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                               f"give a YAML file") from None
        except OSError as exc:
            raise HsframeError(f"cannot read {what} {path}: {exc.strerror or exc}; check its permissions") from None
        except yaml.YAMLError as exc:
            raise HsframeError(f"{what} {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise HsframeError(f"{what} {path} must hold a mapping of keys, got {type(data).__name__}")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error, which spans several lines with a caret drawing, as ``line L, column C: problem``."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    opened = f" ({context} at line {start.line + 1}, column {start.column + 1})" if context and start is not None else ""
    return where + " ".join(str(problem).split()) + opened


def load_yaml(path: str | Path) -> dict[str, Any]:
    return flatten(read_yaml_mapping(path))


def resolve(layers: list[tuple[str, Mapping[str, Any]]], splits: Mapping[str, "SplitMethod"] | None = None) -> RunConfig:
    """Apply ``(source, {dotted_key: value})`` layers in order over the framework defaults.

    ``splits``: the split registry the ``split.*`` keys are checked against (default: the process
    plugins'). Keys of another split method than the chosen one are accepted and dropped, so a
    dataset's block-split defaults do not stop a user from choosing ``split.method=random``.
    """
    splits = _splits(splits)
    keys = valid_keys(splits)
    tree: dict[str, Any] = RunConfig().model_dump()
    for source, values in layers:
        for key, value in values.items():
            set_dotted(tree, key, copy.deepcopy(value), source, keys)
    tree["split"] = _split_section(tree["split"], splits)
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as exc:
        raise HsframeError(validation_message(exc)) from None


def _split_section(section: dict[str, Any], splits: Mapping[str, "SplitMethod"]) -> dict[str, Any]:
    """``{"method": m, **options}``: the chosen method's options, typed, with their defaults."""
    name = section.get("method")
    if not isinstance(name, str) or name not in splits:  # a list or a mapping is no name (and not hashable)
        close = difflib.get_close_matches(str(name), list(splits), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise HsframeError(f"unknown split method '{name}' (split.method).{hint} Available: {', '.join(sorted(splits))}.")
    try:
        options = splits[name].options(section)
    except ValidationError as exc:
        raise HsframeError(validation_message(exc, prefix="split.")) from None
    return {"method": name, **options.model_dump()}


def build_config(
    plugins: "Plugins",
    model: str | None = None,
    preset: str | None = None,
    config_file: str | Path | None = None,
    sets: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunConfig:
    """The run config, layered: framework defaults < model defaults < dataset defaults < preset <
    YAML file < ``overrides`` (a mapping, nested or dotted) < ``--set`` < ``model``."""
    user: list[tuple[str, dict[str, Any]]] = []
    if config_file is not None:
        user.append((str(config_file), load_yaml(config_file)))
    if overrides:
        user.append(("the given mapping", flatten(overrides)))
    if sets:
        user.append(("--set", parse_set(sets)))
    if model is not None:
        user.append(("--model", {"model": model}))
    first = resolve(user, plugins.splits)  # tells which model and dataset the user asked for
    spec = plugins.model(first.model)
    layers: list[tuple[str, dict[str, Any]]] = [(f"model '{spec.name}' defaults", dict(spec.defaults))]
    dspec = plugins.datasets.get(first.data.dataset)
    if dspec is not None and dspec.defaults:  # the dataset's protocol (windows, split) over the model's recipe
        layers.append((f"dataset '{dspec.name}' defaults", dict(dspec.defaults)))
    if preset is not None:
        layers.append((f"preset '{preset}'", preset_overrides(preset, first.data.dataset)))
    return resolve(layers + user, plugins.splits)
