"""`hsframe run` on volumes and time series, end to end through the CLI and MLflow.

Small generated files in the formats the readers take; the real NDVI series and MRI volume from
../shared/datasets (skipped without it); bad input refused before any run exists.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SHARED, runs_of

from hsframe.cli import cli
from hsframe.metrics import slug

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data folder {SHARED} is absent")
# Small and fast: two epochs of a two-block network.
QUICK = ["--set", "train.epochs=2", "--set", "model.depth=2", "--set", "model.width=8", "--set", "train.batch_size=32"]


def run_ok(args: list[str], store: str, tmp_path: Path) -> dict:
    out = tmp_path / "summary.json"
    r = CliRunner().invoke(cli, ["run", *args, *QUICK, "--tracking-uri", store, "--summary-json", str(out)])
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text())


def run_refused(args: list[str], store: str) -> str:
    r = CliRunner().invoke(cli, ["run", *args, *QUICK, "--tracking-uri", store])
    assert r.exit_code == 2, r.output
    assert runs_of(store) == []  # refused before any run started
    return " ".join(r.output.split())


def artifacts(store: str, run_id: str) -> set[str]:
    import mlflow

    client = mlflow.MlflowClient(store)
    out, todo = set(), [""]
    while todo:
        for f in client.list_artifacts(run_id, todo.pop() or None):
            (todo.append(f.path) if f.is_dir else out.add(f.path))
    return out


def write_dense(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    vol = rng.normal(size=(10, 12, 12)).astype(np.float32)
    labels = np.ones((10, 12, 12), np.int64)
    labels[3:8, 4:10, 4:10] = 2
    vol[labels == 2] += 1.5
    np.save(tmp_path / "vol.npy", vol)
    np.save(tmp_path / "lab.npy", labels)
    return tmp_path / "vol.npy", tmp_path / "lab.npy"


def write_frames(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    frames = rng.normal(size=(12, 16, 16)).astype(np.float32)
    labels = np.repeat(np.arange(1, 5), 64).reshape(16, 16)
    frames[:, labels == 3] += np.linspace(-1, 1, 12)[:, None]  # class 3 has a temporal trend
    np.save(tmp_path / "frames.npy", frames)
    np.save(tmp_path / "map.npy", labels)
    return tmp_path / "frames.npy", tmp_path / "map.npy"


def test_dense_volume_run_logs_a_label_volume(tmp_path, store):
    vol, lab = write_dense(tmp_path)
    s = run_ok(["--plugin", "conv3d", "--dataset", str(vol), "--labels", str(lab), "--set", "data.layout=dense",
                "--set", "data.patch_size=5", "--set", "data.patch_depth=3"], store, tmp_path)
    assert sum(s["counts"].values()) == 10 * 12 * 12  # every labeled voxel is a sample
    [run] = runs_of(store)
    assert run.info.status == "FINISHED"
    p = run.data.params
    assert (p["data_kind"], p["sampling"], p["input_shape"]) == ("volume", "voxel-patches", "1x3x5x5")
    m = run.data.metrics
    assert {"test_oa", "test_aa", "test_kappa", "test_macro_f1", "leakage_test_in_train_window"} <= set(m)
    # a dense volume's overlap figures per class, over the test voxels: Dice is the F1, IoU = Dice / (2 - Dice)
    for row in s["per_class"]:
        key = f"{row['class']:02d}_{slug(row['name'])}"
        assert m[f"test_class_dice/{key}"] == pytest.approx(m[f"test_class_f1/{key}"]) == pytest.approx(row["dice"])
        assert m[f"test_class_iou/{key}"] == pytest.approx(row["dice"] / (2 - row["dice"])) == pytest.approx(row["iou"])
    assert m["test_mean_dice"] == pytest.approx(np.mean([r["dice"] for r in s["per_class"]]))
    assert m["test_mean_iou"] == pytest.approx(np.mean([r["iou"] for r in s["per_class"]]))
    files = artifacts(store, run.info.run_id)
    assert {"figures/label_volume_slices.png", "predictions/predicted_label_volume.npy", "metrics/confusion_matrix.json",
            "preprocess/samples.json", "metrics/leakage_report.json"} <= files
    import mlflow

    pred = np.load(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="predictions/predicted_label_volume.npy",
                                                       tracking_uri=store, dst_path=str(tmp_path / "dl")))
    assert pred.shape == (10, 12, 12) and set(np.unique(pred)) <= {1, 2}  # full_map: every voxel predicted


def test_dense_volume_blocks_split_leaks_nothing(tmp_path, store):
    vol, lab = write_dense(tmp_path)
    s = run_ok(["--plugin", "conv3d", "--dataset", str(vol), "--labels", str(lab), "--set", "data.layout=dense",
                "--set", "data.patch_size=3", "--set", "split.method=blocks", "--set", "split.block_size=[5, 4, 4]",
                "--set", "split.train_fraction=0.5", "--set", "split.val_fraction=0.3"], store, tmp_path)
    [run] = runs_of(store)
    assert run.data.metrics["leakage_test_in_train_window"] == 0.0
    assert "spatial blocks of 5 x 4 x 4" in run.data.params["split"]
    assert s["counts"]["test"] > 0


def test_frame_series_per_pixel_run_votes_a_map(tmp_path, store):
    frames, labels = write_frames(tmp_path)
    s = run_ok(["--plugin", "td_conv2d", "--dataset", str(frames), "--labels", str(labels), "--set", "data.layout=frames",
                "--set", "data.window=4", "--set", "data.stride=4", "--set", "data.patch_size=5",
                "--set", "split.train_fraction=0.3"], store, tmp_path)
    # 3 windows per pixel; every subset holds whole pixels
    assert all(n % 3 == 0 for n in s["counts"].values()) and sum(s["counts"].values()) == 3 * 256
    [run] = runs_of(store)
    assert run.data.params["sampling"] == "pixel-windows" and run.data.params["input_shape"] == "1x4x5x5"
    assert 0 <= run.data.metrics["test_oa_pixel_vote"] <= 1
    assert {"figures/classification_map.png", "predictions/classification_map.npy"} <= artifacts(store, run.info.run_id)
    import mlflow

    voted = np.load(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="predictions/classification_map.npy",
                                                        tracking_uri=store, dst_path=str(tmp_path / "dl")))
    assert voted.shape == (16, 16) and set(np.unique(voted)) <= {1, 2, 3, 4}  # full_map: every pixel gets a vote


def test_volume_folder_run_lists_test_predictions(tmp_path, store):
    rng = np.random.default_rng(2)
    for k, name in enumerate(["bright", "dark"]):
        (tmp_path / "set" / name).mkdir(parents=True)
        for i in range(12):
            np.save(tmp_path / "set" / name / f"v{i:02d}.npy", rng.normal(2.0 * (1 - k), 1, size=(8, 8, 8)).astype(np.float32))
    s = run_ok(["--plugin", "conv3d", "--dataset", str(tmp_path / "set"), "--set", "split.train_fraction=0.5",
                "--set", "split.val_fraction=0.3"], store, tmp_path)
    assert [c["name"] for c in s["per_class"]] == ["bright", "dark"] and sum(s["counts"].values()) == 24
    [run] = runs_of(store)
    assert run.data.params["sampling"] == "volumes" and run.data.params["data_kind"] == "volume"
    assert "predictions/test_predictions.csv" in artifacts(store, run.info.run_id)


def test_synthetic_sequences_and_volumes_train_by_name(tmp_path, store):
    run_ok(["--plugin", "r2plus1d", "--dataset", "synthetic-sequences", "--set", "data.dataset_options={segments: 48}"],
           store, tmp_path)
    run_ok(["--plugin", "orthoplane", "--dataset", "synthetic-volumes", "--set", "data.dataset_options={n: 60, size: 12}",
            "--set", "split.train_fraction=0.5"], store, tmp_path)
    runs = {r.data.params["dataset"]: r for r in runs_of(store)}
    assert runs["synthetic-sequences"].data.params["sampling"] == "frame-windows"
    assert runs["synthetic-sequences"].data.params["data_kind"] == "sequence"
    # the dataset's own protocol: 8-frame windows split in time blocks, so no test window shares a frame with training
    assert runs["synthetic-sequences"].data.metrics["leakage_test_in_train_window"] == 0.0
    assert runs["synthetic-volumes"].data.params["input_shape"] == "1x12x12x12"
    assert all(r.info.status == "FINISHED" for r in runs.values())


def test_bad_input_is_refused_before_a_run(tmp_path, store):
    frames, labels = write_frames(tmp_path)
    series = ["--dataset", str(frames), "--labels", str(labels), "--set", "data.layout=frames"]
    msg = run_refused(["--plugin", "hybridsn", *series], store)
    assert "model 'hybridsn' serves hsi data, but dataset 'frames.npy' is sequence" in msg
    msg = run_refused(["--plugin", "td_conv2d", *series, "--set", "data.window=20"], store)
    assert "data.window 20 is longer than the series (12 frames); use at most 12" in msg
    # conv3d with 2 blocks (QUICK) pools D once: 1 frame is fewer than its kernel stack needs
    msg = run_refused(["--plugin", "conv3d", *series, "--set", "data.window=1"], store)
    assert "needs D, H, W >= 2" in msg and "D=1" in msg
    msg = run_refused(["--plugin", "conv3d", "--dataset", str(frames), "--set", "data.layout=frames"], store)
    assert "needs data.labels" in msg
    # without data.layout a .npy file is a hyperspectral scene, whose labels are read as stored
    msg = run_refused(["--plugin", "conv3d", "--dataset", str(frames), "--labels", str(labels), "--set", "data.zero_label=class"], store)
    assert "apply to volumes and series" in msg and "Set data.layout" in msg
    for i, shape in enumerate([(8, 8, 8), (8, 8, 9)]):
        (tmp_path / "mixed" / f"c{i}").mkdir(parents=True)
        np.save(tmp_path / "mixed" / f"c{i}" / "v.npy", np.zeros(shape, np.float32))
    msg = run_refused(["--plugin", "conv3d", "--dataset", str(tmp_path / "mixed")], store)
    assert "(8, 8, 8)" in msg and "(8, 8, 9)" in msg


@needs_shared
def test_real_ndvi_series_trains_per_pixel(tmp_path, store):
    ndvi = SHARED / "timeseries" / "eolearn_ndvi"
    s = run_ok(["--plugin", "conv3d_133", "--dataset", str(ndvi / "data_NDVI.npy"), "--labels", str(ndvi / "mask_timeless_LULC.npy"),
                "--set", "data.layout=frames", "--set", "data.label_remap={1: 1, 2: 2, 3: 3, 4: 4, 8: 5}",
                "--set", "data.window=34", "--set", "data.stride=34", "--set", "data.patch_size=5",
                "--set", "split.train_fraction=0.05", "--set", "eval.full_map=false"], store, tmp_path)
    # 2 windows of 34 dates for each of the 9,945 labeled pixels (10,100 minus 155 without a class)
    assert sum(s["counts"].values()) == 2 * 9945
    [run] = runs_of(store)
    assert run.info.status == "FINISHED" and run.data.params["input_shape"] == "1x34x5x5"
    assert s["metrics"]["test_oa"] > 0.5  # Forest alone is 76% of the pixels; two epochs get past chance


@needs_shared
def test_real_mri_volume_trains_per_voxel(tmp_path, store):
    pytest.importorskip("nibabel")
    mri = SHARED / "volumes" / "mri"
    s = run_ok(["--plugin", "conv3d", "--dataset", str(mri / "anatomical.nii"), "--labels", str(mri / "anatomical_label.nii.gz"),
                "--set", "data.zero_label=class", "--set", "data.patch_size=5", "--set", "split.train_fraction=0.05"],
               store, tmp_path)
    assert sum(s["counts"].values()) == 33 * 41 * 25  # background is a class: every voxel is a sample
    assert [c["test_pixels"] for c in s["per_class"]][1] > 0.9 * 330 * 0.9  # the mask's voxels are mostly test
    [run] = runs_of(store)
    assert run.data.params["sampling"] == "voxel-patches" and run.info.status == "FINISHED"
