"""Labels that cannot take the machine down: any ids renumbered 1..K (mapping kept, recorded, shown), class counts
bounded before a run, figures capped, and no silent NaN: a non-finite nan_fill refused, a mostly-NaN cube warned."""
from __future__ import annotations

import io
import resource
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

import hsframe
from hsframe.data.labels import MAX_CLASSES, classes_of, label_values, to_class_ids
from hsframe.data.series import FrameSeries
from hsframe.data.volumes import ArrayVolumes, VolumeSet
from hsframe.errors import HsframeError
from hsframe.figures import MAX_FIGURE_INCHES, MAX_LEGEND_ENTRIES, classification_map_figure, confusion_figure
from hsframe.recording import MemoryRecorder

H, W, B = 12, 12, 6
# The cheapest run: a 1x1 patch, 3 PCA components, one epoch, no checkpoint files.
CHEAP = {"model": "spectral_1x1", "train.epochs": 1, "train.batch_size": 64, "data.patch_size": 1, "data.pca_components": 3,
         "train.checkpoint_dir": None, "eval.batch_size": 512, "split.train_fraction": 0.5, "split.val_fraction": 0.3}


def _files(tmp: Path, labels: np.ndarray, cube: np.ndarray | None = None) -> dict:
    if cube is None:
        cube = np.random.default_rng(0).normal(size=labels.shape + (B,)).astype(np.float32)
    np.save(tmp / "cube.npy", cube)
    np.save(tmp / "labels.npy", labels)
    return {**CHEAP, "data.dataset": str(tmp / "cube.npy"), "data.labels": str(tmp / "labels.npy")}


def _stripes(ids: list[int], dtype=np.int64) -> np.ndarray:
    """(H, W) columns of each id in turn, the first row unlabeled."""
    labels = np.asarray(ids, dtype=dtype)[np.arange(W) * len(ids) // W][None, :].repeat(H, 0)
    labels[0] = 0
    return labels


def _run(cfg: dict, console: Console | None = None, **kw):
    rec = MemoryRecorder()
    summary = hsframe.run(cfg, recorder=rec, quiet=console is None, console=console, **kw)
    return summary, rec.runs[summary.run_id]


@pytest.mark.parametrize("ids", [[1, 2, 1000], [1, 2, 2_000_000_000]])
def test_sparse_ids_finish_with_k_classes_and_the_mapping_recorded(tmp_path, ids):
    console = Console(record=True, width=200)
    summary, run = _run(_files(tmp_path, _stripes(ids)), console)
    assert run.status == "FINISHED" and len(summary.per_class) == 3
    assert [r["name"] for r in summary.per_class] == [f"class {i}" for i in ids]  # names keep the original id
    assert run.artifacts["data/label_mapping.json"]["original_id_to_class"] == {str(v): k for k, v in enumerate(ids, 1)}
    assert run.params["label_mapping"] == ", ".join(f"{v}->{k}" for k, v in enumerate(ids, 1))
    assert console.export_text().count("renumbered as classes 1..3") == 1  # shown once
    assert run.artifacts["preprocess/scene.json"]["label_ids"] == ids  # for `hsframe predict`


def test_the_runs_map_is_written_in_the_original_ids(tmp_path):
    summary, run = _run(_files(tmp_path, _stripes([3, 7, 9])))
    written = np.load(io.BytesIO(run.artifacts["predictions/classification_map.npy"]))
    assert set(np.unique(written).tolist()) <= {3, 7, 9} and written.shape == (H, W)  # eval.full_map: every pixel


def test_predict_writes_the_map_and_counts_in_the_original_ids(tmp_path):
    from hsframe.cli import cli

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = _files(tmp_path, _stripes([3, 7, 9]))
    summary = hsframe.run(cfg, tracking_uri=store, quiet=True)
    out = tmp_path / "pred"
    result = CliRunner().invoke(cli, ["predict", "--run", summary.run_id, "--dataset", cfg["data.dataset"], "--labels",
                                      cfg["data.labels"], "--out", str(out), "--tracking-uri", store])
    assert result.exit_code == 0, result.output
    written = np.load(out / "classification_map.npy")
    assert written.shape == (H, W) and set(np.unique(written).tolist()) <= {3, 7, 9}
    assert set(np.unique(written).tolist()) & {3, 7, 9}  # not 1..3


def _cli_run(tmp_path, *args):
    from hsframe.cli import cli

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = _files(tmp_path, _stripes([1, 2, 1000]))
    sets = [f"--set={k}={'null' if v is None else v}" for k, v in cfg.items() if k not in ("model", "data.dataset", "data.labels")]
    return CliRunner().invoke(cli, ["run", "--model", cfg["model"], "--dataset", cfg["data.dataset"], "--labels",
                                    cfg["data.labels"], "--tracking-uri", store, *sets, *args]), tmp_path / "mlflow.db"


def test_strict_labels_refuse_in_one_line_with_no_run(tmp_path):
    result, db = _cli_run(tmp_path, "--strict-labels")
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert "\n" not in line and "class ids 1, 2, 1000" in line and "--strict-labels" in line and "Traceback" not in line
    assert not db.exists()  # refused before the store was opened
    with pytest.raises(HsframeError, match="class ids 1, 2, 1000"):
        _run({**_files(tmp_path, _stripes([1, 2, 1000])), "data.strict_labels": True})


def test_ids_already_1_to_k_are_not_renumbered(tmp_path):
    summary, run = _run(_files(tmp_path, _stripes([1, 2, 3])))
    assert "label_mapping" not in run.params and "data/label_mapping.json" not in run.artifacts
    assert _run({**_files(tmp_path, _stripes([1, 2, 3])), "data.strict_labels": True})[1].status == "FINISHED"


def test_more_than_max_classes_is_refused_with_both_numbers(tmp_path):
    labels = (np.arange(120 * 120) % (MAX_CLASSES + 3) + 1).reshape(120, 120)  # 1,003 classes, 14,400 pixels
    with pytest.raises(HsframeError, match=rf"has {MAX_CLASSES + 3} classes .* at most {MAX_CLASSES} classes"):
        _run(_files(tmp_path, labels))


def test_more_classes_than_a_tenth_of_the_labeled_pixels_is_refused(tmp_path):
    labels = np.zeros((H, W), np.int64)
    labels[:3, :] = np.arange(36).reshape(3, 12) % 5 + 1  # 5 classes over 36 labeled pixels: fewer than 10 each
    with pytest.raises(HsframeError, match=r"has 5 classes and 36 labeled pixels: .* at least 10 labeled pixels per class"):
        _run(_files(tmp_path, labels))


def test_volume_sets_and_frame_series_are_renumbered_the_same_way():
    vs = VolumeSet("v", ArrayVolumes(np.zeros((40, 1, 2, 2, 2), np.float32)), np.array([5, 0, 900, 5] * 10), [])
    assert vs.class_names == ["class 5", "class 900"] and vs.label_ids == [5, 900] and set(vs.labels.tolist()) == {0, 1, 2}
    fs = FrameSeries("f", np.zeros((4, 3, 3, 1), np.float32), np.array([[0, 7, 7], [3, 3, 7], [0, 0, 3]]), [])
    assert fs.class_names == ["class 3", "class 7"] and fs.label_values(fs.labels).tolist() == [[0, 7, 7], [3, 3, 7], [0, 0, 3]]


def test_a_volume_set_with_sparse_ids_finishes(tmp_path):
    rng = np.random.default_rng(1)
    vols = rng.normal(size=(40, 1, 4, 4, 4)).astype(np.float32)
    y = np.array([10, 2_000_000_000] * 20)
    vols[y == 10] += 1.0
    np.save(tmp_path / "vols.npy", vols)
    np.save(tmp_path / "y.npy", y)
    cfg = {"model": "conv3d", "data.dataset": str(tmp_path / "vols.npy"), "data.labels": str(tmp_path / "y.npy"),
           "data.layout": "volumes", "train.epochs": 1, "train.checkpoint_dir": None, "split.train_fraction": 0.5}
    summary, run = _run(cfg)
    assert run.status == "FINISHED" and [r["name"] for r in summary.per_class] == ["class 10", "class 2000000000"]
    assert run.params["label_mapping"] == "10->1, 2000000000->2"
    table = run.artifacts["predictions/test_predictions.csv"]
    assert {line.split(",")[2] for line in table.strip().splitlines()[1:]} <= {"10", "2000000000"}  # original ids


def test_label_helpers_round_trip():
    labels, names, ids = to_class_ids(np.array([[0, 9], [4, 9]], np.uint64), [], "x")
    assert ids == [4, 9] and names == ["class 4", "class 9"] and labels.tolist() == [[0, 2], [1, 2]]
    assert label_values(labels, ids).tolist() == [[0, 9], [4, 9]]
    assert classes_of(np.array([0, 4, 9, 5]), ids).tolist() == [0, 1, 2, 0]  # 5 is no class of that data
    for bad, message in ((np.array([1.0, np.nan]), "whole numbers"), (np.array([1, -3]), "negative class ids -3"),
                         (np.array([2**64 - 1], np.uint64), "too large")):
        with pytest.raises(HsframeError, match=message):
            to_class_ids(bad, [], "x")


def test_figures_are_capped_for_1000_classes():
    import matplotlib.pyplot as plt

    k = MAX_CLASSES
    names = [f"class {i}" for i in range(k)]
    fig = confusion_figure(np.eye(k, dtype=np.int64), names, 1.0, 1.0)
    assert max(fig.get_size_inches()) <= MAX_FIGURE_INCHES
    plt.close(fig)
    palette = [(i % 256, 0, 0) for i in range(k)]
    img = np.arange(40 * 40).reshape(40, 40) % (k + 1)
    fig = classification_map_figure(img, img, names, palette)
    assert max(fig.get_size_inches()) <= MAX_FIGURE_INCHES
    assert len(fig.legends[0].get_texts()) == MAX_LEGEND_ENTRIES + 1  # and "... 960 more classes"
    plt.close(fig)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_non_finite_nan_fill_is_refused_naming_the_key(value):
    with pytest.raises(HsframeError, match=r"^config key 'data.nan_fill': Input should be a finite number"):
        hsframe.load_config(CHEAP, sets=[f"data.nan_fill={value}"])


def test_an_all_nan_cube_warns_and_logs_the_count(tmp_path):
    cube = np.full((H, W, B), np.nan, np.float32)
    console = Console(record=True, width=200)
    summary, run = _run({**_files(tmp_path, _stripes([1, 2]), cube), "data.nan_fill": 0, "data.pca_components": None,
                         "data.standardize": False}, console)
    assert "warning: 100.0% of the cube's values (864 of 864) were NaN/Inf" in console.export_text()
    assert run.metric("data_nan_replaced") == H * W * B and run.metric("data_nan_replaced_fraction") == 1.0


def test_a_clean_cube_logs_zero_replaced(tmp_path):
    console = Console(record=True, width=200)
    _, run = _run(_files(tmp_path, _stripes([1, 2])), console)
    assert run.metric("data_nan_replaced") == 0 and "warning" not in console.export_text()


# --------------------------------------------------------------------------- fuzz: any label map, one line or a run


def _label_maps():
    dtypes = st.sampled_from([np.int64, np.int32, np.uint8, np.uint16, np.uint64, np.float32, np.float64])
    special = st.sampled_from([0, 1, 2, 3, 7, 1000, 2_000_000_000, -1, 2**40, float("nan"), 0.5])

    @st.composite
    def maps(draw):
        dtype = np.dtype(draw(dtypes))
        ids = draw(st.lists(special, min_size=0, max_size=4))
        unlabeled = draw(st.sampled_from([0.0, 0.3, 0.9]))
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))  # a map of many pixels, not one hypothesis shrinks to zeros
        table = np.array([0.0, *ids])
        picks = rng.integers(1, len(table), (H, W)) if ids else np.zeros((H, W), np.int64)
        values = np.where(rng.random((H, W)) < unlabeled, 0.0, table[picks])
        with np.errstate(invalid="ignore", over="ignore"):
            if dtype.kind in "iu":
                values = np.nan_to_num(values, nan=0)
                info = np.iinfo(dtype)
                values = np.clip(values, info.min, info.max)  # negative in uint -> 0, huge -> the top of the type
            return values.astype(dtype)

    return maps()


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(labels=_label_maps())
def test_any_label_map_ends_in_one_line_or_a_finished_run(tmp_path, labels):
    rec = MemoryRecorder()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # this example's own growth, whatever ran before
    try:
        summary = hsframe.run(_files(tmp_path, labels), recorder=rec, quiet=True)
    except HsframeError as exc:
        assert "\n" not in str(exc).strip() and str(exc)
        assert all(r.status != "RUNNING" for r in rec.runs.values())
    else:
        assert rec.runs[summary.run_id].status == "FINISHED"
        assert len(summary.per_class) <= len(np.unique(labels))
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert peak_mb < 1500, f"peak memory grew by {peak_mb:.0f} MB"
