"""Split methods and the leakage report through `hsframe run`."""
import json

import numpy as np
from click.testing import CliRunner
from conftest import FAST, runs_of

from hsframe.cli import cli
from hsframe.data.split import stratified_split
from hsframe.data.synthetic import synthetic_pines


def run(store, tmp_path, *args):
    out = tmp_path / "s.json"
    r = CliRunner().invoke(cli, ["run", *FAST, "--set", "eval.full_map=false", *args, "--tracking-uri", store,
                                 "--summary-json", str(out)])
    assert r.exit_code == 0, r.output
    [mlrun] = [x for x in runs_of(store) if x.info.run_id == json.loads(out.read_text())["run_id"]]
    return r.output, mlrun


def test_random_split_leaks_through_patch_windows_and_says_so(store, tmp_path):
    output, mlrun = run(store, tmp_path)
    assert mlrun.data.metrics["leakage_test_in_train_window"] > 0.3
    assert mlrun.data.metrics["leakage_features_saw_test"] == 0
    assert "of test pixels lie inside a training patch window" in output


def test_blocks_with_margin_have_zero_window_leakage(store, tmp_path):
    # 5-px blocks: the scene's 21-px Oats field must keep training pixels outside the 4-px margin.
    output, mlrun = run(store, tmp_path, "--set", "split.method=blocks", "--set", "split.block_size=5",
                        "--set", "split.train_fraction=0.3")
    assert mlrun.data.metrics["leakage_test_in_train_window"] == 0.0
    assert "block" in mlrun.data.params["split"]
    assert mlrun.data.metrics["leakage_test_pixels_in_train_windows"] == 0


def test_fixed_maps_from_files(store, tmp_path):
    scene = synthetic_pines()
    labels = scene.labels
    s = stratified_split(labels, scene.class_names, seed=7, train_fraction=0.2)
    train_map, test_map = np.zeros_like(labels), np.zeros_like(labels)
    fit = np.concatenate([s.train, s.val])
    train_map.flat[fit] = labels.flat[fit]
    test_map.flat[s.test] = labels.flat[s.test]
    np.save(tmp_path / "train.npy", train_map)
    np.save(tmp_path / "test.npy", test_map)
    _, mlrun = run(store, tmp_path, "--set", "split.method=fixed", "--set", f"split.train_map={tmp_path / 'train.npy'}",
                   "--set", f"split.test_map={tmp_path / 'test.npy'}")
    assert int(mlrun.data.params["n_test"]) == int((test_map > 0).sum())
    assert int(mlrun.data.params["n_train"]) + int(mlrun.data.params["n_val"]) == int((train_map > 0).sum())


def test_whole_image_pca_is_tagged_as_leaking(store, tmp_path):
    output, mlrun = run(store, tmp_path, "--set", "data.pca_fit=all")
    assert "whole image" in mlrun.data.tags["leakage"]
    assert mlrun.data.metrics["leakage_features_saw_test"] == 1
    assert "LEAKING" in output
