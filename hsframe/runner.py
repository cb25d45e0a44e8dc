"""One run, end to end: config -> data (scene, volumes, series) -> split -> features -> model -> metrics -> MLflow.

Data flows one way; everything that can be checked without training is checked before the MLflow
run starts, so bad input costs nothing and leaves no run behind.
"""
from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from hsframe import __version__
from hsframe.config import RunConfig, flatten, load_yaml, parse_set, preset_overrides, resolve
from hsframe.data.scene import Scene
from hsframe.data.split import Split, block_split, fixed_split, stratified_split
from hsframe.errors import HsframeError
from hsframe.plugins import Plugins
from hsframe.registry import DatasetSpec, InputSpec, ModelSpec
from hsframe.tracking import TrackingSettings, check_store, git_commit, tracked_run

if TYPE_CHECKING:
    from hsframe.tasks import SampleTask


def build_config(
    plugins: Plugins,
    plugin: str | None = None,
    preset: str | None = None,
    config_file: str | Path | None = None,
    sets: list[str] | None = None,
) -> RunConfig:
    """framework defaults < plugin defaults < dataset defaults < preset < YAML file < --set (``--plugin`` wins over both)."""
    user: list[tuple[str, dict[str, Any]]] = []
    if config_file is not None:
        user.append((str(config_file), load_yaml(config_file)))
    if sets:
        user.append(("--set", parse_set(sets)))
    if plugin is not None:
        user.append(("--plugin", {"plugin": plugin}))
    first = resolve(user)  # tells which plugin and dataset the user asked for
    spec = plugins.model(first.plugin)
    layers: list[tuple[str, dict[str, Any]]] = [(f"plugin '{spec.name}' defaults", dict(spec.defaults))]
    dspec = plugins.datasets.get(first.data.dataset)
    if dspec is not None and dspec.defaults:  # the dataset's protocol (windows, split) over the model's recipe
        layers.append((f"dataset '{dspec.name}' defaults", dict(dspec.defaults)))
    if preset is not None:
        layers.append((f"preset '{preset}'", preset_overrides(preset, first.data.dataset)))
    return resolve(layers + user)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def resolve_dataset(cfg: RunConfig, plugins: Plugins) -> DatasetSpec:
    """A registered dataset by name, or a data file / folder (with ``data.labels``) by path."""
    name = cfg.data.dataset
    if name in plugins.datasets or name in plugins.conflicts:
        return plugins.dataset(name)
    path = Path(name).expanduser()
    if path.exists():
        return _file_dataset(cfg, path)
    if path.suffix or "/" in name:
        raise HsframeError(f"dataset file not found: {path}. Give an existing data file or folder, or a registered name (see `hsframe datasets list`).")
    return plugins.dataset(name)


# How a file is read, and the kind of data it gives (what a model must declare it serves).
_LAYOUT_KINDS = {"scene": "hsi", "volumes": "volume", "dense": "volume", "frames": "sequence"}


def file_layout(cfg: RunConfig, path: Path) -> str:
    """``data.layout``, or from the path when "auto": a folder holds volumes, NIfTI is dense, else a scene."""
    if cfg.data.layout != "auto":
        return cfg.data.layout
    if path.is_dir():
        return "volumes"
    if path.name.lower().endswith((".nii", ".nii.gz")):
        return "dense"
    return "scene"


def _file_dataset(cfg: RunConfig, path: Path) -> DatasetSpec:
    d = cfg.data
    layout = file_layout(cfg, path)
    if path.is_dir() and layout != "volumes":
        raise HsframeError(f"data.layout={layout} reads a file, but {path} is a folder (a folder of class sub-folders "
                           "is read with data.layout=volumes)")
    if layout == "scene" and (d.label_remap is not None or d.zero_label != "unlabeled"):
        raise HsframeError("data.label_remap and data.zero_label apply to volumes and series; a hyperspectral scene's "
                           "label map is read as stored (0 = unlabeled). Set data.layout if this file is not a scene.")
    labels_opts = {"class_names": None, "label_remap": d.label_remap, "zero_label": d.zero_label}

    def load() -> "Scene | Any":
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

    return DatasetSpec(name=path.name, load=load, kind=_LAYOUT_KINDS[layout], description=f"file {path} ({layout})", package="file")


def feature_bands(cfg: RunConfig, scene: Scene) -> int:
    """How many bands the model sees: PCA components, or the bands left after removal."""
    from hsframe.data.preprocess import parse_band_list

    bands = scene.shape[2]
    kept = bands - len(parse_band_list(cfg.data.remove_bands, bands))
    if kept < 1:
        raise HsframeError(f"data.remove_bands removes all {bands} bands of '{scene.name}'")
    k = cfg.data.pca_components
    if k is not None and k > kept:
        raise HsframeError(f"data.pca_components {k} is more than the {kept} bands of '{scene.name}'; use at most {kept}")
    return k or kept


def check_inputs(cfg: RunConfig, scene: Scene) -> None:
    h, w, _ = scene.shape
    p = cfg.data.patch_size
    if p > min(h, w):
        raise HsframeError(f"data.patch_size {p} is larger than the image ({h}x{w}); use a patch of at most {(min(h, w) - 1) // 2 * 2 + 1}")
    feature_bands(cfg, scene)


def make_split(cfg: RunConfig, scene: Scene) -> Split:
    s = cfg.split
    if s.method == "random":
        return stratified_split(scene.labels, scene.class_names, cfg.seed, train_fraction=s.train_fraction,
                                train_per_class=s.train_per_class, val_fraction=s.val_fraction)
    if s.method == "blocks":
        if s.train_fraction is None:
            raise HsframeError("split.method=blocks needs split.train_fraction")
        margin = cfg.data.patch_size // 2 if s.margin is None else s.margin
        return block_split(scene.labels, scene.class_names, cfg.seed, s.block_size, margin, s.train_fraction, s.val_fraction)
    if s.train_map is None:
        raise HsframeError("split.method=fixed needs split.train_map (a label-map file of the training pixels)")
    from hsframe.data.readers import read_array

    maps = []
    for path, key in ((s.train_map, s.train_map_key), (s.test_map, s.test_map_key)):
        if path is None:
            maps.append(None)
            continue
        arr = read_array(path, key, kind="labels").data
        if arr.shape != scene.labels.shape:
            raise HsframeError(f"split map {path} is {arr.shape}, but the scene is {scene.labels.shape}")
        maps.append(arr)
    return fixed_split(maps[0], maps[1], scene.class_names, cfg.seed, s.val_fraction, remap=s.remap, labels=scene.labels)


@dataclass
class RunSummary:
    run_id: str
    plugin: str
    package: str
    version: str
    dataset: str
    config: dict[str, Any]
    metrics: dict[str, float]
    per_class: list[dict[str, Any]]
    counts: dict[str, int]
    device: str
    seconds: float
    tracking_uri: str
    ui_command: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, default=str)


def load_data(cfg: RunConfig, plugins: Plugins, spec: ModelSpec) -> "Scene | SampleTask":
    """The run's data, checked against the config and the model's data kinds (no run started yet).

    A hyperspectral :class:`Scene` comes back as is; volumes and series come back as a
    :class:`~hsframe.tasks.SampleTask` (numbered samples).
    """
    from hsframe.tasks import make_task

    dspec = resolve_dataset(cfg, plugins)
    if dspec.kind not in spec.data_kinds:
        raise HsframeError(
            f"plugin '{spec.name}' serves {', '.join(spec.data_kinds)} data, but dataset '{dspec.name}' is {dspec.kind}; "
            f"pick a model that declares '{dspec.kind}' (see `hsframe plugins`)"
        )
    try:
        data = dspec.load(**cfg.data.dataset_options)
    except TypeError as exc:
        raise HsframeError(f"dataset '{dspec.name}' rejected data.dataset_options {cfg.data.dataset_options}: {exc}") from None
    data.name = dspec.name  # the registered name, so runs line up by dataset in the UI
    if isinstance(data, Scene):
        check_inputs(cfg, data)
        return data
    return make_task(cfg, data)


@dataclass
class Prepared:
    """What a run knows before it starts: the split, its leakage and the model's input."""

    split: Split
    leakage: dict[str, Any]
    input_spec: InputSpec
    shape_text: str


def prepare(cfg: RunConfig, data: "Scene | SampleTask") -> Prepared:
    from hsframe.data.leakage import leakage_report
    from hsframe.tasks import leakage_of, split_task

    if isinstance(data, Scene):
        split = make_split(cfg, data)
        leakage = leakage_report(split, data.labels.shape, cfg.data.patch_size,
                                 fit_on="train" if cfg.data.pca_fit == "train" else "all")
        p = cfg.data.patch_size
        spec = InputSpec(channels=1, depth=feature_bands(cfg, data), height=p, width=p, num_classes=data.num_classes)
        return Prepared(split, leakage, spec, str(data.shape))
    base, split = split_task(cfg, data)
    return Prepared(split, leakage_of(cfg, data, base), InputSpec(*data.sample_shape, num_classes=data.num_classes), data.describe())


def execute(cfg: RunConfig, plugins: Plugins, settings: TrackingSettings, console: Console,
            data: "Scene | SampleTask | None" = None) -> RunSummary:
    """One tracked run. ``data``: already loaded and checked by the caller (repeated seeds)."""
    started = time.perf_counter()
    spec = plugins.model(cfg.plugin)
    data = load_data(cfg, plugins, spec) if data is None else data
    prep = prepare(cfg, data)
    split, leakage = prep.split, prep.leakage
    check_store(settings)

    # Heavy imports only now: `hsframe --help` and `hsframe plugins` never pay for torch.
    from hsframe.training import seed_everything, select_device

    device = select_device(cfg.train.device)
    generator = seed_everything(cfg.seed)
    model = _build_model(spec, prep.input_spec, cfg.model)

    run_name = cfg.run_name or f"{spec.name}-{data.name}-s{cfg.seed}"
    tags = {"hsframe_version": __version__, "device": str(device), "plugin": spec.name, "dataset": data.name}
    commit = git_commit()
    if commit:
        tags["git_commit"] = commit
    if leakage["features_saw_test"]:
        tags["leakage"] = "features (PCA, scaling) fitted on the whole image, test pixels included"
    console.print(
        f"[bold]{spec.name}[/] ({spec.package} {spec.version}) on [bold]{data.name}[/] {prep.shape_text}, "
        f"device {device}; split {split.counts()}",
        highlight=False, soft_wrap=True,
    )
    unit = leakage.get("unit", "pixels")  # volumes and series say what their samples are
    console.print(
        f"leakage: {leakage['test_in_train_window']:.1%} of test {unit} lie inside a training patch window; "
        f"features fitted on {f'training {unit} only' if not leakage['features_saw_test'] else 'the whole image (LEAKING)'}",
        highlight=False, soft_wrap=True,
    )
    body_fn = _scene_body if isinstance(data, Scene) else _task_body
    with tracked_run(settings, cfg.experiment, run_name, tags) as run:
        run_id = run.info.run_id
        status = "FAILED"
        metrics: dict[str, float] = {}
        try:
            _log_run_params(cfg, spec, data, prep, plugins, run_id)
            body = body_fn(cfg, spec, data, split, model, device, generator, console)
            status = "FINISHED"
            metrics = body["metrics"]
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            plugins.manager.hook.run_finished(run_id=run_id, config=cfg.model_dump(), metrics=metrics, status=status)
    return RunSummary(
        run_id=run_id, plugin=spec.name, package=spec.package, version=spec.version, dataset=data.name,
        config=cfg.model_dump(), metrics=metrics, per_class=body["per_class"], counts=split.counts(),
        device=str(device), seconds=time.perf_counter() - started, tracking_uri=settings.tracking_uri,
        ui_command=settings.ui_command(), extra={"best_epoch": body["best_epoch"], "unit": leakage.get("unit", "pixels")},
    )


@dataclass
class SeedsSummary:
    """Repeated runs: one child run per seed under a parent run holding mean and std."""

    parent_run_id: str
    runs: list[RunSummary]
    mean: dict[str, float]
    std: dict[str, float]

    def to_json(self) -> str:
        return json.dumps({"parent_run_id": self.parent_run_id, "mean": self.mean, "std": self.std,
                           "runs": [r.__dict__ for r in self.runs]}, indent=2, default=str)


SEED_METRICS = ("test_oa", "test_aa", "test_kappa")


def execute_seeds(cfg: RunConfig, seeds: list[int], plugins: Plugins, settings: TrackingSettings, console: Console) -> SeedsSummary:
    """Run every seed as a child of one parent run; the parent logs ``<metric>_mean`` / ``_std``
    (sample standard deviation, ddof=1) of OA, AA and kappa over the seeds."""
    import mlflow

    if len(set(seeds)) != len(seeds) or not seeds:
        raise HsframeError(f"--seeds needs distinct seeds, got {seeds}")
    spec = plugins.model(cfg.plugin)
    # Load and check once, before the parent run exists: bad input must leave no run behind.
    data = load_data(cfg, plugins, spec)
    prepare(cfg.model_copy(update={"seed": seeds[0]}), data)
    check_store(settings)
    name = cfg.run_name or f"{spec.name}-{data.name}-seeds{','.join(map(str, seeds))}"
    tags = {"hsframe_version": __version__, "plugin": spec.name, "dataset": data.name, "hsframe.seeds": "parent"}
    with tracked_run(settings, cfg.experiment, name, tags) as parent:
        mlflow.log_params({"plugin": spec.name, "plugin_package": spec.package, "plugin_version": spec.version,
                           "dataset": data.name, "seeds": ",".join(map(str, seeds)), "n_seeds": len(seeds),
                           **{f"cfg.{k}": v for k, v in flatten(cfg.model_dump(exclude={"seed"})).items()}})
        runs = []
        for seed in seeds:
            console.rule(f"seed {seed}")
            runs.append(execute(cfg.model_copy(update={"seed": seed, "run_name": None}), plugins, settings, console, data))
        values = {m: np.array([r.metrics[m] for r in runs]) for m in SEED_METRICS}
        mean = {m: float(v.mean()) for m, v in values.items()}
        std = {m: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for m, v in values.items()}
        mlflow.log_metrics({**{f"{m}_mean": x for m, x in mean.items()}, **{f"{m}_std": x for m, x in std.items()}})
    return SeedsSummary(parent.info.run_id, runs, mean, std)


def predict_map(model: Any, features: Any, cfg: RunConfig, device: Any, console: Console, index: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """1-based class ids for the pixels at ``index`` (default: every pixel) of a ``(K, H, W)`` feature cube.

    A model with ``scene_forward`` computes the whole scene fully convolutionally in tiles (cheaper
    than a fraction of its pixels patch by patch); any other model goes patch by patch, with a note.
    """
    from hsframe.data.patches import PatchSource
    from hsframe.inference import has_scene_forward, predict_scene
    from hsframe.training import predict

    p, pad, amp, bs = cfg.data.patch_size, cfg.data.padding, cfg.train.amp, cfg.eval.batch_size
    if index is None or has_scene_forward(model):
        def note(msg: str) -> None:
            console.print(f"note: {msg}", highlight=False)

        full = predict_scene(model, features, p, pad, device, amp, tile=cfg.eval.tile, batch_size=bs, log=note)
        full = full.reshape(-1).numpy() + 1
        how = "scene_forward (tiled)" if has_scene_forward(model) else "patch by patch"
        return (full if index is None else full[index]), how
    return predict(model, PatchSource(features, p, pad), index, bs, device, amp) + 1, "patch by patch"


def _build_model(spec: ModelSpec, input_spec: InputSpec, options: dict[str, Any]):
    """Build, then check the model contract on a tiny batch before any run starts."""
    import torch

    model = spec.create(input_spec, options)
    shape = (2, *input_spec.as_tuple())
    who = f"model '{spec.name}' (package {spec.package})"
    model.eval()  # eval: no dropout draw, so the check leaves the seeded RNG untouched
    try:
        with torch.no_grad():
            out = model(torch.zeros(shape))
    except Exception as exc:
        raise HsframeError(f"{who}: the forward pass fails on a batch of shape {shape} (N, C, D, H, W): "
                           f"{type(exc).__name__}: {exc}") from None
    if tuple(out.shape) != (2, input_spec.num_classes):
        raise HsframeError(f"{who}: the forward pass returns {tuple(out.shape)} for input {shape}; "
                           f"the contract is (N, num_classes) = (2, {input_spec.num_classes}) logits")
    return model


def _log_run_params(cfg: RunConfig, spec: ModelSpec, data: "Scene | SampleTask", prep: Prepared, plugins: Plugins, run_id: str) -> None:
    import mlflow

    split = prep.split
    params = {f"cfg.{k}": v for k, v in flatten(cfg.model_dump()).items()}
    params.update({
        "plugin": spec.name, "plugin_package": spec.package, "plugin_version": spec.version,
        "dataset": data.name, "split": split.description,
        "n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test), "seed": cfg.seed,
        "optimizer": cfg.train.optimizer, "lr": cfg.train.lr, "epochs": cfg.train.epochs,
        "batch_size": cfg.train.batch_size, "input_shape": "x".join(map(str, prep.input_spec.as_tuple())),
    })
    if isinstance(data, Scene):
        h, w, b = data.shape
        params.update({"data_kind": "hsi", "dataset_shape": f"{h}x{w}x{b}", "patch_size": cfg.data.patch_size,
                       "pca_components": cfg.data.pca_components, "pca_fit": cfg.data.pca_fit})
    else:
        params.update({"data_kind": data.kind, "layout": data.layout, "dataset_shape": data.describe()[:250]})
    mlflow.log_params(params)
    mlflow.log_metrics({f"leakage_{k}": float(v) for k, v in prep.leakage.items() if isinstance(v, (int, float))})
    mlflow.log_dict(prep.leakage, "metrics/leakage_report.json")
    mlflow.log_dict(cfg.model_dump(), "config/resolved_config.yaml")
    plugins.manager.hook.run_started(run_id=run_id, config=cfg.model_dump())


def _fit(model, source, labels: np.ndarray, split: Split, cfg: RunConfig, device, generator, console: Console):
    """Train with per-epoch metrics in MLflow; the model ends on its best-validation weights."""
    import mlflow

    from hsframe.progress import TrainingProgress
    from hsframe.training import train

    mlflow.log_param("model_parameters", sum(p.numel() for p in model.parameters()))
    progress = TrainingProgress(console, cfg.train.epochs, -(-len(split.train) // cfg.train.batch_size))

    def on_epoch(epoch: int, record: dict[str, float]) -> None:
        mlflow.log_metrics(record, step=epoch)

    result = train(model, source, labels, split.train, split.val, cfg.train, device, generator, progress, on_epoch,
                   eval_batch_size=cfg.eval.batch_size)
    mlflow.log_metrics({"best_val_oa": result.best_val_oa, "best_epoch": result.best_epoch, "train_seconds": result.seconds})
    return result


def _log_evaluation(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> tuple[dict[str, float], list[dict[str, Any]], Any]:
    """Test metrics (OA, AA, kappa, per class), per-class table and confusion matrix; 1-based labels in."""
    import matplotlib.pyplot as plt
    import mlflow

    from hsframe.evaluation import evaluate
    from hsframe.figures import confusion_figure

    m = evaluate(y_true - 1, y_pred - 1, len(class_names))
    metrics = {"test_oa": m.oa, "test_aa": m.aa, "test_kappa": m.kappa}
    per_class = []
    for k, name in enumerate(class_names):
        acc = float(m.per_class[k])
        per_class.append({"class": k + 1, "name": name, "test_pixels": int(m.support[k]), "accuracy": acc})
        if not np.isnan(acc):
            metrics[f"test_class_acc/{k + 1:02d}_{_slug(name)}"] = acc
    mlflow.log_metrics(metrics)
    mlflow.log_table({key: [row[key] for row in per_class] for key in per_class[0]}, "metrics/per_class.json")
    mlflow.log_text(
        "class,name,test_pixels,accuracy\n" + "".join(f"{r['class']},{r['name']},{r['test_pixels']},{r['accuracy']:.6f}\n" for r in per_class),
        "metrics/per_class.csv",
    )
    mlflow.log_dict({"labels": class_names, "matrix": m.confusion.tolist()}, "metrics/confusion_matrix.json")
    fig = confusion_figure(m.confusion, class_names)
    mlflow.log_figure(fig, "figures/confusion_matrix.png")
    plt.close(fig)
    return metrics, per_class, m


def _log_model(model, example: np.ndarray, spec: ModelSpec) -> None:
    import mlflow
    import torch

    model_cpu = model.to("cpu").eval()
    mlflow.pytorch.log_model(
        model_cpu, name="model", input_example=example,
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"hsframe=={__version__}", f"{spec.package}=={spec.version}"],
    )


def _scene_body(cfg, spec, scene: Scene, split, model, device, generator, console) -> dict[str, Any]:
    """Hyperspectral scene: PCA features from training pixels, 2-D patches, a classification map."""
    import mlflow
    import torch

    from hsframe.data.patches import PatchSource
    from hsframe.data.preprocess import fit_preprocessor, parse_band_list
    from hsframe.figures import write_classification_map

    h, w, b = scene.shape
    # Features: every statistic from training pixels only (validation and test never seen).
    pixels = scene.cube.reshape(-1, b)
    fit_pixels = pixels[split.train] if cfg.data.pca_fit == "train" else pixels
    pre = fit_preprocessor(
        fit_pixels, cfg.data.pca_components, cfg.data.standardize, device,
        remove_bands=parse_band_list(cfg.data.remove_bands, b), band_standardize=cfg.data.band_standardize,
        whiten=cfg.data.whiten,
    )
    features = pre.transform(scene.cube, device)
    with tempfile.TemporaryDirectory() as tmp:  # what `hsframe predict` needs to redo these features
        torch.save(pre.state(), Path(tmp) / "preprocessor.pt")
        mlflow.log_artifact(str(Path(tmp) / "preprocessor.pt"), "preprocess")
    mlflow.log_dict({"dataset": scene.name, "bands": b, "class_names": scene.class_names,
                     "palette": [list(c) for c in scene.palette]}, "preprocess/scene.json")
    if pre.explained_variance_ratio is not None:
        mlflow.log_metric("pca_explained_variance", float(pre.explained_variance_ratio.sum()))
    source = PatchSource(features, cfg.data.patch_size, cfg.data.padding)
    labels_flat = scene.labels.reshape(-1).astype(np.int64)
    result = _fit(model, source, labels_flat, split, cfg, device, generator, console)

    # One inference pass serves both the test metrics and the full-scene map.
    t0 = time.perf_counter()
    index = np.arange(h * w) if cfg.eval.full_map else split.test
    pred, how = predict_map(model, features, cfg, device, console, index)
    mlflow.set_tag("predict_method", how)
    pred_map = np.zeros(h * w, dtype=np.int64)
    pred_map[index] = pred
    mlflow.log_metric("predict_seconds", time.perf_counter() - t0)
    metrics, per_class, m = _log_evaluation(labels_flat[split.test], pred_map[split.test], scene.class_names)

    shown = pred_map if cfg.eval.full_map else np.where(labels_flat > 0, pred_map, 0)
    with tempfile.TemporaryDirectory() as tmp:
        png, npy = write_classification_map(tmp, scene.labels, shown.reshape(h, w), scene.class_names, scene.palette,
                                            f"{spec.name} on {scene.name}: OA {m.oa:.4f}")
        mlflow.log_artifact(str(png), "figures")
        mlflow.log_artifact(str(npy), "predictions")
    # Two patches: torch.export would freeze a batch dimension of 1 into the logged model.
    _log_model(model, source.patches(split.test[:2]).cpu().numpy(), spec)
    return {"metrics": metrics, "per_class": per_class, "best_epoch": result.best_epoch}


def _task_body(cfg, spec, task: "SampleTask", split, model, device, generator, console) -> dict[str, Any]:
    """Volumes and series: per-channel standardization from training samples, windows cut on the fly."""
    import mlflow

    from hsframe.tasks import channel_stats, sample_source
    from hsframe.training import predict

    mean, std = channel_stats(task, split.train, cfg.data.standardize)
    mlflow.log_dict({"dataset": task.name, "layout": task.layout, "class_names": task.class_names,
                     "channel_mean": mean.tolist(), "channel_std": std.tolist()}, "preprocess/samples.json")
    source = sample_source(task, mean, std, device)
    result = _fit(model, source, task.labels, split, cfg, device, generator, console)

    t0 = time.perf_counter()
    full = cfg.eval.full_map and task.layout in ("dense", "frames-pixel")
    index = np.arange(len(task.labels)) if full else split.test
    pred = predict(model, source, index, cfg.eval.batch_size, device, cfg.train.amp) + 1
    mlflow.log_metric("predict_seconds", time.perf_counter() - t0)
    by_sample = np.zeros(len(task.labels), np.int64)
    by_sample[index] = pred
    metrics, per_class, m = _log_evaluation(task.labels[split.test], by_sample[split.test], task.class_names)
    _log_task_outputs(task, split, index, pred, by_sample, spec, m.oa, metrics)
    _log_model(model, source.samples(split.test[:2]).cpu().numpy(), spec)
    return {"metrics": metrics, "per_class": per_class, "best_epoch": result.best_epoch}


def _log_task_outputs(task: "SampleTask", split: Split, index: np.ndarray, pred: np.ndarray, by_sample: np.ndarray,
                      spec: ModelSpec, oa: float, metrics: dict[str, float]) -> None:
    """Predictions in the data's own shape: a map per pixel, a label volume, or a table per sample."""
    import mlflow

    from hsframe.figures import write_classification_map, write_volume_slices
    from hsframe.tasks import pixel_vote

    title = f"{spec.name} on {task.name}: OA {oa:.4f}"
    with tempfile.TemporaryDirectory() as tmp:
        if task.layout == "frames-pixel":
            # A pixel's windows vote for its class: the map, and the per-pixel accuracy on test pixels.
            pixels, voted = pixel_vote(task, index, pred)
            vote_map = np.zeros(task.split_labels.size, np.int64)
            vote_map[pixels] = voted
            test_pixels = np.unique(split.test % task.split_labels.size)
            vote_oa = float((vote_map[test_pixels] == task.split_labels.reshape(-1)[test_pixels]).mean())
            metrics["test_oa_pixel_vote"] = vote_oa
            mlflow.log_metric("test_oa_pixel_vote", vote_oa)
            png, npy = write_classification_map(tmp, task.split_labels, vote_map.reshape(task.split_labels.shape),
                                                task.class_names, task.data.palette,
                                                f"{spec.name} on {task.name}: vote over windows, test OA {vote_oa:.4f}")
            mlflow.log_artifact(str(png), "figures")
            mlflow.log_artifact(str(npy), "predictions")
        elif task.layout == "dense":
            predicted = by_sample.reshape(task.split_labels.shape)
            png, npy = write_volume_slices(tmp, task.split_labels, predicted, task.class_names, task.data.palette, title)
            mlflow.log_artifact(str(png), "figures")
            mlflow.log_artifact(str(npy), "predictions")
        else:
            sources = getattr(task.data, "sources", None)
            rows = ["sample,source,true,predicted"]
            for i in split.test:
                where = sources[i] if sources else (f"frames {task.starts[i]}-{task.starts[i] + task.sample_shape[1] - 1}"
                                                    if task.starts is not None else "")
                rows.append(f"{i},{where},{task.labels[i]},{by_sample[i]}")
            mlflow.log_text("\n".join(rows) + "\n", "predictions/test_predictions.csv")
