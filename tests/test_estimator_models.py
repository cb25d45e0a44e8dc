"""Estimator models (``EstimatorSpec``): fitted by fit/predict through the same run path as torch models.

The plugins here are local test plugins, so the core is tested without the zoo: a nearest-centroid
estimator with a searched option that makes it good or useless, and one that records its seed.
"""
from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sklearn.base import BaseEstimator, ClassifierMixin

import hsframe
from hsframe import EstimatorSpec, hookimpl
from hsframe.cli import cli
from hsframe.errors import HsframeError
from hsframe.estimator_module import EstimatorModule
from hsframe.plugins import load_plugins
from hsframe.recording import MemoryRecorder

FAST = {"data": {"patch_size": 1, "pca_components": 13}, "eval": {"full_map": False}}


class Centroids(BaseEstimator, ClassifierMixin):
    """Nearest class mean; ``useful=False`` predicts class 0 for everything (a bad searched value)."""

    def __init__(self, useful: bool = True, random_state: int | None = None) -> None:
        self.useful, self.random_state = useful, random_state

    def fit(self, x, y):
        self.means_ = np.stack([x[y == k].mean(0) for k in np.unique(y)])
        self.classes_ = np.unique(y)
        self.seen_state_ = self.random_state
        return self

    def predict(self, x):
        if not self.useful:
            return np.zeros(len(x), np.int64)
        return self.classes_[((x[:, None, :] - self.means_[None]) ** 2).sum(-1).argmin(1)]


def nearest_centroid(spec, shrink: float | None = None):
    from sklearn.neighbors import NearestCentroid

    return NearestCentroid(shrink_threshold=shrink)


def plugins_with(*specs):
    mod = types.SimpleNamespace(register_models=hookimpl(lambda register: [register(s) for s in specs]))
    return load_plugins(extra={"estimators": mod})


CENTROIDS = EstimatorSpec(name="centroids", build=lambda spec, **o: Centroids(**o), search={"useful": (False, True)})


def test_the_validation_chooses_the_searched_option_and_the_run_records_like_any_model():
    rec = MemoryRecorder()
    summary = hsframe.run({**FAST, "model": "centroids"}, recorder=rec, plugins=plugins_with(CENTROIDS), quiet=True)
    run = rec.runs[summary.run_id]
    assert run.status == "FINISHED"
    assert run.params["chosen.useful"] == "True" and run.params["estimator"] == "Centroids"
    assert run.params["estimator_search"] == "useful: False, True" and "model_parameters" not in run.params
    table = run.artifacts["metrics/estimator_search.json"]
    assert table["useful"] == [False, True] and table["val_oa"][1] > table["val_oa"][0]
    assert [step for step, _ in run.metrics["val_oa"]] == [1]
    for key in ("test_oa", "test_aa", "test_kappa"):  # the same metrics, names and tables as a torch run
        assert key in summary.metrics
    assert summary.metrics["test_oa"] > 0.3 and "metrics/confusion_matrix.json" in run.artifacts
    assert {"model/estimator.skops", "model/spec.json"} <= set(run.artifacts)
    assert isinstance(run.model, EstimatorModule) and run.model.estimator.useful


def test_an_option_the_user_sets_is_not_searched():
    rec = MemoryRecorder()
    summary = hsframe.run({**FAST, "model": "centroids", "model_options": {"useful": False}}, recorder=rec,
                          plugins=plugins_with(CENTROIDS), quiet=True)
    run = rec.runs[summary.run_id]
    assert run.params["estimator_search"] == "none" and "chosen.useful" not in run.params
    assert run.model.estimator.useful is False


def test_the_run_seed_reaches_random_state():
    rec = MemoryRecorder()
    summary = hsframe.run({**FAST, "model": "centroids", "seed": 7}, recorder=rec, plugins=plugins_with(CENTROIDS), quiet=True)
    assert rec.runs[summary.run_id].model.estimator.seen_state_ == 7


@pytest.mark.parametrize("spec, says", [
    (EstimatorSpec(name="bad", build=lambda spec, **o: object()), "returned object, which has no fit, predict, get_params, set_params"),
    (EstimatorSpec(name="bad", build=lambda spec, **o: Centroids(**o), search={"nonsense": (1, 2)}),
     "cannot be built for .* options {'nonsense': 1}: .*unexpected keyword argument 'nonsense'"),
])
def test_a_bad_estimator_is_refused_before_any_run(spec, says):
    rec = MemoryRecorder()
    with pytest.raises(HsframeError, match=says):
        hsframe.run({**FAST, "model": "bad"}, recorder=rec, plugins=plugins_with(spec), quiet=True)
    assert rec.runs == {}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Two finished estimator runs in one SQLite store: a trusted scikit-learn type, and a type skops does not know."""
    store = f"sqlite:///{tmp_path_factory.mktemp('estimators') / 'mlflow.db'}"
    centroid = EstimatorSpec(name="centroid", build=nearest_centroid)
    plugins = plugins_with(centroid, CENTROIDS)
    ids = {name: hsframe.run({**FAST, "model": name}, tracking_uri=store, plugins=plugins, quiet=True).run_id
           for name in ("centroid", "centroids")}
    return store, ids, plugins


def test_load_model_gives_the_fitted_estimator_back(stored):
    store, ids, plugins = stored
    model = hsframe.load_model(ids["centroid"], tracking_uri=store, plugins=plugins)
    assert isinstance(model, EstimatorModule) and type(model.estimator).__name__ == "NearestCentroid"
    x = torch.randn(6, 1, 13, 1, 1)
    assert torch.equal(model(x).argmax(1), torch.as_tensor(model.estimator.predict(x.flatten(1).numpy())))


def test_a_type_neither_skops_nor_the_plugin_trusts_is_refused(stored):
    store, ids, plugins = stored
    with pytest.raises(HsframeError, match=r"neither skops nor .* trusts \(.*Centroids\)"):
        hsframe.load_model(ids["centroids"], tracking_uri=store, plugins=plugins)
    vouched = EstimatorSpec(name="centroids", build=CENTROIDS.build, search=CENTROIDS.search,
                            trusted_types=(f"{Centroids.__module__}.Centroids",))
    model = hsframe.load_model(ids["centroids"], tracking_uri=store, plugins=plugins_with(vouched))
    assert model.estimator.useful


def test_hsframe_predict_maps_a_scene_with_an_estimator(stored, tmp_path, monkeypatch):
    """`hsframe predict` as a user runs it; the test plugin is a local module, handed to the command in process."""
    store, ids, plugins = stored
    predict_module = sys.modules["hsframe.cli.predict"]  # the package's `predict` attribute is the click command

    monkeypatch.setattr(predict_module, "plugins_reporting_problems", lambda: plugins)
    r = CliRunner().invoke(cli, ["predict", "--run", ids["centroid"], "--dataset", "synthetic-pines", "--out", str(tmp_path),
                                 "--tracking-uri", store])
    assert r.exit_code == 0, r.output
    pred = np.load(tmp_path / "classification_map.npy")
    model = hsframe.load_model(ids["centroid"], tracking_uri=store, plugins=plugins)
    assert pred.shape == (145, 145) and len(np.unique(pred)) > 4 and model.estimator.classes_.size == 16


def test_hsframe_inspect_describes_an_estimator():
    """`hsframe inspect` on an installed estimator model: what it is, its input features and its search."""
    pytest.importorskip("hsframe_zoo", reason="the zoo plugin ships the svm_rbf estimator")
    r = subprocess.run([sys.executable, "-m", "hsframe", "inspect", "--model", "svm_rbf", "--input", "1,200,1,1", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["estimator"] == "StandardScaler -> SVC" and out["input_features"] == 200 and out["combinations"] == 16
    assert out["search"] == {"C": [1.0, 10.0, 100.0, 1000.0], "gamma": [0.001, 0.01, 0.1, 1.0]}
