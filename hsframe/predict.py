"""`hsframe predict`: a logged run's model and features applied to a whole scene.

run id -> (config, preprocessor, model) from MLflow -> scene -> features -> classification map.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from hsframe.errors import HsframeError
from hsframe.plugins import Plugins
from hsframe.tracking import TrackingSettings


@dataclass
class Prediction:
    run_id: str
    dataset: str
    files: list[Path]
    counts: dict[int, int]
    how: str


def _client(settings: TrackingSettings) -> Any:
    import mlflow

    client = mlflow.MlflowClient(settings.tracking_uri)
    try:
        client.search_experiments(max_results=1)
    except Exception as exc:
        raise HsframeError(f"cannot reach the tracking store {settings.tracking_uri}: {type(exc).__name__}: {str(exc)[:300]}") from None
    return client


def _run_inputs(client: Any, run_id: str, tmp: Path) -> tuple[dict, Any, dict]:
    """The run's resolved config, fitted preprocessor and scene facts, downloaded from its artifacts."""
    import torch
    import yaml

    from hsframe.data.preprocess import Preprocessor

    try:
        run = client.get_run(run_id)
    except Exception:
        raise HsframeError(f"no run '{run_id}' in the tracking store {client.tracking_uri}; "
                           f"list runs with `hsframe compare --tracking-uri {client.tracking_uri}` or `hsframe ui`") from None
    kind = run.data.params.get("data_kind", "hsi")
    if kind != "hsi":
        raise HsframeError(f"run '{run_id}' was trained on {kind} data ({run.data.params.get('sampling', '?')} samples); "
                           "`hsframe predict` maps hyperspectral scenes only. Load its model with "
                           f"mlflow.pytorch.load_model('runs:/{run_id}/model') and feed it (N, C, D, H, W) samples.")
    try:
        folder = Path(client.download_artifacts(run_id, "", str(tmp)))
        config = yaml.safe_load((folder / "config" / "resolved_config.yaml").read_text())
        state = torch.load(folder / "preprocess" / "preprocessor.pt", weights_only=True)
        facts = yaml.safe_load((folder / "preprocess" / "scene.json").read_text())
    except (OSError, TypeError) as exc:
        raise HsframeError(f"run '{run_id}' ({run.info.status}) lacks what prediction needs (config, preprocessor): {exc}. "
                           f"Only runs made by this hsframe version that FINISHED can predict.") from None
    return config, Preprocessor.from_state(state), facts


def _model(run_id: str, config: dict, plugins: Plugins, input_spec: Any, console: Console) -> Any:
    """The model's own module with the logged weights (it may know ``scene_forward``), else the
    exported module as logged."""
    import mlflow

    try:
        logged = mlflow.pytorch.load_model(f"runs:/{run_id}/model")
    except Exception as exc:
        raise HsframeError(f"run '{run_id}' has no logged model ({type(exc).__name__}: {str(exc)[:200]}); "
                           f"a run that FAILED or was KILLED before the end logs none") from None
    try:
        spec = plugins.model(config["model"])
        model = spec.build(input_spec, **config.get("model_options", {}))
        model.load_state_dict(logged.state_dict())
        return model
    except Exception as exc:  # model's package missing or changed: the exported module still predicts
        console.print(f"note: using the exported model as logged ({type(exc).__name__}: {str(exc)[:120]})", highlight=False)
        return logged


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
    import mlflow

    from hsframe.config import RunConfig, logged_config
    from hsframe.data.labels import classes_of
    from hsframe.data.resolve import resolve_dataset
    from hsframe.device import select_device
    from hsframe.figures import write_classification_map
    from hsframe.registry import InputSpec
    from hsframe.tasks import to_label_value
    from hsframe.tasks.scene import infer_scene_pixels

    client = _client(settings)
    mlflow.set_tracking_uri(settings.tracking_uri)  # load_model resolves runs:/ through the global URI
    with tempfile.TemporaryDirectory() as tmp:
        config, pre, facts = _run_inputs(client, run_id, Path(tmp))
    config = logged_config(config)
    cfg = RunConfig.model_validate(config)
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"dataset": dataset, "labels": labels})})
    scene = resolve_dataset(cfg, plugins).load()
    h, w, b = scene.shape
    if b != pre.in_bands:
        raise HsframeError(f"scene '{dataset}' has {b} bands, but run '{run_id}' was trained on data with {pre.in_bands} "
                           f"({facts['dataset']}); predict a scene from the same sensor and band set")
    device = select_device(cfg.train.device)
    features = pre.transform(scene.cube, device)
    p = cfg.data.patch_size
    input_spec = InputSpec(1, pre.out_bands, p, p, len(facts["class_names"]))
    model = _model(run_id, config, plugins, input_spec, console).to(device)
    pred, how = infer_scene_pixels(model, features, cfg, device, note=lambda msg: console.print(f"note: {msg}", highlight=False))
    pred_map = to_label_value(pred).reshape(h, w)
    ids = facts.get("label_ids")  # the training data's own id of each class (runs before it: 1..K)
    truth = classes_of(scene.label_values(scene.labels), ids)  # this scene's ground truth in the run's classes
    files = write_classification_map(out_dir, truth, pred_map, facts["class_names"],
                                     [tuple(c) for c in facts["palette"]], f"run {run_id[:8]} on {dataset}", label_ids=ids)
    if log_to_run:
        with mlflow.start_run(run_id=run_id):
            for f in files:
                mlflow.log_artifact(str(f), f"predictions/{Path(dataset).name}")
    counts = {int(k): int(v) for k, v in zip(*np.unique(to_label_value(pred, ids), return_counts=True))}
    return Prediction(run_id, Path(dataset).name, files, counts, how)
