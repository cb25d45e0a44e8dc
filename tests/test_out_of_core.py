"""Out-of-core scenes (data.out_of_core): the cube stays in its .npy / ENVI / HDF5 file, read a block of rows at a time,
and gives exactly what the in-memory path gives."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import runs_of

from hsframe.cli import cli
from hsframe.config import RunConfig
from hsframe.data import lazy_cube, patches
from hsframe.data.lazy_cube import LazyCube, fit_pixels, pixels_at
from hsframe.data.preprocess import Preprocessor, fit_preprocessor
from hsframe.data.readers import open_scene
from hsframe.data.value_range import ValueRange
from hsframe.errors import HsframeError
from hsframe.figures import false_colour, write_classification_map
from hsframe.inference import infer_samples
from hsframe.recording import MemoryRecorder
from hsframe.tasks import make_task

H, W, B = 30, 26, 20


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A (H, W, B) cube of four classes in quadrants (class spectra + noise, one NaN) and its label map."""
    rng = np.random.default_rng(1)
    labels = np.zeros((H, W), np.int64)
    labels[: H // 2, : W // 2], labels[: H // 2, W // 2 :], labels[H // 2 :, : W // 2], labels[H // 2 :, W // 2 :] = 1, 2, 3, 4
    labels[::7, ::5] = 0
    spectra = rng.random((5, B))
    cube = (spectra[labels] + 0.2 * rng.standard_normal((H, W, B))).astype(np.float32)
    cube[3, 4, 5] = np.nan
    return cube, labels


def _write(fmt: str, folder: Path) -> Path:
    cube, labels = _scene()
    np.save(folder / "labels.npy", labels)
    if fmt == "npy":
        np.save(folder / "cube.npy", cube)
        return folder / "cube.npy"
    if fmt == "hdf5":
        import h5py

        with h5py.File(folder / "cube.h5", "w") as f:
            f.create_dataset("cube", data=cube.transpose(2, 0, 1), chunks=(B, 4, W))  # stored (B, H, W), chunked
        return folder / "cube.h5"
    order = {"envi-bsq": (2, 0, 1), "envi-bil": (0, 2, 1)}[fmt]
    cube.astype(">f4").transpose(order).tofile(folder / "cube.img")  # big-endian, in the file's interleave
    (folder / "cube.hdr").write_text(f"ENVI\nsamples = {W}\nlines = {H}\nbands = {B}\nheader offset = 0\ndata type = 4\n"
                                     f"interleave = {fmt[-3:]}\nbyte order = 1\n")
    return folder / "cube.img"


FORMATS = ["npy", "envi-bsq", "envi-bil", "hdf5"]


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Blocks of 4 image rows, so that even this small scene is read and projected in several."""
    monkeypatch.setattr(lazy_cube, "CHUNK_BYTES", 4 * W * B * 4)
    return 4


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_out_of_core_scene_reads_and_projects_exactly_as_in_memory(tmp_path: Path, fmt: str, small_blocks: int) -> None:
    path = _write(fmt, tmp_path)
    mem = open_scene(path, tmp_path / "labels.npy", nan_fill=0.0)
    lazy = open_scene(path, tmp_path / "labels.npy", nan_fill=0.0, out_of_core=True)
    assert isinstance(mem.cube, np.ndarray) and isinstance(lazy.cube, LazyCube)
    assert lazy.shape == mem.shape == (H, W, B) and lazy.nonfinite_replaced == mem.nonfinite_replaced == 1
    assert np.array_equal(lazy.labels, mem.labels) and lazy.class_names == mem.class_names
    assert np.array_equal(np.asarray(lazy.cube), mem.cube)
    assert np.array_equal(lazy.cube[:, :, [15, 9, 2]], mem.cube[:, :, [15, 9, 2]])
    assert np.array_equal(false_colour(lazy.cube), false_colour(mem.cube))
    assert ValueRange.of(lazy.cube) == ValueRange.of(mem.cube)
    train = np.random.default_rng(0).permutation(H * W)[:200]  # unsorted, as a split gives them
    assert np.array_equal(pixels_at(lazy.cube, train), pixels_at(mem.cube, train))
    pre = fit_preprocessor(pixels_at(mem.cube, train), 6)
    assert torch.equal(pre.transform(lazy.cube), pre.transform(mem.cube))


def test_nan_without_nan_fill_is_refused_out_of_core_as_in_memory(tmp_path: Path) -> None:
    path = _write("npy", tmp_path)
    for out_of_core in (False, True):
        with pytest.raises(HsframeError, match=r"cube.npy holds 1 non-finite values \(1 NaN, 0 Inf.*Set data.nan_fill"):
            open_scene(path, tmp_path / "labels.npy", out_of_core=out_of_core)


def test_the_projection_goes_block_by_block(tmp_path: Path, small_blocks: int, monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = open_scene(_write("npy", tmp_path), tmp_path / "labels.npy", nan_fill=0.0, out_of_core=True)
    pre = fit_preprocessor(pixels_at(lazy.cube, None), 6)
    seen: list[tuple[int, ...]] = []
    project = Preprocessor._project
    monkeypatch.setattr(Preprocessor, "_project", lambda self, block, device: (seen.append(tuple(block.shape)), project(self, block, device))[1])
    features = pre.transform(lazy.cube)
    assert seen == [(4, W, B)] * (H // 4) + [(H % 4, W, B)]  # never more than one block of the file in memory
    monkeypatch.setattr(lazy_cube, "CHUNK_BYTES", 2**30)
    whole = pre.transform(np.asarray(lazy.cube))
    assert seen[-1] == (H, W, B) and features.shape == (6, H, W)
    assert torch.allclose(features, whole, atol=1e-5)


def test_features_are_fitted_on_a_seeded_sample_of_at_most_fit_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write("npy", tmp_path)
    mem = open_scene(path, tmp_path / "labels.npy", nan_fill=0.0)
    lazy = open_scene(path, tmp_path / "labels.npy", nan_fill=0.0, out_of_core=True)
    monkeypatch.setattr(lazy_cube, "FIT_PIXELS", 50)
    train = np.random.default_rng(0).permutation(H * W)[:200]
    sample = fit_pixels(lazy.cube, train, seed=3)
    assert sample.shape == (50, B) and np.array_equal(sample, fit_pixels(lazy.cube, train, seed=3))
    assert not np.array_equal(sample, fit_pixels(lazy.cube, train, seed=4))
    assert {tuple(p) for p in sample} <= {tuple(p) for p in mem.cube.reshape(-1, B)[train]}
    assert fit_pixels(lazy.cube, None, seed=3).shape == (50, B)
    assert np.array_equal(fit_pixels(mem.cube, train, seed=3), mem.cube.reshape(-1, B)[train])  # in memory: every training pixel


def test_auto_keeps_small_cubes_in_memory_and_formats_without_partial_reads_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write("npy", tmp_path)
    assert isinstance(open_scene(path, nan_fill=0.0, out_of_core="auto").cube, np.ndarray)
    monkeypatch.setattr("hsframe.data.readers.LAZY_ABOVE", H * W * B * 4 - 1)
    assert isinstance(open_scene(path, nan_fill=0.0, out_of_core="auto").cube, LazyCube)
    np.savez(tmp_path / "cube.npz", cube=np.load(path))  # zip members are read whole by numpy: loaded as before
    assert isinstance(open_scene(tmp_path / "cube.npz", nan_fill=0.0, out_of_core=True).cube, np.ndarray)


def _run(path: Path, store: str, summary: Path, *extra: str):
    return CliRunner().invoke(cli, ["run", "--dataset", str(path), "--labels", str(path.parent / "labels.npy"), "--model", "hybridsn",
                                    "--set", "data.patch_size=9", "--set", "data.pca_components=13", "--set", "data.nan_fill=0",
                                    "--set", "train.epochs=1", "--set", "train.batch_size=32", "--set", "split.train_fraction=0.2",
                                    "--tracking-uri", store, "--summary-json", str(summary), *extra], catch_exceptions=False)


@pytest.mark.parametrize("fmt", ["npy", "envi-bsq", "hdf5"])
def test_a_run_out_of_core_equals_the_run_in_memory(tmp_path: Path, fmt: str, small_blocks: int, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(fmt, tmp_path)
    store = f"sqlite:///{tmp_path / 'm.db'}"
    summaries, reads = {}, []
    rows = LazyCube.rows
    monkeypatch.setattr(LazyCube, "rows", lambda self, a, b: (reads.append(b - a), rows(self, a, b))[1])
    for how in ("false", "true"):
        result = _run(path, store, tmp_path / f"{how}.json", "--set", f"data.out_of_core={how}")
        assert result.exit_code == 0, result.output
        assert (max(reads) == 4) if how == "true" else not reads  # out of core: read from the file, 4 rows at a time
        summaries[how] = json.loads((tmp_path / f"{how}.json").read_text())
    mem, lazy = summaries["false"], summaries["true"]
    assert lazy["metrics"] == mem["metrics"] and lazy["per_class"] == mem["per_class"]
    import mlflow

    client = mlflow.MlflowClient(store)
    logged = {how: {k: v for k, v in client.get_run(s["run_id"]).data.metrics.items() if not k.endswith("_seconds")}
              for how, s in summaries.items()}
    # The same features (PCA fit, projection), split and training: every loss and count to the last digit.
    assert logged["true"] == logged["false"]
    assert {"pca_explained_variance", "train_loss", "leakage_test_pixels_in_train_windows"} <= set(logged["true"])


def test_a_scene_holds_its_labels_and_its_feature_cube_once(tmp_path: Path, small_blocks: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # O(H x W x K), not a multiple of it: the features the whole-scene inference reads are the padded patch cube's interior
    # (not a second copy), the test pixels' patches come from the training's source, and the task's labels are the scene's.
    path = _write("npy", tmp_path)
    cfg = RunConfig.model_validate({"data": {"patch_size": 5, "pca_components": 6, "padding": "reflect"}})
    train, test = np.arange(0, H * W, 3), np.arange(1, H * W, 7)
    built: list[int] = []
    init = patches.PatchSource.__init__
    monkeypatch.setattr(patches.PatchSource, "__init__", lambda self, *a, **k: (built.append(1), init(self, *a, **k))[1])
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6 * 5 * 5, 4))
    got = {}
    for out_of_core in (False, True):
        scene = open_scene(path, tmp_path / "labels.npy", nan_fill=0.0, out_of_core=out_of_core)
        task = make_task(cfg, scene)
        assert np.shares_memory(task.labels, scene.labels)
        rec = MemoryRecorder()
        with rec.run("t", {}):
            samples = task.fit_samples(train, "cpu", rec)
        padded = samples.source.padded
        assert samples.features.shape == (6, H, W) and samples.features.data_ptr() == padded[:, 2:, 2:].data_ptr()
        built.clear()
        pred, how = samples.infer(model, test, 64, torch.device("cpu"), False)
        assert built == [] and how == "patch by patch"
        assert np.array_equal(pred, infer_samples(model, patches.PatchSource(samples.features.clone(), 5, "reflect"), test, 64,
                                                  torch.device("cpu"), False))
        got[out_of_core] = samples.features
    assert torch.equal(got[False], got[True])


def test_the_map_figure_takes_a_few_bytes_a_pixel_not_float64_copies(tmp_path: Path) -> None:
    # A large scene's map: false colour computed in float32 (no float64 steps), class images coloured after resampling
    # to the panel's pixels (no float64 RGBA copy of each, 32 bytes a pixel). Images larger than the panels, as a scene's are.
    import tracemalloc

    h = w = 800
    cube = np.random.default_rng(0).random((300, 300, 8), dtype=np.float32)
    labels = np.repeat(np.arange(h)[:, None] * 4 // h + 1, w, 1)
    names, palette = [f"c{i}" for i in range(1, 5)], [(200, 0, 0), (0, 200, 0), (0, 0, 200), (90, 90, 90)]
    write_classification_map(tmp_path, labels[:50, :50], labels[:50, :50], names, palette, "warm-up")  # matplotlib's one-time costs
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        rgb = false_colour(cube)
        colour_peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        write_classification_map(tmp_path, labels, labels, names, palette, "map")
        map_peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert colour_peak < 40 * 300 * 300  # float32 (12 bytes a pixel) and a copy to find the percentiles; in float64 it took 60
    assert rgb.dtype == np.float32 and rgb.shape == (300, 300, 3) and 0 <= rgb.min() and rgb.max() <= 1
    assert map_peak < 40 * h * w  # the int64 map saved as .npy and a few bytes a pixel for each panel; coloured first it took 90


def _one_line_and_no_run(path: Path, tmp_path: Path) -> str:
    """`hsframe run` on ``path``: exit 2 with one line and no MLflow run; that line."""
    store = f"sqlite:///{tmp_path / 'm.db'}"
    result = _run(path, store, tmp_path / "s.json")
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert runs_of(store) == []
    return lines[0]


@pytest.mark.parametrize("damage", ["truncated", "too long"])
def test_an_npy_cube_whose_header_disagrees_with_its_size_is_one_line_and_no_run(tmp_path: Path, damage: str) -> None:
    path = _write("npy", tmp_path)
    data = path.read_bytes()
    size = len(data) - 100 if damage == "truncated" else len(data) + 8
    path.write_bytes(data[:size] if damage == "truncated" else data + bytes(8))
    line = _one_line_and_no_run(path, tmp_path)
    assert f"says {H}x{W}x{B} float32 values, {len(data)} bytes" in line and f"the file has {size} bytes" in line


def test_an_envi_header_that_disagrees_with_its_image_is_one_line_and_no_run(tmp_path: Path) -> None:
    path = _write("envi-bsq", tmp_path)
    hdr = path.with_suffix(".hdr")
    hdr.write_text(hdr.read_text().replace(f"lines = {H}", f"lines = {H + 1}"))
    line = _one_line_and_no_run(path, tmp_path)
    assert f"need {(H + 1) * W * B * 4} bytes" in line and f"the file has {H * W * B * 4}" in line
