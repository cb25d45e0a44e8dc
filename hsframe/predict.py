"""`hsframe predict`: a logged run's model and features applied to a whole scene.

run id -> (config, preprocessor, model) from the store, none of them a pickle -> scene -> features ->
classification map. The model is read as :func:`hsframe.load_model` reads it (:mod:`hsframe.model_artifact`).
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
from hsframe.model_artifact import RunFiles, read_model, run_files
from hsframe.plugins import Plugins
from hsframe.tracking import TrackingSettings


@dataclass
class Prediction:
    run_id: str
    dataset: str
    files: list[Path]
    counts: dict[int, int]
    how: str


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
        return {"dataset": str(raw["dataset"]), "class_names": names, "palette": [tuple(int(v) for v in c) for c in raw["palette"]],
                "label_ids": None if ids is None else [int(v) for v in ids]}

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
    out_dir: str | Path,
    plugins: Plugins,
    settings: TrackingSettings,
    console: Console,
    log_to_run: bool = False,
) -> Prediction:
    from hsframe.config import RunConfig
    from hsframe.data.labels import classes_of
    from hsframe.data.resolve import resolve_dataset
    from hsframe.device import select_device
    from hsframe.figures import write_classification_map
    from hsframe.tasks import to_label_value
    from hsframe.tasks.scene import infer_scene_pixels

    with run_files(run_id, settings.tracking_uri) as stored:
        _check_kind(stored)
        model, card = read_model(stored, plugins)  # first: a run of an older hsframe is refused for what it is
        config, pre, facts = _run_inputs(stored)
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
    device = select_device(cfg.train.device)
    features = pre.transform(scene.cube, device)
    model = model.to(device)
    pred, how = infer_scene_pixels(model, features, cfg, device, note=lambda msg: console.print(f"note: {msg}", highlight=False))
    pred_map = to_label_value(pred).reshape(h, w)
    ids = facts["label_ids"]
    truth = classes_of(scene.label_values(scene.labels), ids)  # this scene's ground truth in the run's classes
    files = write_classification_map(out_dir, truth, pred_map, facts["class_names"],
                                     [tuple(c) for c in facts["palette"]], f"run {run_id[:8]} on {dataset}", label_ids=ids)
    if log_to_run:
        import mlflow

        mlflow.set_tracking_uri(settings.tracking_uri)
        with mlflow.start_run(run_id=run_id):
            for f in files:
                mlflow.log_artifact(str(f), f"predictions/{Path(dataset).name}")
    counts = {int(k): int(v) for k, v in zip(*np.unique(to_label_value(pred, ids), return_counts=True))}
    return Prediction(run_id, Path(dataset).name, files, counts, how)
