"""The classical rows: svm_rbf and random_forest run the core's estimator path end to end on the embedded scene,
are stored without pickle and read back, and their options are checked like any model's."""
import numpy as np
import pytest

import hsframe
from hsframe.errors import HsframeError
from hsframe_zoo.classical import SVM_SEARCH

# The embedded 16-class scene (145 x 145, 200 bands), each pixel's spectrum; no map, to keep it short.
FAST = {"eval": {"full_map": False}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('zoo-estimators') / 'mlflow.db'}"
    return store, {m: hsframe.run({**FAST, "model": m}, tracking_uri=store, quiet=True) for m in ("svm_rbf", "random_forest")}


def test_svm_chooses_c_and_gamma_on_validation(runs):
    import mlflow

    store, summaries = runs
    run = mlflow.MlflowClient(store).get_run(summaries["svm_rbf"].run_id)
    params = run.data.params
    assert float(params["chosen.C"]) in SVM_SEARCH["C"] and float(params["chosen.gamma"]) in SVM_SEARCH["gamma"]
    assert params["estimator"] == "StandardScaler -> SVC" and params["cfg.data.patch_size"] == "1"
    assert run.data.metrics["best_val_oa"] == max(m.value for m in mlflow.MlflowClient(store).get_metric_history(run.info.run_id, "val_oa"))
    # A 16-class scene where predicting the largest class gives 0.24: the fitted SVM is far above it.
    assert summaries["svm_rbf"].metrics["test_oa"] > 0.5 and summaries["random_forest"].metrics["test_oa"] > 0.4


@pytest.mark.parametrize("name", ["svm_rbf", "random_forest"])
def test_the_stored_estimator_is_read_back_and_predicts_as_fitted(runs, name):
    store, summaries = runs
    model = hsframe.load_model(summaries[name].run_id, tracking_uri=store)
    x = np.random.default_rng(0).normal(size=(32, 200)).astype(np.float32)
    import torch

    assert (model(torch.as_tensor(x).reshape(32, 1, 200, 1, 1)).argmax(1).numpy() == model.estimator.predict(x)).all()


@pytest.mark.parametrize("name, option, says", [
    ("svm_rbf", {"C": 0}, "C must be positive"),
    ("random_forest", {"n_estimators": 0}, "n_estimators must be at least 1"),
    ("random_forest", {"depth": 3}, "Accepted model options: n_estimators, max_features, min_samples_leaf, n_jobs"),
])
def test_bad_options_are_refused_before_any_run(name, option, says, tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(HsframeError, match=says):
        hsframe.run({**FAST, "model": name, "model_options": option}, tracking_uri=store, quiet=True)
    assert not (tmp_path / "mlflow.db").exists() or not _runs(store)


def _runs(store):
    import mlflow

    client = mlflow.MlflowClient(store)
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def test_a_sweep_on_a_metric_the_estimator_does_not_record_is_refused(tmp_path):
    """An estimator records val_oa once (its fit), no train_loss: a sweep on train_loss fails before any trial."""
    from click.testing import CliRunner

    from hsframe.cli import cli

    space = tmp_path / "space.yaml"
    space.write_text("model_options.C: {log_float: [1.0, 100.0]}\n")
    r = CliRunner().invoke(cli, ["sweep", "--model", "svm_rbf", "--space", str(space), "--trials", "2", "--metric", "train_loss",
                                 "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--storage", f"sqlite:///{tmp_path / 'optuna.db'}"])
    assert r.exit_code == 2 and "model 'svm_rbf' records no train_loss per epoch (it records val_oa)" in r.output, r.output
    assert not (tmp_path / "mlflow.db").exists()


def test_a_search_without_validation_samples_is_refused():
    """A split that leaves no validation sample (a fixed training map alone) cannot choose C and gamma."""
    import torch

    from hsframe.data.patches import PatchSource
    from hsframe.engine.reporter import Reporter
    from hsframe.plugins import load_plugins
    from hsframe.registry import InputSpec

    spec = load_plugins().model("svm_rbf")
    fitting = spec.fitting()(spec, InputSpec(1, 4, 1, 1, 2), {})
    source, targets = PatchSource(torch.randn(4, 6, 6), 1), np.arange(36) % 2
    with pytest.raises(HsframeError, match="chooses C, gamma on the validation samples, and there are none"):
        fitting.fit(source, targets, np.arange(30), np.arange(0), hsframe.load_config({"model": "svm_rbf"}), torch.device("cpu"),
                    torch.Generator(), Reporter(quiet=True), lambda *a: None)
