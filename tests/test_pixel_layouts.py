"""Any pixel layout from the command line: bands x pixels matrices, abundance labels, class names and palette.

Small generated .mat files in the unmixing benchmarks' real layout (a Moffett Field-like ``Y`` of
bands x pixels in MATLAB's column-major order beside ``S_GT`` abundances), and real Samson /
Jasper Ridge from ../shared/datasets (skipped without it).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner
from conftest import SHARED, runs_of
from test_readers import write_mat_v73

from hsframe.cli import cli
from hsframe.config import resolve
from hsframe.data.readers import open_scene, read_array
from hsframe.data.resolve import file_dataset, load_dataset
from hsframe.errors import HsframeError

H, W, B, K = 24, 20, 40, 3  # H != W, so a transposed reshape cannot pass
SAMSON = SHARED / "hsi" / "samson"
JASPER = SHARED / "hsi" / "jasper_ridge"
needs = pytest.mark.skipif(not SAMSON.is_dir(), reason=f"real data folder {SAMSON} is absent")
# Cheap settings for runs: one epoch, the smallest HybridSN.
QUICK = ["--set", "train.epochs=1", "--set", "data.patch_size=9", "--set", "data.pca_components=13",
         "--set", "train.batch_size=64", "--set", "eval.full_map=false", "--set", "train.checkpoint_dir=null"]


def scene_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A (H, W, B) cube mixed from K endmembers, and its (H, W, K) abundances (summing to 1)."""
    rng = np.random.default_rng(seed)
    abundances = rng.dirichlet([0.3] * K, size=(H, W))
    cube = abundances @ rng.uniform(0, 1, (K, B)) + rng.normal(0, 0.01, (H, W, B))
    return cube, abundances


def moffett_like(path: Path, order: str = "F", **extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A .mat as the benchmark is released: Y (bands, pixels), pixels in ``order``; S_GT (H, W, K); GT (K, bands)."""
    cube, abundances = scene_arrays()
    y = cube.reshape(H * W, B, order=order).T  # pixel p = row + H * column for "F"
    scipy.io.savemat(path, {"Y": y, "S_GT": abundances, "GT": np.random.default_rng(1).uniform(0, 1, (K, B)), **extra})
    return cube, abundances


def config(**values):
    return resolve([("test", {f"data.{k}": v for k, v in values.items()})])


def load(path: Path, **values):
    cfg = config(dataset=str(path), **values)
    return load_dataset(cfg, file_dataset(cfg, path))


def no_run(store: str) -> bool:
    """No run in the store; a store the command never created holds none (and creating it costs seconds)."""
    db = Path(store.removeprefix("sqlite:///"))
    return not db.exists() or runs_of(store) == []


def cli_run(args: list[str], store: str, summary: Path | None = None):
    extra = ["--summary-json", str(summary)] if summary else []
    return CliRunner().invoke(cli, ["run", *args, *QUICK, "--tracking-uri", store, *extra])


# ----------------------------------------------------------------------------- the cube from a pixel matrix


@pytest.mark.parametrize("order", ["F", "C"])
def test_bands_pixels_cube_equals_the_reference_reshape(tmp_path, order):
    cube, abundances = moffett_like(tmp_path / "m.mat", order)
    scene = open_scene(tmp_path / "m.mat", tmp_path / "m.mat", cube_key="Y", labels_key="S_GT", axis_order="bands_pixels",
                       pixel_order=order, labels_encoding="abundances")
    np.testing.assert_array_equal(scene.cube, cube.astype(np.float32))
    np.testing.assert_array_equal(scene.labels, abundances.argmax(-1) + 1)
    assert scene.class_names == ["class 1", "class 2", "class 3"] and scene.notes == []


def test_pixels_bands_and_v73_and_shape_without_labels(tmp_path):
    cube, _ = scene_arrays()
    pixels = cube.reshape(H * W, B, order="F")
    np.save(tmp_path / "p.npy", pixels)  # (pixels, bands), a single-array format
    got = read_array(tmp_path / "p.npy", axis_order="pixels_bands", spatial_shape=(H, W)).data
    np.testing.assert_array_equal(got, cube.astype(np.float32))
    write_mat_v73(tmp_path / "m73.mat", {"Y": pixels.T.copy()})  # MATLAB -v7.3: stored with its axes reversed
    scene = load(tmp_path / "m73.mat", axis_order="bands_pixels", shape=[H, W])
    np.testing.assert_array_equal(scene.cube, cube.astype(np.float32))
    assert not scene.labels.any()


@pytest.mark.parametrize("layout", ["KN", "NK"])
def test_abundance_matrix_labels_with_a_threshold(tmp_path, layout):
    cube, abundances = scene_arrays()
    a = abundances.reshape(H * W, K, order="F")
    scipy.io.savemat(tmp_path / "a.mat", {"A": a.T if layout == "KN" else a})
    np.save(tmp_path / "cube.npy", cube)
    scene = load(tmp_path / "cube.npy", labels=str(tmp_path / "a.mat"), labels_encoding="abundances", shape=[H, W],
                 purity_threshold=0.6)
    want = abundances.argmax(-1) + 1
    want[abundances.max(-1) < 0.6] = 0
    np.testing.assert_array_equal(scene.labels, want)
    assert 0 < (want == 0).sum() < want.size  # the threshold did something, and left labels


def test_abundances_are_found_among_the_arrays(tmp_path):
    """No data.labels_key: of Y (bands, pixels), S_GT (H, W, K) and GT (K, bands), only S_GT sums to 1 per pixel."""
    _, abundances = moffett_like(tmp_path / "m.mat")
    scene = load(tmp_path / "m.mat", labels=str(tmp_path / "m.mat"), labels_encoding="abundances", axis_order="bands_pixels")
    np.testing.assert_array_equal(scene.labels, abundances.argmax(-1) + 1)


def test_abundances_not_summing_to_one_are_noted(tmp_path, store):
    cube, abundances = scene_arrays()
    np.save(tmp_path / "cube.npy", cube)
    np.save(tmp_path / "ab.npy", abundances * 2)
    scene = open_scene(tmp_path / "cube.npy", tmp_path / "ab.npy", labels_encoding="abundances")
    [note] = scene.notes
    assert "ab.npy" in note and "sum to 2..2 per pixel" in note
    np.testing.assert_array_equal(scene.labels, abundances.argmax(-1) + 1)  # labels all the same
    # The notices come as the data is loaded, before the split (here refused, so that no training is paid for).
    r = cli_run(["--dataset", str(tmp_path / "cube.npy"), "--labels", str(tmp_path / "ab.npy"),
                 "--set", "data.labels_encoding=abundances", "--set", "split.train_per_class=10000"], store)
    assert r.exit_code == 2 and "too few for 10000 per class" in r.output, r.output
    assert [line for line in r.output.splitlines() if "sum to" in line] == [note]  # one line, as the scene noted it


# ----------------------------------------------------------------------------- detection and its messages


def test_detection_never_takes_abundances_as_a_three_band_cube(tmp_path):
    moffett_like(tmp_path / "m.mat")
    with pytest.raises(HsframeError) as exc:
        read_array(tmp_path / "m.mat")  # S_GT is the only 3-D array: once taken silently, failing later on its 3 bands
    msg = str(exc.value)
    assert "S_GT would give only 3 bands" in msg and "Y (40, 480) float64" in msg and "S_GT (24, 20, 3) float64" in msg
    assert "--set data.cube_key=Y --set data.axis_order=bands_pixels --set data.shape=[H,W] with H*W = 480" in msg
    with pytest.raises(HsframeError, match=r"--set data.cube_key=Y --set data.axis_order=bands_pixels --set data.shape=\[24,20\];"):
        read_array(tmp_path / "m.mat", spatial_shape=(H, W))  # the labels' (H, W) known: the exact shape
    # a real cube beside a larger matrix with fewer rows than it has bands is still taken (today's rule)
    scipy.io.savemat(tmp_path / "c.mat", {"cube": np.ones((4, 5, 30)), "big": np.ones((20, 1000))})
    assert read_array(tmp_path / "c.mat").metadata["key"] == "cube"


def test_a_two_d_cube_key_says_how_to_read_a_matrix(tmp_path):
    """The bug: --set data.cube_key=Y on a 2-D array answered 'Name the cube's array with data.cube_key'."""
    moffett_like(tmp_path / "m.mat")
    with pytest.raises(HsframeError) as exc:
        read_array(tmp_path / "m.mat", key="Y")
    msg = str(exc.value)
    assert "it is 2-D, (40, 480)" in msg and "--set data.axis_order=bands_pixels --set data.shape=[H,W]" in msg
    assert "Name the cube's array" not in msg


def test_abundances_given_as_a_label_map_say_how_to_read_them(tmp_path):
    moffett_like(tmp_path / "m.mat")
    with pytest.raises(HsframeError, match=r"S_GT \(24, 20, 3\) sums to 1 per pixel.*: --set data.labels_encoding=abundances "
                                           r"--set data.labels_key=S_GT$"):
        read_array(tmp_path / "m.mat", kind="labels")
    with pytest.raises(HsframeError, match=r"must be a 2-D \(H, W\) map.*--set data.labels_encoding=abundances\.$"):
        read_array(tmp_path / "m.mat", key="S_GT", kind="labels")


def test_ambiguous_arrays_list_the_exact_setting(tmp_path):
    scipy.io.savemat(tmp_path / "two.mat", {"a": np.ones((4, 5, 6)), "b": np.ones((8, 9, 10))})
    with pytest.raises(HsframeError, match=r"Arrays: a \(4, 5, 6\) float64, b \(8, 9, 10\) float64\. .*--set data\.cube_key=b\."):
        read_array(tmp_path / "two.mat")


# ----------------------------------------------------------------------------- the command line


def test_moffett_like_trains_from_the_command_line(tmp_path, store):
    moffett_like(tmp_path / "moffett.mat")
    out = tmp_path / "s.json"
    m = str(tmp_path / "moffett.mat")
    r = cli_run(["--dataset", m, "--labels", m, "--set", "data.labels_encoding=abundances", "--set", "data.axis_order=bands_pixels",
                 "--set", "data.class_names=[Soil,Tree,Water]", "--set", "data.palette=[[160,110,60],[30,140,30],[30,110,250]]"],
                store, out)
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())
    assert [c["name"] for c in s["per_class"]] == ["Soil", "Tree", "Water"] and sum(s["counts"].values()) == H * W
    [run] = runs_of(store)
    assert run.info.status == "FINISHED"


ABUNDANCES = ["--labels", "LABELS", "data.labels_encoding=abundances", "data.axis_order=bands_pixels"]  # settings become --set


@pytest.mark.parametrize("args, message", [
    (["data.axis_order=bands_pixels", "data.cube_key=Y", "data.shape=[10,10]"],
     "data.shape [10,10] makes 100 pixels, but the bands x pixels matrix (40, 480)"),
    (["data.axis_order=bands_pixels", "data.shape=[10,10]"], "data.shape [10,10] makes 100 pixels, but no 2-D array"),
    (["data.axis_order=bands_pixels", "data.cube_key=Y"], "give the image's size with --set data.shape=[H,W], H*W = 480"),
    ([*ABUNDANCES, "data.class_names=[a,b]"], "data.class_names gives 2 names but 'm.mat' holds 3 classes (ids 1, 2, 3); give exactly 3"),
    ([*ABUNDANCES, "data.palette=[[1,2,3]]"], "data.palette gives 1 colours but 'm.mat' holds 3 classes"),
    (["data.purity_threshold=0.5"], "purity_threshold only applies to abundance labels"),
    (["data.class_names=[a,b]", "data.palette=[[1,2,3]]"], "data.palette has 1 colours but data.class_names has 2 names"),
    (["data.layout=volumes", "data.labels_encoding=abundances"], "data.labels_encoding apply to a hyperspectral scene"),
])
def test_bad_layout_input_is_one_line_exit_2_no_run(tmp_path, store, args, message):
    moffett_like(tmp_path / "m.mat")
    m = str(tmp_path / "m.mat")
    args = [m if a == "LABELS" else a for a in args]
    r = cli_run(["--dataset", m, *[x for a in args for x in ((a,) if a.startswith("-") or a == m else ("--set", a))]], store)
    assert r.exit_code == 2, r.output
    assert message in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert no_run(store)


def test_class_names_and_palette_from_a_sidecar(tmp_path):
    cube, abundances = scene_arrays()
    np.save(tmp_path / "cube.npy", cube)
    scipy.io.savemat(tmp_path / "gt.mat", {"gt": (abundances.argmax(-1) + 1).astype(np.uint8)})
    sidecar = tmp_path / "gt.classes.json"
    sidecar.write_text(json.dumps({"class_names": ["Soil", "Tree", "Water"], "palette": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}))
    scene = load(tmp_path / "cube.npy", labels=str(tmp_path / "gt.mat"))
    assert scene.class_names == ["Soil", "Tree", "Water"] and scene.palette == [(1, 2, 3), (4, 5, 6), (7, 8, 9)]
    scene = load(tmp_path / "cube.npy", labels=str(tmp_path / "gt.mat"), class_names=["a", "b", "c"])  # the option wins
    assert scene.class_names == ["a", "b", "c"] and scene.palette == [(1, 2, 3), (4, 5, 6), (7, 8, 9)]
    sidecar.write_text(json.dumps({"class_names": ["Soil", "Tree"]}))
    with pytest.raises(HsframeError, match=r"^class file .*gt\.classes\.json: class_names gives 2 names but 'cube' holds 3 "):
        load(tmp_path / "cube.npy", labels=str(tmp_path / "gt.mat"))
    sidecar.write_text('{"names": ["a"]}')
    with pytest.raises(HsframeError, match=r"gt\.classes\.json must hold a mapping with class_names"):
        load(tmp_path / "cube.npy", labels=str(tmp_path / "gt.mat"))


# ----------------------------------------------------------------------------- real data


@needs
def test_samson_envi_and_mat_pixels_line_up():
    """The ENVI file (int16) and Samson.mat's Y (column-major, scaled to [0, 1]) are the same pixels: F order, not C."""
    envi = read_array(SAMSON / "samson_1.img.hdr").data
    mat = read_array(SAMSON / "Samson.mat", key="Y", axis_order="bands_pixels", spatial_shape=(95, 95)).data
    assert envi.shape == mat.shape == (95, 95, 156)
    assert np.corrcoef(envi.ravel(), mat.ravel())[0, 1] > 0.9999
    row_major = read_array(SAMSON / "Samson.mat", key="Y", axis_order="bands_pixels", spatial_shape=(95, 95), pixel_order="C").data
    assert np.corrcoef(envi.ravel(), row_major.ravel())[0, 1] < 0.9


@needs
def test_samson_from_the_envi_file_with_abundance_labels_on_the_command_line(tmp_path, store):
    out = tmp_path / "s.json"
    r = cli_run(["--dataset", str(SAMSON / "samson_1.img"), "--labels", str(SAMSON / "Samson.mat"),
                 "--set", "data.labels_key=S_GT", "--set", "data.labels_encoding=abundances",
                 "--set", "data.class_names=[Soil,Tree,Water]"], store, out)
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())
    assert [c["name"] for c in s["per_class"]] == ["Soil", "Tree", "Water"]
    assert sum(s["counts"].values()) == 95 * 95  # argmax labels every pixel (3015 / 3666 / 2344)
    [run] = runs_of(store)
    assert run.info.status == "FINISHED"


@needs
def test_samson_mat_y_as_bands_pixels_on_the_command_line(tmp_path, store):
    out = tmp_path / "s.json"
    mat = str(SAMSON / "Samson.mat")
    r = cli_run(["--dataset", mat, "--labels", mat, "--set", "data.labels_encoding=abundances", "--set", "data.axis_order=bands_pixels",
                 "--set", "data.purity_threshold=0.6"], store, out)
    assert r.exit_code == 0, r.output
    s = json.loads(out.read_text())
    assert 0.8 * 9025 < sum(s["counts"].values()) < 0.9 * 9025  # 85% of the pixels are purer than 0.6 (shared README)
    assert [run.info.status for run in runs_of(store)] == ["FINISHED"]


@pytest.mark.skipif(not JASPER.is_dir(), reason=f"real data folder {JASPER} is absent")
def test_jasper_abundance_matrix_matches_its_abundance_cube():
    """Jasper.mat holds the abundances twice: A (4, 10000), column-major pixels, and S_GT (100, 100, 4)."""
    jasper = JASPER / "Jasper.mat"
    matrix = open_scene(jasper, jasper, cube_key="Y", labels_key="A", axis_order="bands_pixels", shape=(100, 100),
                        labels_encoding="abundances")
    cube = open_scene(jasper, jasper, cube_key="Y", labels_key="S_GT", axis_order="bands_pixels", labels_encoding="abundances")
    np.testing.assert_array_equal(matrix.labels, cube.labels)
    assert np.bincount(cube.labels.ravel()).tolist() == [0, 3493, 3326, 2428, 753]  # the shared README's counts
