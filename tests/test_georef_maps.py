"""Georeferenced maps: a scene's transform and CRS read from GeoTIFF tags / ENVI map info, carried with the run,
and written by `hsframe predict` as a GeoTIFF or an ENVI classification; checked with readers other than ours."""
from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SHARED

import hsframe
from hsframe.cli import cli
from hsframe.data.readers import open_scene

H, W, B = 16, 20, 8
CHEAP = {"model": "spectral_1x1", "train.epochs": 1, "train.batch_size": 64, "data.patch_size": 1, "data.pca_components": 3,
         "train.checkpoint_dir": None, "eval.batch_size": 512, "split.train_fraction": 0.5, "split.val_fraction": 0.3}
# EnMAP Potsdam's own georeferencing (30 m, UTM 33N), written tag by tag as GDAL writes it.
ORIGIN, PIXEL, EPSG = (366015.0, 5809965.0), 30.0, 32633
TRANSFORM = (ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL)
GEOTIFF_TAGS = [
    (33550, "d", 3, (PIXEL, PIXEL, 0.0), True),
    (33922, "d", 6, (0.0, 0.0, 0.0, *ORIGIN, 0.0), True),
    (34735, "H", 24, (1, 1, 0, 5, 1024, 0, 1, 1, 1025, 0, 1, 1, 1026, 34737, 22, 0, 3072, 0, 1, EPSG, 3076, 0, 1, 9001), True),
    (34737, "s", 0, "WGS 84 / UTM zone 33N|", True),
]
# The same grid as ENVI states it, from reference pixel (2, 3) (1-based: the corner of the second column, third row).
ENVI_MAP_INFO = ["UTM", "2", "3", str(ORIGIN[0] + PIXEL), str(ORIGIN[1] - 2 * PIXEL), str(PIXEL), str(PIXEL), "33", "North",
                 "WGS-84", "units=Meters"]


def _cube(scale: float = 1.0) -> np.ndarray:
    """Three classes in column stripes, each with its own spectrum (a model learns them in one epoch), in [0, 1] x scale."""
    labels = _labels()
    rng = np.random.default_rng(0)
    spectra = rng.uniform(0.1, 0.9, size=(4, B))
    return (spectra[labels] + rng.normal(0, 0.01, (H, W, B))).clip(0, 1).astype(np.float32) * scale


def _labels() -> np.ndarray:
    return (np.arange(W) * 3 // W + 1)[None, :].repeat(H, 0).astype(np.int64)


def _write_geotiff(path, cube, tags=GEOTIFF_TAGS):
    import tifffile

    tifffile.imwrite(path, np.moveaxis(cube, -1, 0), photometric="minisblack", planarconfig="separate", extratags=tags, metadata=None)


def _write_envi(path, cube, map_info=ENVI_MAP_INFO, dtype=np.float32):
    import spectral.io.envi as envi

    envi.save_image(str(path), cube.astype(dtype), dtype=dtype, ext=".img", force=True, interleave="bsq",
                    metadata={"map info": map_info, "default bands": [5, 3, 1]})


def _geokeys_by_hand(directory, ascii_params=""):
    """GeoKey id -> value from the raw GeoKeyDirectory (GeoTIFF 1.1, section 7.1), independently of hsframe's parser."""
    version, revision, minor, n = directory[:4]
    assert (version, revision) == (1, 1)
    keys = {}
    for i in range(n):
        key, location, count, offset = directory[4 + 4 * i: 8 + 4 * i]
        keys[key] = offset if location == 0 else ascii_params[offset:offset + count] if location == 34737 else ("at", location)
    return keys


def _envi_header_fields(hdr_path):
    """``name = value`` pairs of an ENVI header read as text, braces stripped (independently of spectral)."""
    text = hdr_path.read_text()
    fields = {}
    for name, value in re.findall(r"^([a-z ]+?)\s*=\s*(\{[^}]*\}|[^\n]*)", text, flags=re.M):
        fields[name.strip()] = [v.strip() for v in value.strip("{}").split(",")] if value.startswith("{") else value.strip()
    return fields


# --------------------------------------------------------------------------- reading


def test_a_geotiffs_tags_give_the_scenes_transform_and_crs(tmp_path):
    _write_geotiff(tmp_path / "cube.tif", _cube())
    scene = open_scene(tmp_path / "cube.tif")
    assert scene.georef.transform == TRANSFORM and scene.georef.epsg == EPSG
    # A pixel-is-point file states the centre of the first pixel: the transform is moved to its corner, as GDAL does.
    point = [t if t[0] != 34735 else (34735, "H", 24, t[3][:8] + (1025, 0, 1, 2) + t[3][12:], True) for t in GEOTIFF_TAGS]
    _write_geotiff(tmp_path / "point.tif", _cube(), point)
    moved = open_scene(tmp_path / "point.tif").georef.transform
    assert moved == (ORIGIN[0] - PIXEL / 2, PIXEL, 0.0, ORIGIN[1] + PIXEL / 2, 0.0, -PIXEL)


def test_an_envi_map_info_gives_the_scenes_transform_and_crs(tmp_path):
    _write_envi(tmp_path / "cube.hdr", _cube())
    georef = open_scene(tmp_path / "cube.img").georef
    assert georef.transform == TRANSFORM and georef.epsg == EPSG  # UTM 33 North on WGS-84


def test_a_rotated_map_info_is_left_out_with_a_warning(tmp_path):
    _write_envi(tmp_path / "cube.hdr", _cube(), ENVI_MAP_INFO + ["rotation=12.5"])
    with pytest.warns(UserWarning, match="rotated by 12.5 degrees; hsframe reads north-up grids only"):
        assert open_scene(tmp_path / "cube.img").georef is None


def test_a_scene_without_georeferencing_has_none(tmp_path):
    np.save(tmp_path / "cube.npy", _cube())
    assert open_scene(tmp_path / "cube.npy").georef is None


# --------------------------------------------------------------------------- predict: GeoTIFF and ENVI out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One run trained on a GeoTIFF scene with labels, in [0, 1]."""
    tmp = tmp_path_factory.mktemp("georef")
    _write_geotiff(tmp / "scene.tif", _cube())
    np.save(tmp / "labels.npy", _labels())
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    summary = hsframe.run({**CHEAP, "data.dataset": str(tmp / "scene.tif"), "data.labels": str(tmp / "labels.npy")},
                          tracking_uri=store, quiet=True)
    return store, summary.run_id, tmp


def predict(trained, *args):
    store, run_id, _ = trained
    return CliRunner().invoke(cli, ["predict", "--run", run_id, "--tracking-uri", store, *args])


def test_the_run_records_the_scenes_georeferencing_and_value_range(trained):
    import mlflow

    from hsframe.data.georef import GeoReference

    store, run_id, _ = trained
    facts = json.loads(open(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="preprocess/scene.json",
                                                                tracking_uri=store)).read())
    assert GeoReference.from_json(facts["georef"]).transform == TRANSFORM and facts["georef"]["epsg"] == EPSG
    assert 0 <= facts["value_range"]["min"] <= facts["value_range"]["p50"] <= facts["value_range"]["max"] <= 1


def test_predict_writes_a_geotiff_at_the_inputs_transform_and_crs(trained, tmp_path):
    from PIL import Image

    _, _, data = trained
    r = predict(trained, "--dataset", str(data / "scene.tif"), "--out", str(tmp_path / "map.tif"), "--probabilities")
    assert r.exit_code == 0, r.output
    assert "warning" not in r.output and sorted(p.name for p in tmp_path.iterdir()) == ["map.tif", "map_probabilities.tif"]
    with Image.open(tmp_path / "map.tif") as im:  # Pillow: a TIFF reader that is not tifffile
        tags, classes = dict(im.tag_v2), np.array(im)
        assert im.mode == "P" and im.getpalette()[3:6] == [31, 119, 180]  # class 1 in its map colour (tab20's first)
    assert classes.dtype == np.uint8 and classes.shape == (H, W)
    assert tags[33550][:2] == (PIXEL, PIXEL) and tags[33922] == (0.0, 0.0, 0.0, *ORIGIN, 0.0)
    keys = _geokeys_by_hand(tags[34735], tags.get(34737, ""))
    assert keys[3072] == EPSG and keys[1024] == 1 and keys[1025] == 1  # projected, EPSG:32633, pixel-is-area
    assert set(np.unique(classes).tolist()) <= {1, 2, 3}  # class ids, 0 = none
    assert tags[42113].strip("\x00") == "0"  # nodata: 0 = no class
    probs = _tiff_pages_raw(tmp_path / "map_probabilities.tif")
    assert probs.shape == (3, H, W) and np.allclose(probs.sum(0), 1, atol=1e-5)
    assert np.array_equal(probs.argmax(0) + 1, classes)  # the class map is the probabilities' argmax


def _tiff_pages_raw(path):
    """A planar float32 little-endian uncompressed TIFF's bands, read from its strips by hand (no TIFF library)."""
    raw = path.read_bytes()
    assert raw[:4] == b"II*\x00"
    (ifd,) = struct.unpack_from("<I", raw, 4)
    (n,) = struct.unpack_from("<H", raw, ifd)
    entries = {}
    for i in range(n):
        code, typ, count, value = struct.unpack_from("<HHII", raw, ifd + 2 + 12 * i)
        entries[code] = (typ, count, value)
    width, height, samples = entries[256][2], entries[257][2], entries[277][2]
    typ, count, at = entries[273]
    offsets = struct.unpack_from(f"<{count}{'I' if typ == 4 else 'H'}", raw, at) if count > 1 else (at,)
    per_band = count // samples
    data = b"".join(raw[o: o + width * height * 4 // per_band] for o in offsets)
    return np.frombuffer(data, "<f4").reshape(samples, height, width)


def test_predict_writes_an_envi_classification_with_the_map_info_copied(trained, tmp_path):
    import spectral.io.envi as envi

    from hsframe.data.georef import GeoReference

    _, _, data = trained
    _write_envi(data / "scene_envi.hdr", _cube())
    r = predict(trained, "--dataset", str(data / "scene_envi.img"), "--out", str(tmp_path / "map.hdr"), "--probabilities")
    assert r.exit_code == 0, r.output
    img = envi.open(str(tmp_path / "map.hdr"))  # spectral, the reader of ENVI files
    assert img.metadata["file type"] == "ENVI Classification" and img.metadata["class names"] == ["Unclassified", "class 1",
                                                                                                  "class 2", "class 3"]
    assert [int(v) for v in img.metadata["class lookup"][3:6]] == [31, 119, 180]
    assert img.metadata["map info"] == ENVI_MAP_INFO  # copied from the input
    assert set(np.unique(img.read_band(0)).tolist()) <= {1, 2, 3}
    assert GeoReference.from_envi_header(img.metadata).transform == TRANSFORM
    fields = _envi_header_fields(tmp_path / "map.hdr")  # and the header's text itself
    assert fields["map info"][:7] == ENVI_MAP_INFO[:7] and fields["file type"] == "ENVI Classification"
    probs = envi.open(str(tmp_path / "map_probabilities.hdr"))
    assert probs.shape == (H, W, 3) and probs.metadata["band names"] == ["class 1", "class 2", "class 3"]
    assert probs.metadata["map info"] == ENVI_MAP_INFO


def test_a_geotiff_from_an_envi_scene_states_its_utm_zone(trained, tmp_path):
    from PIL import Image

    _, _, data = trained
    _write_envi(data / "scene_envi.hdr", _cube())
    r = predict(trained, "--dataset", str(data / "scene_envi.img"), "--out", str(tmp_path / "map.tif"))
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "map.tif") as im:
        tags = dict(im.tag_v2)
    assert tags[33922][3:5] == ORIGIN and _geokeys_by_hand(tags[34735])[3072] == EPSG


def test_a_folder_out_keeps_the_png_and_npy_and_adds_the_format(trained, tmp_path):
    _, _, data = trained
    r = predict(trained, "--dataset", str(data / "scene.tif"), "--out", str(tmp_path), "--format", "geotiff")
    assert r.exit_code == 0, r.output
    from PIL import Image

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["classification_map.npy", "classification_map.png", "classification_map.tif"]
    with Image.open(tmp_path / "classification_map.tif") as im:
        assert np.array_equal(np.array(im), np.load(tmp_path / "classification_map.npy"))  # one map, two files


def test_a_scene_on_another_scale_warns_with_both_ranges(trained, tmp_path):
    _, _, data = trained
    _write_envi(data / "counts.hdr", _cube(1402.0), dtype=np.int16)  # the same scene as raw int16 counts
    r = predict(trained, "--dataset", str(data / "counts.img"), "--out", str(tmp_path / "map.tif"))
    assert r.exit_code == 0, r.output
    from hsframe.data.value_range import ValueRange

    text = " ".join(r.output.split())
    counts = ValueRange.of(_cube(1402.0).astype(np.int16).astype(np.float32))
    assert f"has values in {counts.describe()}, but run" in text  # e.g. [111, 1292] (1st-99th percentile 130..1270)
    assert re.search(r"was trained on values in \[0\.\d+, 0\.\d+\] \(1st-99th percentile 0\.\d+\.\.0\.\d+\)", text)


def test_no_georeferencing_writes_a_plain_tiff_and_says_so(trained, tmp_path):
    from PIL import Image

    _, _, data = trained
    np.save(data / "plain.npy", _cube())
    r = predict(trained, "--dataset", str(data / "plain.npy"), "--out", str(tmp_path / "map.tif"))
    assert r.exit_code == 0, r.output
    assert "states no georeferencing" in " ".join(r.output.split())
    with Image.open(tmp_path / "map.tif") as im:
        assert 33922 not in im.tag_v2 and 34735 not in im.tag_v2


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("out, args, message", [
    ("missing/map.tif", [], "--out {out}: folder {parent} does not exist"),
    ("map.tif", ["--format", "envi"], "is a geotiff file by its suffix, but --format envi was given"),
    ("folder", ["--probabilities"], "--probabilities are written as bands of a georeferenced map file"),
])
def test_bad_outputs_are_refused_before_any_work(trained, tmp_path, out, args, message):
    _, _, data = trained
    path = tmp_path / out
    r = predict(trained, "--dataset", str(data / "scene.tif"), "--out", str(path), *args)
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert message.format(out=path, parent=path.parent) in r.output and list(tmp_path.iterdir()) == []


def test_a_write_that_fails_leaves_no_partial_file(trained, tmp_path, monkeypatch):
    import tifffile

    def half_written(path, *args, **kwargs):
        open(path, "wb").write(b"II*\x00partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tifffile, "imwrite", half_written)
    _, _, data = trained
    r = predict(trained, "--dataset", str(data / "scene.tif"), "--out", str(tmp_path / "map.tif"))
    assert r.exit_code == 2 and "could not write" in r.output and "No space left on device" in r.output
    assert list(tmp_path.iterdir()) == []


def test_probabilities_of_an_estimator_are_refused(tmp_path):
    from test_estimator_models import nearest_centroid, plugins_with

    from hsframe import EstimatorSpec

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    np.save(tmp_path / "cube.npy", _cube())
    np.save(tmp_path / "labels.npy", _labels())
    plugins = plugins_with(EstimatorSpec(name="centroid", build=nearest_centroid))  # scikit-learn's NearestCentroid: labels only
    run_id = hsframe.run({**CHEAP, "model": "centroid", "data.dataset": str(tmp_path / "cube.npy"),
                          "data.labels": str(tmp_path / "labels.npy")}, tracking_uri=store, plugins=plugins, quiet=True).run_id
    from hsframe.predict import MapTarget, predict_run
    from hsframe.tracking import load_settings

    with pytest.raises(hsframe.errors.HsframeError, match="gives class votes, not probabilities; leave out --probabilities"):
        predict_run(run_id, str(tmp_path / "cube.npy"), None, MapTarget(None, tmp_path / "m.tif", None, True), plugins,
                    load_settings(uri=store), None)
    assert not (tmp_path / "m.tif").exists()


# --------------------------------------------------------------------------- figures


def test_the_map_figure_has_a_false_colour_panel_and_no_empty_ground_truth():
    import matplotlib.pyplot as plt

    from hsframe.figures import classification_map_figure, false_colour

    cube = _cube()
    names, palette, pred = ["a", "b", "c"], [(255, 0, 0), (0, 255, 0), (0, 0, 255)], _labels()
    rgb = false_colour(cube, (5, 3, 1))
    assert rgb.shape == (H, W, 3) and rgb.min() == 0 and rgb.max() == 1  # percentile-stretched
    assert np.array_equal(rgb, false_colour(cube[:, :, [5, 3, 1]], (0, 1, 2)))  # the bands asked for
    assert np.array_equal(false_colour(cube), false_colour(cube, (6, 4, 1)))  # else spread: 80%, 50%, 20% of the spectrum
    for truth, titles in ((np.zeros((H, W), int), ["false colour", "prediction"]), (None, ["false colour", "prediction"]),
                          (pred, ["false colour", "ground truth", "prediction"])):
        fig = classification_map_figure(truth, pred, names, palette, rgb=rgb)
        assert [ax.get_title() for ax in fig.axes if ax.images] == titles
        legend = fig.legends[0].get_window_extent()
        right = max(ax.get_window_extent().x1 for ax in fig.axes if ax.images)
        assert 0 <= legend.x0 - right < 0.05 * fig.bbox.width  # the legend just beside the map
        plt.close(fig)


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(not (SHARED / "hsi" / "samson" / "samson_1.img").is_file(), reason="real data folder is absent")
def test_samson_envi_predicts_to_a_geotiff_at_its_map_info(tmp_path):
    """Samson's ENVI header: UTM zone 10 North, 1 m pixels from (612730.910, 4074488.708)."""
    from PIL import Image

    samson = SHARED / "hsi" / "samson" / "samson_1.img"
    labels = np.zeros((95, 95), np.int64)
    labels[:, :30], labels[:, 60:] = 1, 2  # any labels: the test is about the map's place, not its classes
    np.save(tmp_path / "labels.npy", labels)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = hsframe.run({**CHEAP, "data.dataset": str(samson), "data.labels": str(tmp_path / "labels.npy"), "eval.full_map": False},
                         tracking_uri=store, quiet=True).run_id
    r = CliRunner().invoke(cli, ["predict", "--run", run_id, "--tracking-uri", store, "--dataset", str(samson),
                                 "--out", str(tmp_path / "samson.tif")])
    assert r.exit_code == 0, r.output
    with Image.open(tmp_path / "samson.tif") as im:
        tags = dict(im.tag_v2)
    assert tags[33922] == (0.0, 0.0, 0.0, 612730.91, 4074488.708, 0.0) and tags[33550][:2] == (1.0, 1.0)
    assert _geokeys_by_hand(tags[34735])[3072] == 32610  # UTM 10 North, WGS-84
