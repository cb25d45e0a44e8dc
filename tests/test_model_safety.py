"""No pickle from the tracking store is ever deserialized: the model and features of a run are
safetensors + JSON, `hsframe.load_model` / `hsframe predict` rebuild the model through the installed
plugin, and a pickle planted in any artifact they read is refused in one line without running."""
import contextlib
import copy
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import hsframe
from hsframe.errors import HsframeError
from hsframe.model_artifact import SPEC, WEIGHTS
from hsframe.recording import MLflowRecorder
from hsframe.tracking import load_settings

TINY = {"train.epochs": 1, "data.patch_size": 9, "data.pca_components": 13, "train.batch_size": 32, "eval.full_map": False}


class Payload:
    """A pickle that, when loaded, creates ``marker``: what a tampered artifact would run instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def payload(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker))


class KeepingRecorder(MLflowRecorder):
    """The MLflow recorder, keeping a copy of the trained model it logs (to compare what is loaded back)."""

    def log_model(self, fitting, card):
        super().log_model(fitting, card)
        self.model = copy.deepcopy(fitting.predictor)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("safety")
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)  # the artifacts folder (./mlartifacts) lands there
        recorder = KeepingRecorder(load_settings(uri=store), "hsframe")
        summary = hsframe.run(TINY, recorder=recorder, quiet=True)
    return store, summary.run_id, tmp, recorder.model


def artifacts_dir(store: str, run_id: str) -> Path:
    import mlflow
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(mlflow.MlflowClient(store).get_run(run_id).info.artifact_uri))


def predict_cli(store: str, run_id: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != hsframe.PICKLE_SWITCH}  # MLflow's default: pickles allowed
    return subprocess.run([sys.executable, "-m", "hsframe", "predict", "--run", run_id, "--dataset", "synthetic-pines",
                           "--tracking-uri", store, "--out", str(cwd / "out")],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


@contextlib.contextmanager
def planted(path: Path, data: bytes):
    """``data`` in place of the file at ``path`` (created if absent), the file as it was afterwards."""
    before = path.read_bytes() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        yield
    finally:
        if before is None:
            path.unlink()
        else:
            path.write_bytes(before)


def legacy_run(store: str, run_id: str, tmp: Path) -> tuple[str, Path]:
    """A copy of the run as an older hsframe logged it (its config and features, and the model pickled by
    MLflow's pytorch flavor as the run's logged model); the run id and the model's local folder."""
    import mlflow
    from mlflow.utils.file_utils import local_file_uri_to_path

    client = mlflow.MlflowClient(store)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(store)  # log_model takes the global URI; restored below, so later tests keep theirs
    try:
        run = client.get_run(run_id)
        with mlflow.start_run(experiment_id=run.info.experiment_id, run_name="older-hsframe") as legacy:
            mlflow.log_params(run.data.params)
            for folder in ("config", "preprocess"):
                mlflow.log_artifacts(client.download_artifacts(run_id, folder, str(tmp)), folder)
            info = mlflow.pytorch.log_model(torch.nn.Linear(2, 2), name="model", serialization_format="pickle", pip_requirements=[])
        return legacy.info.run_id, Path(local_file_uri_to_path(mlflow.get_logged_model(info.model_id).artifact_location))
    finally:
        mlflow.set_tracking_uri(previous)


def test_the_planted_payload_runs_when_unpickled(tmp_path):
    """The payload the tests below plant is live: unpickling it creates the marker."""
    marker = tmp_path / "ran"
    pickle.loads(payload(marker))
    assert marker.exists()


@pytest.mark.parametrize("artifact,named", [
    (WEIGHTS, WEIGHTS),
    (SPEC, SPEC),
    ("preprocess/preprocessor.safetensors", "preprocess/preprocessor.safetensors"),
    ("preprocess/scene.json", "preprocess/scene.json"),
    ("config/resolved_config.yaml", "config/resolved_config.yaml"),
    ("legacy:data/model.pth", "model/MLmodel"),
    ("legacy:MLmodel", "model/MLmodel"),
])
def test_a_pickle_planted_in_an_artifact_predict_reads_is_never_run(trained, tmp_path, artifact, named):
    store, run_id, _, _ = trained
    marker = tmp_path / "pickle-ran"
    if artifact.startswith("legacy:"):
        run_id, folder = legacy_run(store, run_id, tmp_path)
        target = folder / artifact.removeprefix("legacy:")
    else:
        target = artifacts_dir(store, run_id) / artifact
    assert target.is_file(), target  # plant where the store really holds it
    with planted(target, payload(marker)):
        r = predict_cli(store, run_id, tmp_path)
    assert not marker.exists(), "the planted pickle ran"
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stdout + r.stderr
    assert len(lines) == 1 and lines[0].startswith("Error:") and named in lines[0], r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_load_model_gives_the_trained_model(trained):
    store, run_id, _, model = trained
    loaded = hsframe.load_model(run_id, tracking_uri=store)
    assert type(loaded) is type(model) and not loaded.training
    x = torch.randn(5, 1, 13, 9, 9)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_spec_says_how_to_rebuild(trained):
    store, run_id, _, _ = trained
    spec = json.loads((artifacts_dir(store, run_id) / SPEC).read_text())
    assert spec["model"] == "hybridsn" and spec["package"] == "hsframe-hybridsn" and spec["data_kind"] == "hsi"
    assert spec["input"] == {"channels": 1, "depth": 13, "height": 9, "width": 9, "num_classes": 16}
    assert spec["hsframe_version"] == hsframe.__version__ and spec["torch_version"] == torch.__version__.split("+")[0]


def test_model_plugin_not_installed_is_one_line_naming_the_package(trained, tmp_path):
    store, run_id, _, _ = trained
    env = {**os.environ, "HSFRAME_DISABLE_PLUGINS": "hybridsn"}
    r = subprocess.run([sys.executable, "-m", "hsframe", "predict", "--run", run_id, "--dataset", "synthetic-pines",
                        "--tracking-uri", store], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "model 'hybridsn'" in lines[0] and "pip install 'hsframe-hybridsn==0.1.0'" in lines[0]


@pytest.fixture
def reshaped_weights(trained):
    """The run's weights file with its first tensor of another shape (valid safetensors)."""
    from safetensors.torch import load_file, save_file

    store, run_id, _, _ = trained
    path = artifacts_dir(store, run_id) / WEIGHTS
    tensors = load_file(str(path))
    first = sorted(tensors)[0]
    tensors[first] = torch.zeros(3, 2)
    before = path.read_bytes()
    save_file(tensors, str(path), metadata={"format": "hsframe-model/1"})
    yield first
    path.write_bytes(before)


@pytest.mark.parametrize("installed,why", [("0.1.0", "changed after the run"),
                                           ("0.2.0", "trained with hsframe-hybridsn 0.1.0; pip install 'hsframe-hybridsn==0.1.0'")])
def test_weights_that_do_not_fit_the_architecture_are_one_line(trained, reshaped_weights, installed, why):
    from hsframe.model_artifact import load_model
    from hsframe.plugins import load_plugins

    store, run_id, _, _ = trained
    plugins = load_plugins()
    plugins.models["hybridsn"].version = installed  # the plugin as another release would build it
    with pytest.raises(HsframeError) as exc:
        load_model(run_id, store, plugins)
    message = str(exc.value)
    assert "\n" not in message and f"as hsframe-hybridsn {installed} builds it" in message and why in message
    assert f"{reshaped_weights} is (3, 2) in the file" in message


@pytest.mark.parametrize("entry", ["run", "load_config", "sweep", "load_model"])
def test_the_python_api_turns_mlflow_pickle_loading_off(monkeypatch, entry):
    from mlflow.environment_variables import MLFLOW_ALLOW_PICKLE_DESERIALIZATION

    monkeypatch.setenv(hsframe.PICKLE_SWITCH, "true")
    seen = []
    target = {"run": "hsframe.engine.api.run", "load_config": "hsframe.engine.api.load_config",
              "sweep": "hsframe.study.sweep.sweep", "load_model": "hsframe.model_artifact.load_model"}[entry]
    monkeypatch.setattr(target, lambda *a, **k: seen.append(MLFLOW_ALLOW_PICKLE_DESERIALIZATION.get()))
    getattr(hsframe, entry)("x")
    assert seen == [False]


def test_every_command_turns_mlflow_pickle_loading_off(monkeypatch):
    from mlflow.environment_variables import MLFLOW_ALLOW_PICKLE_DESERIALIZATION

    from hsframe.cli import main

    monkeypatch.setenv(hsframe.PICKLE_SWITCH, "true")
    seen = []

    def fake_predict(*args, **kwargs):
        seen.append(MLFLOW_ALLOW_PICKLE_DESERIALIZATION.get())
        raise HsframeError("stop here")

    monkeypatch.setattr("hsframe.predict.predict_run", fake_predict)
    monkeypatch.setattr(sys, "argv", ["hsframe", "predict", "--run", "x", "--dataset", "synthetic-pines"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and seen == [False]


def test_a_volume_run_is_loaded_by_load_model_and_predict_points_there(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from hsframe.cli import cli

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    summary = hsframe.run({"model": "orthoplane", "data.dataset": "synthetic-volumes", "data.dataset_options": {"n": 60, "size": 12},
                           "split.train_fraction": 0.5, "train.epochs": 1}, tracking_uri=store, quiet=True)
    model = hsframe.load_model(summary.run_id, tracking_uri=store)
    assert model(torch.randn(3, 1, 12, 12, 12)).shape[0] == 3
    r = CliRunner().invoke(cli, ["predict", "--run", summary.run_id, "--dataset", "synthetic-pines", "--tracking-uri", store])
    assert r.exit_code == 2 and f"hsframe.load_model('{summary.run_id}')" in r.output and "mlflow.pytorch" not in r.output
