"""`hsframe run` end to end on the embedded scene, recorded in a temporary MLflow store."""
import io
import json
import types

import pytest
from click.testing import CliRunner
from conftest import FAST, runs_of
from rich.console import Console

from hsframe import ModelSpec, hookimpl
from hsframe.cli import cli
from hsframe.metrics import slug
from hsframe.plugins import load_plugins
from hsframe.progress import TrainingProgress


def invoke(*args):
    return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    summary = tmp / "summary.json"
    result = invoke("--model", "hybridsn", *FAST,
                    "--tracking-uri", store, "--summary-json", str(summary))
    return result, store, json.loads(summary.read_text()) if summary.exists() else None


def test_run_prints_summary_and_writes_json(default_run):
    result, store, summary = default_run
    assert result.exit_code == 0, result.output
    for text in ("OA", "AA", "kappa", "Alfalfa", "Stone-Steel-Towers", "MLflow run id", "hsframe ui --tracking-uri sqlite:///"):
        assert text in result.output
    assert "epoch 1/4" in result.output and "val OA" in result.output  # plain lines when not a TTY
    assert summary["model"] == "hybridsn" and summary["dataset"] == "synthetic-pines"
    assert summary["run_id"] in result.output
    assert 0 <= summary["metrics"]["test_oa"] <= 1
    assert summary["config"]["train"]["epochs"] == 4
    assert len(summary["per_class"]) == 16


def test_run_is_recorded_in_mlflow(default_run):
    import mlflow

    _, store, summary = default_run
    client = mlflow.MlflowClient(store)
    run = client.get_run(summary["run_id"])
    assert run.info.status == "FINISHED"
    p = run.data.params
    for key in ("model", "model_package", "model_version", "dataset", "patch_size", "pca_components",
                "split", "seed", "optimizer", "lr", "epochs", "batch_size", "cfg.train.epochs"):
        assert key in p, key
    assert p["model_package"] == "hsframe-hybridsn" and p["patch_size"] == "9" and p["epochs"] == "4"
    m = run.data.metrics
    assert m["test_oa"] == pytest.approx(summary["metrics"]["test_oa"])
    assert {"test_aa", "test_kappa", "test_class_acc/01_alfalfa", "test_class_acc/16_stone_steel_towers"} <= set(m)
    assert {"test_macro_f1", "test_weighted_f1", "test_class_recall/01_alfalfa", "test_class_f1/16_stone_steel_towers"} <= set(m)
    assert [r["name"] for r in summary["per_class"] if f"test_class_precision/{r['class']:02d}_{slug(r['name'])}" not in m] == \
        [r["name"] for r in summary["per_class"] if r["precision"] != r["precision"]]  # logged unless NaN (never predicted)
    assert not any(k.startswith(("test_class_dice", "test_mean_iou")) for k in m)  # overlap figures are a dense volume's
    assert [x.step for x in client.get_metric_history(run.info.run_id, "val_oa")] == [1, 2, 3, 4]
    assert len(client.get_metric_history(run.info.run_id, "train_loss")) == 4
    assert run.data.tags["hsframe_version"] and run.data.tags["device"] == "cpu"
    files = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config", "figures", "metrics", "predictions"} <= files
    nested = {a.path for d in ("config", "figures", "metrics") for a in client.list_artifacts(run.info.run_id, d)}
    assert {"config/resolved_config.yaml", "figures/confusion_matrix.png", "figures/classification_map.png",
            "metrics/per_class.csv"} <= nested


def test_logged_model_loads_and_takes_any_batch(default_run):
    import torch

    import hsframe

    _, store, summary = default_run
    model = hsframe.load_model(summary["run_id"], tracking_uri=store)
    assert model(torch.randn(5, 1, 13, 9, 9)).shape == (5, 16)


def test_same_seed_same_result_other_seed_other_split(store, tmp_path):
    def once(seed, name):
        out = tmp_path / f"{name}.json"
        r = invoke(*FAST, "--set", "eval.full_map=false", "--seed", str(seed), "--tracking-uri", store,
                   "--summary-json", str(out))
        assert r.exit_code == 0, r.output
        return json.loads(out.read_text())

    a, b, c = once(1, "a"), once(1, "b"), once(2, "c")
    # compared as JSON text: undefined per-class figures are NaN, which never equals itself
    assert a["metrics"] == b["metrics"] and json.dumps(a["per_class"]) == json.dumps(b["per_class"])
    assert a["metrics"] != c["metrics"]


@pytest.mark.parametrize("args,message", [
    (["--plugin", "hybridns"], "unknown model 'hybridns'. Did you mean 'hybridsn'?"),
    (["--set", "data.patch_size=151"], "larger than the image"),
    (["--set", "data.pca_components=201"], "more than the 200 bands"),
    (["--set", "split.train_fraction=1.5"], "split.train_fraction"),
    (["--set", "split.train_per_class=50"], "too few for 50 per class"),
    (["--set", "train.epoch=3"], "Did you mean 'train.epochs'"),
    (["--dataset", "nowhere"], "unknown dataset 'nowhere'"),
    (["--set", "model.depth=3"], "cannot be built for input (C, D, H, W) = (1, 15, 15, 15) with 16 classes and options {'depth': 3}"),
])
def test_bad_input_is_one_message_exit_2_no_run(store, args, message):
    r = invoke(*args, "--tracking-uri", store)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    assert runs_of(store) == []


def test_unwritable_tracking_store(tmp_path):
    r = invoke(*FAST, "--tracking-uri", f"sqlite:///{tmp_path}/missing/dir/mlflow.db")
    assert r.exit_code == 2 and "does not exist" in r.output
    (tmp_path / "adir.db").mkdir()  # a folder where the database file should be
    r = invoke(*FAST, "--tracking-uri", f"sqlite:///{tmp_path}/adir.db")
    assert r.exit_code == 2 and "cannot open tracking store" in r.output
    r = invoke(*FAST, "--tracking-uri", str(tmp_path / "mlruns"))
    assert r.exit_code == 2 and "deprecated" in r.output


def _plugin_with_forward(exc: BaseException):
    import torch.nn as nn

    class Exploding(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Linear(1, 1)

        def forward(self, x):
            if self.training:  # passes the pre-run contract check (eval mode), fails in training
                raise exc
            return self.w(x.mean(dim=(1, 2, 3, 4))[:, None]).expand(-1, 16)

    mod = types.SimpleNamespace()
    mod.register_models = hookimpl(lambda register: register(ModelSpec(name="exploding", build=lambda spec: Exploding())))
    return mod


@pytest.mark.parametrize("exc,code,status", [(RuntimeError("boom in forward"), 1, "FAILED"), (KeyboardInterrupt(), 130, "KILLED")])
def test_crash_and_interrupt_end_the_run(store, monkeypatch, exc, code, status):
    import mlflow

    plugins = load_plugins(extra={"exploding": _plugin_with_forward(exc)})
    monkeypatch.setattr("hsframe.plugins.get_plugins", lambda: plugins)
    r = CliRunner().invoke(cli, ["run", "--plugin", "exploding", *FAST, "--tracking-uri", store])
    assert r.exit_code == code, r.output
    [run] = runs_of(store)
    assert run.info.status == status
    if status == "FAILED":
        assert "boom in forward" in run.data.tags["hsframe.error"]
        text = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/error/traceback.txt")
        assert "RuntimeError: boom in forward" in text
    assert mlflow.active_run() is None


@pytest.mark.parametrize("forward,message", [
    ("raise RuntimeError('shape bug')", "the forward pass fails on a batch of shape (2, 1, 13, 9, 9)"),
    ("return x.flatten(1)[:, :3]", "the contract is (N, num_classes) = (2, 16) logits"),
])
def test_model_breaking_the_contract_is_refused_before_the_run(store, monkeypatch, forward, message):
    import torch.nn as nn

    ns: dict = {}
    exec(f"def forward(self, x):\n    {forward}", ns)
    broken = type("Broken", (nn.Module,), {"forward": ns["forward"]})
    mod = types.SimpleNamespace()
    mod.register_models = hookimpl(lambda register: register(ModelSpec(name="broken", build=lambda spec: broken())))
    plugins = load_plugins(extra={"brokenfwd": mod})
    monkeypatch.setattr("hsframe.plugins.get_plugins", lambda: plugins)
    r = CliRunner().invoke(cli, ["run", "--plugin", "broken", *FAST, "--tracking-uri", store])
    assert r.exit_code == 2 and message in r.output, r.output
    assert runs_of(store) == []
    assert CliRunner().invoke(cli, ["plugins"]).exit_code == 0  # the others stay usable


def test_live_progress_bar_on_a_terminal():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=150)
    with TrainingProgress(console, epochs=2, batches_per_epoch=3) as progress:
        for b in range(1, 4):
            progress.batch(1, b)
        progress.loss(0.5)
        progress.epoch(1, 0.5, 0.875, True)
    out = buf.getvalue()
    assert "epoch 1/2" in out and "batch 3/3" in out and "loss 0.5000" in out and "val OA 0.8750" in out and "ETA" in out
