"""`hsframe predict`: a logged run's model and features applied to a whole scene.

run id -> (config, preprocessor, model) from the store, none of them a pickle -> scene -> features ->
classification map: PNG + ``.npy`` in a folder, and/or a georeferenced file at the scene's transform and CRS
(:mod:`hsframe.map_files`). The model is read as :func:`hsframe.load_model` reads it (:mod:`hsframe.model_artifact`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console

from hsframe.errors import HsframeError
from hsframe.map_files import MAP_FORMATS, MAP_SUFFIXES, MapFormat, MapLayers, format_of
from hsframe.model_artifact import RunFiles, read_model, run_files
from hsframe.output_paths import check_output
from hsframe.plugins import Plugins
from hsframe.tracking import TrackingSettings


@dataclass
class Prediction:
    run_id: str
    dataset: str
    files: list[Path]
    counts: dict[int, int]
    how: str


@dataclass(frozen=True)
class MapTarget:
    """Where `hsframe predict` writes: a folder for the PNG figure and ``.npy`` array, and/or one georeferenced
    map file (GeoTIFF or ENVI classification, with the class probabilities beside it if asked)."""

    folder: Path | None
    file: Path | None = None
    format: MapFormat | None = None
    probabilities: bool = False

    @classmethod
    def from_options(cls, out: str | None, fmt: str | None, probabilities: bool, default_folder: Path) -> MapTarget:
        """``--out`` (a folder, or a file whose suffix names the format), ``--format`` and ``--probabilities``, checked."""
        path = Path(out) if out else default_folder
        by_suffix = format_of(path) if out else None
        chosen = MAP_FORMATS[fmt] if fmt else None
        if by_suffix is not None and chosen is not None and chosen is not by_suffix:
            raise HsframeError(f"--out {out} is a {by_suffix.name} file by its suffix, but --format {fmt} was given; "
                               f"end --out with {' or '.join(chosen.suffixes)}, or leave --format out")
        if probabilities and by_suffix is None and chosen is None:
            raise HsframeError("--probabilities are written as bands of a georeferenced map file: add --format geotiff "
                               "(or envi), or give --out map.tif")
        if by_suffix is not None:
            return cls(None, path, by_suffix, probabilities)
        if chosen is not None:
            return cls(path, path / f"classification_map{chosen.suffixes[0]}", chosen, probabilities)
        return cls(path)

    def check(self) -> None:
        """Before any work: every path can be written (exit 2, one line, no file left half-written)."""
        if self.folder is not None:
            check_output("--out", self.folder, folder=True)  # the map file, if any, goes inside it
        elif self.file is not None and self.format is not None:
            for path in self.format.files(self.file, self.probabilities):
                check_output("--out", path, suffixes=MAP_SUFFIXES)


def _check_kind(files: RunFiles) -> None:
    params = files.run.data.params
    kind = params.get("data_kind", "hsi")
    if kind != "hsi":
        raise HsframeError(f"run '{files.run_id}' was trained on {kind} data ({params.get('sampling', '?')} samples); "
                           "`hsframe predict` maps hyperspectral scenes only. Load its model with "
                           f"hsframe.load_model('{files.run_id}') and feed it (N, C, D, H, W) samples.")


def _run_inputs(files: RunFiles) -> tuple[dict, Any, dict]:
    """The run's resolved config, fitted preprocessor and scene facts, each read from its artifact without pickle."""
    from hsframe.config import RunConfig, logged_config
    from hsframe.data.preprocess import Preprocessor
    from hsframe.data.value_range import ValueRange
    from hsframe.tasks.scene import PREPROCESSOR_FILE

    def config(path: Path) -> dict:
        raw = logged_config(_mapping(yaml.safe_load(path.read_text())))
        RunConfig.model_validate(raw)  # a changed file fails here, named, not later
        return raw

    def facts(path: Path) -> dict:
        raw = _mapping(json.loads(path.read_text()))
        names = [str(c) for c in raw["class_names"]]
        ids = raw.get("label_ids")  # the training data's own id of each class (absent in runs before it: 1..K)
        if ids is not None and len(ids) != len(names):
            raise ValueError(f"{len(ids)} label ids for {len(names)} classes")
        trained = raw.get("value_range")  # absent in runs before it: no range check
        return {"dataset": str(raw["dataset"]), "class_names": names, "palette": [tuple(int(v) for v in c) for c in raw["palette"]],
                "label_ids": None if ids is None else [int(v) for v in ids],
                "value_range": None if trained is None else ValueRange.from_json(trained)}

    return (files.read("config/resolved_config.yaml", config), files.read(f"preprocess/{PREPROCESSOR_FILE}", Preprocessor.load),
            files.read("preprocess/scene.json", facts))


def _mapping(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping, found {type(value).__name__}")
    return value


def predict_run(
    run_id: str,
    dataset: str,
    labels: str | None,
    target: MapTarget | str | Path,
    plugins: Plugins,
    settings: TrackingSettings,
    console: Console,
    log_to_run: bool = False,
) -> Prediction:
    """``target``: a :class:`MapTarget`, or a folder for the PNG and ``.npy`` only."""
    from hsframe.config import RunConfig
    from hsframe.data.labels import classes_of, label_values
    from hsframe.data.resolve import resolve_dataset
    from hsframe.data.value_range import ValueRange
    from hsframe.device import select_device
    from hsframe.figures import false_colour, write_classification_map
    from hsframe.inference import gives_probabilities
    from hsframe.tasks import to_label_value
    from hsframe.tasks.scene import infer_scene_pixels, scene_probabilities

    if not isinstance(target, MapTarget):
        target = MapTarget(Path(target))
    with run_files(run_id, settings.tracking_uri) as stored:
        _check_kind(stored)
        model, card = read_model(stored, plugins)  # first: a run of an older hsframe is refused for what it is
        config, pre, facts = _run_inputs(stored)
    if target.probabilities and not gives_probabilities(model):
        raise HsframeError(f"run '{run_id}': its model ({type(model).__name__}) gives class votes, not probabilities; "
                           "leave out --probabilities (the class map is written either way)")
    cfg = RunConfig.model_validate(config)
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"dataset": dataset, "labels": labels})})
    if card.input.depth != pre.out_bands:
        raise HsframeError(f"run '{run_id}': its model takes {card.input.depth} feature bands but its preprocessor makes "
                           f"{pre.out_bands}; the run's artifacts were changed after the run; retrain the run")
    scene = resolve_dataset(cfg, plugins).load()
    h, w, b = scene.shape
    if b != pre.in_bands:
        raise HsframeError(f"scene '{dataset}' has {b} bands, but run '{run_id}' was trained on data with {pre.in_bands} "
                           f"({facts['dataset']}); predict a scene from the same sensor and band set")
    trained = facts["value_range"]
    if trained is not None and (seen := ValueRange.of(scene.cube)).differs_from(trained):
        console.print(f"warning: scene '{dataset}' has values in {seen.describe()}, but run {run_id[:8]} was trained on values in "
                      f"{trained.describe()} ({facts['dataset']}): the model sees another unit or scale (e.g. raw counts for "
                      "reflectance); convert the scene to the training data's units", highlight=False)
    device = select_device(cfg.train.device)
    features = pre.transform(scene.cube, device)
    model = model.to(device)
    note = lambda msg: console.print(f"note: {msg}", highlight=False)  # noqa: E731
    probabilities = None
    if target.probabilities:
        probabilities, how = scene_probabilities(model, features, cfg, device, note=note)
        pred = probabilities.argmax(0).reshape(-1)
    else:
        pred, how = infer_scene_pixels(model, features, cfg, device, note=note)
    pred_map = to_label_value(pred).reshape(h, w)
    ids = facts["label_ids"]
    files: list[Path] = []
    if target.folder is not None:
        truth = classes_of(scene.label_values(scene.labels), ids)  # this scene's ground truth in the run's classes (all 0: none)
        files += write_classification_map(target.folder, truth, pred_map, facts["class_names"], [tuple(c) for c in facts["palette"]],
                                          f"run {run_id[:8]} on {dataset}", label_ids=ids, rgb=false_colour(scene.cube, scene.rgb_bands))
    if target.file is not None and target.format is not None:
        if scene.georef is None:
            note(f"'{dataset}' states no georeferencing (GeoTIFF tags or ENVI map info): {target.file} has pixel coordinates only")
        layers = MapLayers(label_values(pred_map, ids), facts["class_names"], [tuple(c) for c in facts["palette"]],
                           ids or list(range(1, len(facts["class_names"]) + 1)), scene.georef, probabilities)
        files += target.format.write(target.file, layers)
    if log_to_run:
        import mlflow

        mlflow.set_tracking_uri(settings.tracking_uri)
        with mlflow.start_run(run_id=run_id):
            for f in files:
                mlflow.log_artifact(str(f), f"predictions/{Path(dataset).name}")
    counts = {int(k): int(v) for k, v in zip(*np.unique(to_label_value(pred, ids), return_counts=True))}
    return Prediction(run_id, Path(dataset).name, files, counts, how)
