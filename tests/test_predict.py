"""`hsframe predict`: a logged run applied to a scene, and its bad-input errors."""
import json
import socket

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import FAST, runs_of

from hsframe.cli import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pred")
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    out = tmp / "s.json"
    r = CliRunner().invoke(cli, ["run", *FAST, "--tracking-uri", store, "--summary-json", str(out)])
    assert r.exit_code == 0, r.output
    return store, json.loads(out.read_text())["run_id"], tmp


def predict(*args):
    return CliRunner().invoke(cli, ["predict", *args])


def test_predict_reproduces_the_runs_own_map_and_logs_it(trained, tmp_path):
    import mlflow

    store, run_id, _ = trained
    r = predict("--run", run_id, "--dataset", "synthetic-pines", "--tracking-uri", store, "--out", str(tmp_path), "--log")
    assert r.exit_code == 0, r.output
    ours = np.load(tmp_path / "classification_map.npy")
    assert ours.shape == (145, 145) and (tmp_path / "classification_map.png").stat().st_size > 10_000
    logged = np.load(mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="predictions/classification_map.npy", tracking_uri=store))
    assert np.array_equal(ours, logged)  # same weights, same features: the same map
    files = {a.path for a in mlflow.MlflowClient(store).list_artifacts(run_id, "predictions/synthetic-pines")}
    assert "predictions/synthetic-pines/classification_map.png" in files


def test_unknown_run(trained):
    store, _, _ = trained
    r = predict("--run", "0123456789abcdef", "--dataset", "synthetic-pines", "--tracking-uri", store)
    assert r.exit_code == 2 and "no run '0123456789abcdef'" in r.output


def test_band_count_mismatch(trained, tmp_path):
    store, run_id, _ = trained
    np.save(tmp_path / "cube.npy", np.random.default_rng(0).random((20, 20, 50), dtype=np.float32))
    r = predict("--run", run_id, "--dataset", str(tmp_path / "cube.npy"), "--tracking-uri", store)
    assert r.exit_code == 2 and "has 50 bands" in r.output and "trained on data with 200" in r.output


def test_unreachable_tracking_server_names_the_uri(trained):
    _, run_id, _ = trained
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    r = predict("--run", run_id, "--dataset", "synthetic-pines", "--tracking-uri", uri)
    assert r.exit_code == 2 and f"cannot reach tracking server {uri}" in r.output


def test_run_without_a_logged_model(store, monkeypatch):
    from test_run import _plugin_with_forward

    from hsframe.plugins import load_plugins

    plugins = load_plugins(extra={"exploding": _plugin_with_forward(RuntimeError("boom"))})
    monkeypatch.setattr("hsframe.plugins.get_plugins", lambda: plugins)
    CliRunner().invoke(cli, ["run", "--plugin", "exploding", *FAST, "--tracking-uri", store])
    [failed] = runs_of(store)
    assert failed.info.status == "FAILED"
    r = predict("--run", failed.info.run_id, "--dataset", "synthetic-pines", "--tracking-uri", store)
    assert r.exit_code == 2 and "has no logged model" in r.output
