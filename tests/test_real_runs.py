"""Short `hsframe run`s through the CLI on real scenes from ../shared/datasets (skipped without it)."""
import json

import pytest
from click.testing import CliRunner
from conftest import SHARED, runs_of

from hsframe.cli import cli

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data folder {SHARED} is absent")
SHORT = ["--set", "train.epochs=3", "--set", "data.patch_size=9", "--set", "data.pca_components=13",
         "--set", "train.batch_size=32"]


def run_cli(args, store, tmp_path):
    out = tmp_path / "summary.json"
    r = CliRunner().invoke(cli, ["run", *args, *SHORT, "--tracking-uri", store, "--summary-json", str(out)])
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text())


@needs_shared
def test_samson_through_the_catalog(tmp_path, store, monkeypatch):
    # The catalog finds Samson.mat in $HSFRAME_DATA/samson/; link the real file there (never copied).
    (tmp_path / "data" / "samson").mkdir(parents=True)
    (tmp_path / "data" / "samson" / "Samson.mat").symlink_to(SHARED / "hsi" / "samson" / "Samson.mat")
    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path / "data"))
    s = run_cli(["--dataset", "samson", "--set", "data.dataset_options={purity_threshold: 0.6}"], store, tmp_path)
    assert s["dataset"] == "samson" and [c["name"] for c in s["per_class"]] == ["Soil", "Tree", "Water"]
    # 85% of Samson's 9,025 pixels pass the 0.6 purity threshold (shared README)
    assert 0.8 * 9025 < sum(s["counts"].values()) < 0.9 * 9025
    assert s["metrics"]["test_oa"] > 0.5  # three classes; a few epochs already beat chance clearly
    [run] = runs_of(store)
    assert run.info.status == "FINISHED" and run.data.params["dataset"] == "samson"


@needs_shared
def test_enmap_tile_by_path(tmp_path, store):
    enmap = SHARED / "hsi" / "enmap_potsdam"
    tile = "enmap_potsdam_tile_192_96.tif"  # the tile with all six classes
    s = run_cli(["--dataset", str(enmap / "images" / tile), "--labels", str(enmap / "labels" / tile),
                 "--set", "split.train_fraction=0.3"], store, tmp_path)
    assert s["dataset"] == tile and len(s["per_class"]) == 6
    assert sum(s["counts"].values()) == 1024 - 610  # every labeled pixel of the 32x32 tile, none dropped
    [run] = runs_of(store)
    assert run.info.status == "FINISHED"


def test_seeds_make_child_runs_under_a_parent(tmp_path, store, monkeypatch):
    import mlflow
    import numpy as np

    import hsframe.data.synthetic as synthetic

    loads = []
    real = synthetic.synthetic_pines
    monkeypatch.setattr(synthetic, "synthetic_pines", lambda *a, **k: loads.append(1) or real(*a, **k))
    out = tmp_path / "seeds.json"
    r = CliRunner().invoke(cli, ["run", *SHORT, "--set", "eval.full_map=false", "--seeds", "0,1,2",
                                 "--tracking-uri", store, "--summary-json", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())
    assert "mean ± std" in r.output and s["parent_run_id"] in r.output
    client = mlflow.MlflowClient(store)
    parent = client.get_run(s["parent_run_id"])
    children = [x for x in runs_of(store) if x.data.tags.get("mlflow.parentRunId") == s["parent_run_id"]]
    assert sorted(c.data.params["seed"] for c in children) == ["0", "1", "2"]
    oas = np.array([c.data.metrics["test_oa"] for c in children])
    assert parent.data.metrics["test_oa_mean"] == pytest.approx(oas.mean())
    assert parent.data.metrics["test_oa_std"] == pytest.approx(oas.std(ddof=1))
    assert {"test_aa_mean", "test_kappa_std"} <= set(parent.data.metrics)
    assert all(x.info.status == "FINISHED" for x in runs_of(store))
    assert len(loads) == 1  # the scene is loaded once for all seeds


@pytest.mark.parametrize("setting", ["data.patch_size=151", "split.train_per_class=50"])
def test_seeds_with_bad_input_start_no_run(store, setting):
    r = CliRunner().invoke(cli, ["run", "--seeds", "0,1", "--set", setting, "--tracking-uri", store])
    assert r.exit_code == 2, r.output
    assert runs_of(store) == []  # not even a FAILED parent


def test_bad_seeds_list(store):
    r = CliRunner().invoke(cli, ["run", "--seeds", "0,x", "--tracking-uri", store])
    assert r.exit_code == 2 and "--seeds takes integers" in r.output


@needs_shared
def test_blocks_split_on_the_real_indian_pines_labels(tmp_path, store, monkeypatch):
    """`hsframe run --dataset indian_pines --set split.method=blocks` on the real 16-class ground truth (the cube
    is not kept in ../shared: generated spectra, one mean per class, over the real label map)."""
    import math

    import numpy as np
    import scipy.io

    root = tmp_path / "data" / "indian_pines"
    root.mkdir(parents=True)
    (root / "Indian_pines_gt.mat").symlink_to(SHARED / "hsi" / "ground_truth" / "Indian_pines_gt.mat")
    gt = scipy.io.loadmat(root / "Indian_pines_gt.mat")["indian_pines_gt"]
    rng = np.random.default_rng(0)
    cube = rng.integers(2000, 7000, (17, 200))[gt] + rng.normal(0, 300, (145, 145, 200))
    scipy.io.savemat(root / "Indian_pines_corrected.mat", {"indian_pines_corrected": cube.clip(0, 9000).astype(np.uint16)})
    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path / "data"))
    args = ["run", "--dataset", "indian_pines", "--set", "split.method=blocks", "--set", "data.patch_size=25",
            "--set", "train.epochs=1", "--set", "data.pca_components=13", "--set", "eval.full_map=false",
            "--set", "train.checkpoint_dir=null", "--tracking-uri", store]
    # Three classes lie within the 12 px margin of themselves: one line names them all, and no run is left.
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2, r.output
    assert all(f"'{name}'" in r.output for name in ("Alfalfa", "Grass-pasture-mowed", "Oats")) and runs_of(store) == []
    out = tmp_path / "summary.json"
    r = CliRunner().invoke(cli, [*args, "--set", "split.drop_unsplittable=true", "--summary-json", str(out)])
    assert r.exit_code == 0, r.output
    assert "left out 3 class(es)" in r.output and "94 px" in r.output  # 46 + 28 + 20
    s = json.loads(out.read_text())
    absent = {c["name"] for c in s["per_class"] if c["test_pixels"] == 0}
    assert absent == {"Alfalfa", "Grass-pasture-mowed", "Oats"} and len(s["per_class"]) == 16
    assert all(math.isnan(c["accuracy"]) for c in s["per_class"] if c["name"] in absent)
    assert math.isfinite(s["metrics"]["test_aa"]) and math.isfinite(s["metrics"]["test_kappa"])
    [run] = runs_of(store)
    assert run.info.status == "FINISHED" and "unsplittable classes left out: 1 'Alfalfa'" in run.data.params["split"]
    assert run.data.metrics["leakage_test_pixels_in_train_windows"] == 0
    assert run.data.metrics["leakage_test_in_train_window"] == 0.0


@needs_shared
def test_enmap_scene_set_with_its_published_split(tmp_path, store, monkeypatch):
    """`hsframe run --dataset enmap_potsdam`: the 18 real tiles, the published 14 / 2 / 2 tile split, one epoch."""
    import csv

    import tifffile

    enmap = SHARED / "hsi" / "enmap_potsdam"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "enmap_potsdam").symlink_to(enmap)  # the card's folder, $HSFRAME_DATA/enmap_potsdam
    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path / "data"))
    want = {}
    for subset, name in (("train", "train_files.csv"), ("val", "validation_files.csv"), ("test", "test_files.csv")):
        with (enmap / name).open() as f:
            masks = [row["mask"] for row in csv.DictReader(f)]
        want[subset] = sum(int((tifffile.imread(enmap / m) > 0).sum()) for m in masks)
    assert want == {"train": 3806, "val": 1206, "test": 660}  # Summary_train_val.csv's counts
    out = tmp_path / "summary.json"
    r = CliRunner().invoke(cli, ["run", "--model", "hybridsn", "--dataset", "enmap_potsdam", *SHORT, "--set", "train.epochs=1",
                                 "--set", "train.checkpoint_dir=null", "--tracking-uri", store, "--summary-json", str(out)])
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())
    assert s["counts"] == want
    assert [c["name"] for c in s["per_class"]][:2] == ["Roof", "Pavement"] and s["metrics"]["test_oa"] > 0.3
    [run] = runs_of(store)
    m = run.data.metrics
    assert run.info.status == "FINISHED" and m["leakage_test_in_train_window"] == 0.0 and m["leakage_val_in_train_window"] == 0.0
    assert run.data.params["split"].startswith("per file: 14 train / 2 val / 2 test tiles") and run.data.params["tiles"] == "18"
