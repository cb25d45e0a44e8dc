"""The Python API: hsframe.load_config and hsframe.run, recorded in MLflow or in memory."""
from __future__ import annotations

import mlflow
import pytest

import hsframe
from hsframe.errors import HsframeError
from hsframe.recording import MemoryRecorder

FAST = {"model": "hybridsn", "train": {"epochs": 1, "batch_size": 64}, "data": {"patch_size": 9, "pca_components": 13}}


def test_load_config_layers_a_mapping_over_the_defaults():
    cfg = hsframe.load_config({"train.epochs": 3, "data": {"patch_size": 11}}, sets=["seed=4"])
    assert (cfg.train.epochs, cfg.data.patch_size, cfg.seed, cfg.model) == (3, 11, 4, "hybridsn")
    assert hsframe.load_config(cfg) is cfg
    with pytest.raises(HsframeError, match="Did you mean 'train.epochs'"):
        hsframe.load_config({"train.epoch": 3})


def test_run_records_in_mlflow_and_returns_the_run(store):
    summary = hsframe.run(FAST, tracking_uri=store, quiet=True)
    run = mlflow.MlflowClient(store).get_run(summary.run_id)
    assert run.info.status == "FINISHED" and run.data.params["model"] == "hybridsn"
    assert run.data.metrics["test_oa"] == pytest.approx(summary.metrics["test_oa"])
    assert {"test_oa", "test_aa", "test_kappa"} <= set(summary.metrics) and 0 <= summary.metrics["test_oa"] <= 1
    assert summary.counts["test"] == int(run.data.params["n_test"])


def test_a_memory_recorder_holds_the_whole_record():
    rec = MemoryRecorder()
    summary = hsframe.run(FAST, recorder=rec, quiet=True, sets=["eval.full_map=false"])
    run = rec.runs[summary.run_id]
    assert run.status == "FINISHED" and run.tags["model"] == "hybridsn" and run.model is not None
    assert [step for step, _ in run.metrics["val_oa"]] == [1]
    for path in ("config/resolved_config.yaml", "metrics/leakage_report.json", "metrics/per_class.csv",
                 "figures/classification_map.png", "predictions/classification_map.npy", "preprocess/preprocessor.safetensors",
                 "model/weights.safetensors", "model/spec.json"):
        assert path in run.artifacts, path


def test_repeated_seeds_are_children_of_one_parent():
    rec = MemoryRecorder()
    summary = hsframe.run(FAST, seeds=[0, 1], recorder=rec, quiet=True)
    parent = rec.runs[summary.parent_run_id]
    children = [r for r in rec.runs.values() if r.parent_id == parent.run_id]
    assert len(children) == 2 and parent.tags["hsframe.seeds"] == "parent"
    oa = [c.metric("test_oa") for c in children]
    assert parent.metric("test_oa_mean") == pytest.approx(sum(oa) / 2)


def test_a_crash_marks_the_run_failed_with_its_traceback(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("training exploded")

    monkeypatch.setattr("hsframe.training.train", boom)
    rec = MemoryRecorder()
    with pytest.raises(RuntimeError, match="training exploded"):
        hsframe.run(FAST, recorder=rec, quiet=True)
    (run,) = rec.runs.values()
    assert run.status == "FAILED" and "training exploded" in run.artifacts["error/traceback.txt"]
