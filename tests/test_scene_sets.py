"""Scene sets: tiles (GeoTIFF via tifffile, as real sets ship them), per-file and per-pixel splits, tile-local patches,
features fitted on training tiles only, a map per tile, and the bad inputs."""
import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from conftest import runs_of

import hsframe
from hsframe.cli import cli
from hsframe.config import RunConfig
from hsframe.data.scene_set import open_tile_set
from hsframe.plugins import get_plugins
from hsframe.recording import MemoryRecorder
from hsframe.tasks import make_task

NODATA = -32768.0
BANDS = 20
SUBSETS = {"train": ["t0.tif", "t1.tif", "t2.tif"], "validation": ["t3.tif"], "test": ["t4.tif"]}


def write_tile_set(root, n=5, size=16, bands=BANDS, offsets=None, bad_band=3):
    """``n`` tiles (bands, H, W) float32 x 10000 with GDAL_NODATA and a band of nodata only; labels 0-3; the split CSVs."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    means = rng.uniform(500, 4000, (4, bands))
    for i in range(n):
        labels = np.zeros((size, size), np.uint8)
        labels[2:8, 2:14], labels[9:14, 2:8], labels[9:14, 9:14] = 1, 2, 3
        cube = means[labels].transpose(2, 0, 1) + rng.normal(0, 50, (bands, size, size)) + (offsets or {}).get(i, 0.0)
        cube[bad_band] = NODATA
        tifffile.imwrite(root / "images" / f"t{i}.tif", cube.astype(np.float32), extratags=[(42113, "s", 0, "-32768", True)])
        tifffile.imwrite(root / "labels" / f"t{i}.tif", labels)
    for subset, tiles in SUBSETS.items():
        rows = ["image,mask"] + [f"images/{t},labels/{t}" for t in tiles]
        (root / f"{subset}_files.csv").write_text("\n".join(rows) + "\n")
    return root


def tile_run_args(root, *extra):
    return ["--dataset", str(root), "--set", "split.method=files", "--set", f"split.train_files={root / 'train_files.csv'}",
            "--set", f"split.val_files={root / 'validation_files.csv'}", "--set", f"split.test_files={root / 'test_files.csv'}",
            "--set", "train.epochs=1", "--set", "data.patch_size=9", "--set", "data.pca_components=13",
            "--set", "train.batch_size=64", "--set", "train.checkpoint_dir=null", *extra]


def run_memory(root, sets):
    rec = MemoryRecorder()
    summary = hsframe.run({"model": "hybridsn", "data.dataset": str(root), "train.epochs": 1, "data.patch_size": 9,
                           "data.pca_components": 13, "train.batch_size": 64, "train.checkpoint_dir": None, **sets},
                          recorder=rec, quiet=True)
    return summary, rec.runs[summary.run_id]


def test_per_file_split_trains_with_tile_local_maps(tmp_path):
    root = write_tile_set(tmp_path / "set")
    labeled = {f"t{i}.tif": int((tifffile.imread(root / "labels" / f"t{i}.tif") > 0).sum()) for i in range(5)}
    summary, run = run_memory(root, {"split.method": "files", "split.train_files": str(root / "train_files.csv"),
                                     "split.val_files": ["t3.tif"], "split.test_files": str(root / "test_files.csv")})
    want = {s: sum(labeled[t] for t in tiles) for s, tiles in zip(("train", "val", "test"), SUBSETS.values())}
    assert summary.counts == want
    assert run.metric("leakage_test_in_train_window") == 0.0 and run.metric("leakage_val_in_train_window") == 0.0
    assert run.params["tiles"] == "5" and run.params["split"].startswith("per file: 3 train / 1 val / 1 test tiles")
    for i in range(5):  # a map per tile, named after it
        assert f"predictions/tiles/t{i}/classification_map.npy" in run.artifacts
        assert f"figures/tiles/t{i}/classification_map.png" in run.artifacts
    table = run.artifacts["predictions/tiles.csv"].splitlines()
    assert table[0] == "tile,subset,train,val,test" and table[5].startswith("t4.tif,,0,0,")


def test_leakage_report_covers_the_set(tmp_path):
    root = write_tile_set(tmp_path / "set")
    cfg = RunConfig.model_validate({"data": {"dataset": str(root), "patch_size": 5, "pca_components": 4}})
    from hsframe.data.resolve import load_dataset, resolve_dataset

    plugins = get_plugins()
    task = make_task(cfg, load_dataset(cfg, resolve_dataset(cfg, plugins)))
    files = plugins.split("files")
    split = task.split(files, files.options({"train_files": ["t0.tif", "t1.tif"], "val_files": ["t2.tif"]}), 0)
    report = task.leakage(split)
    assert report["test_in_train_window"] == 0.0 and report["val_in_train_window"] == 0.0  # tiles never share a window
    rnd = plugins.split("random")  # per pixel across every tile: neighbours leak, and the report says so
    split = task.split(rnd, rnd.options({"train_fraction": 0.3, "val_fraction": 0.1}), 0)
    tiles_hit = set(task.tile_of(split.grid.train))
    assert tiles_hit == {0, 1, 2, 3, 4} and task.leakage(split)["test_in_train_window"] > 0.5


@pytest.mark.parametrize("padding", ["zero", "reflect"])
def test_patches_never_cross_tile_edges(tmp_path, padding):
    # Two flat tiles of very different values: a patch at a tile's edge reads only its own tile (and zero padding).
    root = tmp_path / "two"
    for d in ("images", "labels"):
        (root / d).mkdir(parents=True)
    for i, value in enumerate((100.0, 9000.0)):
        tifffile.imwrite(root / "images" / f"t{i}.tif", np.full((3, 8, 8), value, np.float32) + np.arange(3)[:, None, None])
        labels = np.ones((8, 8), np.uint8)
        labels[4:] = 2
        tifffile.imwrite(root / "labels" / f"t{i}.tif", labels)
    cfg = RunConfig.model_validate({"data": {"dataset": str(root), "patch_size": 7, "pca_components": None, "standardize": False,
                                             "padding": padding}})
    from hsframe.data.resolve import load_dataset, resolve_dataset

    task = make_task(cfg, load_dataset(cfg, resolve_dataset(cfg, get_plugins())))
    rec = MemoryRecorder()
    with rec.run("t", {}):
        samples = task.fit_samples(task.canvas_index[:64], "cpu", rec)  # tile 0's pixels only
    corners = task.canvas_index[[63, 64]]  # tile 0's last pixel, tile 1's first
    patches = samples.source.patches(corners).numpy()[:, 0, 0]  # band 0
    own = {0: 100.0 - 100.0, 1: 9000.0 - 100.0}  # features = values minus the training (tile 0) mean
    for k in (0, 1):
        values = set(np.unique(patches[k]).round(3))
        assert values <= ({own[k], 0.0} if padding == "zero" else {own[k]}), values


def test_features_fitted_on_training_tiles_only(tmp_path):
    root = write_tile_set(tmp_path / "set", offsets={4: 5000.0})  # the test tile is far brighter
    _, run = run_memory(root, {"split.method": "files", "split.train_files": ["t0.tif", "t1.tif", "t2.tif"],
                               "split.val_files": ["t3.tif"], "data.pca_components": None, "data.standardize": False})
    from safetensors.numpy import load

    mean = load(run.artifacts["preprocess/preprocessor.safetensors"])["mean"]
    pixels = np.concatenate([tifffile.imread(root / "images" / f"t{i}.tif").reshape(BANDS, -1) for i in range(3)], axis=1)
    labels = np.concatenate([tifffile.imread(root / "labels" / f"t{i}.tif").reshape(-1) for i in range(3)])
    want = np.delete(pixels[:, labels > 0], 3, axis=0).mean(1)  # the training pixels, the nodata band dropped
    assert np.allclose(mean, want, rtol=1e-4)


def test_folder_without_lists_splits_per_pixel(tmp_path):
    root = write_tile_set(tmp_path / "set")
    summary, run = run_memory(root, {"split.method": "random", "split.train_fraction": 0.3})
    total = sum(int((tifffile.imread(root / "labels" / f"t{i}.tif") > 0).sum()) for i in range(5))
    assert sum(summary.counts.values()) == total and summary.counts["test"] > 0.6 * total


def test_nodata_pixel_becomes_unlabeled(tmp_path):
    root = write_tile_set(tmp_path / "set", n=2)
    cube = tifffile.imread(root / "images" / "t0.tif")
    cube[5, 3, 3] = NODATA  # a labeled pixel (class 1) missing one kept band
    tifffile.imwrite(root / "images" / "t0.tif", cube, extratags=[(42113, "s", 0, "-32768", True)])
    pairs = [(root / "images" / f"t{i}.tif", root / "labels" / f"t{i}.tif") for i in range(2)]
    data = open_tile_set(pairs, name="set")
    assert data.bands == BANDS - 1 and data.tile_labels(0)[3, 3] == 0 and data.tile_labels(1)[3, 3] == 1
    assert data.tiles[0].cube[3, 3, 4] == 0.0 and np.isfinite(data.tiles[0].cube).all()
    assert data.notes[0] == "dropped 1 band(s) holding only nodata (-32768) in every tile: 3 (0-based)"
    assert data.notes[1] == "1 labeled pixel(s) hold nodata in a kept band: made unlabeled"


@pytest.mark.parametrize("case, expected", [
    ("missing", "tile file"),
    ("bands", "tile t1.tif has 7 bands but tile t0.tif has 20"),
    ("column", "unknown column 'weight'"),
])
def test_bad_tile_sets_stop_before_a_run(tmp_path, store, case, expected):
    root = write_tile_set(tmp_path / "set")
    if case == "missing":
        (root / "test_files.csv").write_text("image,mask\nimages/t9.tif,labels/t9.tif\n")
        args = ["--dataset", str(root / "test_files.csv")]
    elif case == "bands":
        tifffile.imwrite(root / "images" / "t1.tif", np.ones((7, 16, 16), np.float32))
        args = ["--dataset", str(root)]
    else:
        (root / "train_files.csv").write_text("image,mask,weight\nimages/t0.tif,labels/t0.tif,1\n")
        args = tile_run_args(root)
    r = CliRunner().invoke(cli, ["run", *args, "--tracking-uri", store])
    assert r.exit_code == 2, r.output
    [line] = [x for x in r.output.splitlines() if x.startswith("Error:")]  # one line (a data notice may precede it)
    assert expected in line and "Traceback" not in r.output and r.output.strip().endswith(line)
    if case == "missing":
        assert "t9.tif" in line
    assert runs_of(store) == []


def test_files_split_refuses_one_scene_and_unknown_tiles(tmp_path, store):
    r = CliRunner().invoke(cli, ["run", "--set", "split.method=files", "--set", "split.train_files=[a.tif]", "--tracking-uri", store])
    assert r.exit_code == 2 and "splits a scene set" in r.output
    root = write_tile_set(tmp_path / "set")
    r = CliRunner().invoke(cli, ["run", "--dataset", str(root), "--set", "split.method=files", "--set", "split.train_files=[t7.tif]",
                                 "--tracking-uri", store])
    assert r.exit_code == 2 and "names tile t7.tif, which is not in the scene set" in r.output
    assert runs_of(store) == []


def test_card_validation_of_tiles():
    from hsframe.data.catalog import DatasetCard

    base = {"name": "x", "title": "x", "description": "x", "shape": [4, 4, 3], "num_classes": 1, "class_names": ["a"],
            "palette": [[1, 2, 3]], "rgb_bands": [0, 1, 2], "citation": "x", "license": "x", "source": "x",
            "manual_download": True, "download_instructions": "x", "files": [{"name": "train.csv"}]}
    card = DatasetCard.model_validate({**base, "tiles": {"train": "train.csv", "nodata": -1}})
    assert card.tiles.lists == {"train": "train.csv"}
    with pytest.raises(ValueError, match="'test.csv' is not one of the files"):
        DatasetCard.model_validate({**base, "tiles": {"train": "train.csv", "test": "test.csv"}})
    with pytest.raises(ValueError, match="needs cube"):
        DatasetCard.model_validate(base)
    with pytest.raises(ValueError, match="scale or band_stats"):
        DatasetCard.model_validate({**base, "tiles": {"train": "train.csv", "scale": 1e-4, "band_stats": "train.csv"}})


def test_images_folder_with_a_labels_folder_and_a_blocks_split(tmp_path):
    root = write_tile_set(tmp_path / "set")
    cfg = RunConfig.model_validate({"data": {"dataset": str(root / "images"), "labels": str(root / "labels"), "patch_size": 5,
                                             "pca_components": 4}})
    from hsframe.data.resolve import load_dataset, resolve_dataset

    plugins = get_plugins()
    task = make_task(cfg, load_dataset(cfg, resolve_dataset(cfg, plugins)))
    assert task.data.tile_names == [f"t{i}.tif" for i in range(5)]
    blocks = plugins.split("blocks")
    split = task.split(blocks, blocks.options({"train_fraction": 0.5, "block_size": 8}), 0)
    assert task.leakage(split)["test_in_train_window"] == 0.0 and len(split.grid.test) and len(split.grid.train)


def test_tiles_the_user_names_leave_the_published_lists_in_force_for_the_rest(tmp_path):
    """Naming only the training tiles keeps the published validation and test tiles (a published tile the user
    moved to training stays there); no published list is replaced by 'every other tile'."""
    import dataclasses

    root = write_tile_set(tmp_path / "set")
    cfg = RunConfig.model_validate({"data": {"dataset": str(root), "patch_size": 5, "pca_components": 4}})
    from hsframe.data.resolve import load_dataset, resolve_dataset

    plugins = get_plugins()
    task = make_task(cfg, load_dataset(cfg, resolve_dataset(cfg, plugins)))
    published = {"t0.tif": "train", "t1.tif": "train", "t2.tif": "val", "t3.tif": "test", "t4.tif": "test"}
    task.grid = dataclasses.replace(task.grid, group_subsets=published)
    files = plugins.split("files")
    split = task.split(files, files.options({"train_files": ["t0.tif", "t3.tif"]}), 0)
    subsets = {name: {task.tile_of(np.array([i]))[0] for i in getattr(split.grid, name)} for name in ("train", "val", "test")}
    assert subsets == {"train": {0, 3}, "val": {2}, "test": {4}}  # t1 (published train, not named) is in no subset


def test_a_tile_with_nan_is_read_with_data_nan_fill(tmp_path, store):
    """A NaN refuses the set, with the advice to set data.nan_fill; with it the set trains (the advice works)."""
    root = write_tile_set(tmp_path / "set")
    cube = tifffile.imread(root / "images" / "t1.tif")
    cube[0, 4, 4] = np.nan  # one value of a band that holds data (band 3 is the all-nodata one)
    tifffile.imwrite(root / "images" / "t1.tif", cube, extratags=[(42113, "s", 0, "-32768", True)])
    args = ["run", *tile_run_args(root), "--model", "conv3d", "--set", "eval.full_map=false", "--tracking-uri", store]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "data.nan_fill" in r.output
    r = CliRunner().invoke(cli, [*args, "--set", "data.nan_fill=0"])
    assert r.exit_code == 0, r.output


def test_a_tile_list_option_takes_one_name_a_list_or_a_csv(tmp_path):
    from hsframe.data.tile_lists import tile_names

    csv = tmp_path / "test_files.csv"
    csv.write_text("image,mask\nimages/t4.tif,labels/t4.tif\n")
    assert tile_names("t4.tif", "split.test_files") == ["t4.tif"]
    assert tile_names(["images/t3.tif", "t4.tif"], "split.test_files") == ["t3.tif", "t4.tif"]
    assert tile_names(str(csv), "split.test_files") == ["t4.tif"]


def test_a_scene_set_listed_on_the_command_line(tmp_path, store):
    """data.tiles: the (image, labels) pairs inline; a missing file is named; with data.dataset as well it is refused."""
    root = write_tile_set(tmp_path / "set")
    pairs = ",".join(f"[{root / 'images' / f't{i}.tif'},{root / 'labels' / f't{i}.tif'}]" for i in range(5))
    args = ["run", "--model", "conv3d", "--set", f"data.tiles=[{pairs}]", "--set", "split.method=files",
            "--set", "split.train_files=[t0.tif,t1.tif,t2.tif]", "--set", "split.val_files=t3.tif", "--set", "data.patch_size=5",
            "--set", "data.pca_components=4", "--set", "train.epochs=1", "--set", "eval.full_map=false", "--tracking-uri", store]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    run = runs_of(store)[0]
    assert run.data.params["dataset"] == "tiles" and run.data.params["split"].startswith("per file: 3 train / 1 val / 1 test tiles")
    missing = [a.replace("t4.tif]", "t9.tif]") if a.startswith("data.tiles") else a for a in args]
    r = CliRunner().invoke(cli, missing)
    assert r.exit_code == 2 and "t9.tif not found" in r.output
    r = CliRunner().invoke(cli, [*args, "--dataset", str(root)])
    assert r.exit_code == 2 and "give one of them" in r.output
