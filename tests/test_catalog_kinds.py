"""Dataset cards of kind sequence (a frame series) and volume (a dense label volume): the shipped
cards validate, bad ones are refused with the field named, a generated card loads, and the shipped
cards load the REAL files in ../shared/datasets (symlinked, never copied; skipped when absent)."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hsframe.data import catalog
from hsframe.data.catalog import (
    DatasetCard,
    get_card,
    load_cards,
    load_dataset,
    load_frame_series,
    load_labeled_volume,
    load_scene,
    read_card,
    scan_cards,
)
from hsframe.data.series import FrameSeries
from hsframe.data.volumes import LabeledVolume
from hsframe.errors import HsframeError
from hsframe.registry import DatasetSpec

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
EOLEARN = SHARED / "timeseries" / "eolearn_ndvi"
MRI = SHARED / "volumes" / "mri"
needs_eolearn = pytest.mark.skipif(
    not EOLEARN.is_dir(), reason=f"real data folder {EOLEARN} is absent (only CI and dev machines have it)"
)
needs_mri = pytest.mark.skipif(
    not MRI.is_dir(), reason=f"real data folder {MRI} is absent (only CI and dev machines have it)"
)

EOLEARN_FILES = ("data_NDVI.npy", "mask_timeless_LULC.npy", "timestamps.json")
MRI_FILES = ("anatomical.nii", "anatomical_label.nii.gz")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user card folders; an empty data folder unless a test links files into it."""
    monkeypatch.delenv("HSFRAME_CARDS", raising=False)
    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path / "data"))


def _link(root: Path, dataset: str, source_dir: Path, names: tuple[str, ...]) -> Path:
    """Symlink real shared files into the layout the catalog expects: root/<dataset>/<name>."""
    folder = root / dataset
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).symlink_to(source_dir / name)
    return folder


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- shipped cards


def test_new_cards_validate_with_their_kinds_and_defaults() -> None:
    cards = load_cards()
    ndvi, mri = cards["eolearn-ndvi"], cards["mri-anatomical"]
    assert ndvi.path == REPO / "datasets" / "eolearn_ndvi.yaml"  # '-' in the name, '_' in the file name
    assert mri.path == REPO / "datasets" / "mri_anatomical.yaml"

    assert ndvi.kind == "sequence" and ndvi.shape == (68, 101, 100, 1) and ndvi.loaded_shape == (68, 101, 100, 1)
    assert ndvi.data is not None and ndvi.data.file == "data_NDVI.npy" and ndvi.cube is None and ndvi.rgb_bands is None
    assert ndvi.labels.file == "mask_timeless_LULC.npy" and ndvi.timestamps == "timestamps.json"
    assert ndvi.labels.remap == {1: 1, 2: 2, 3: 3, 4: 4, 8: 5} and ndvi.labels.zero_label == "unlabeled"
    assert ndvi.class_names == ["Cultivated land", "Forest", "Grassland", "Shrubland", "Artificial surface"]
    assert ndvi.defaults == {"data.window": 16, "data.stride": 16, "data.patch_size": 9}
    assert ndvi.license.startswith("MIT") and not ndvi.manual_download
    assert all(u.startswith("https://raw.githubusercontent.com/sentinel-hub/eo-learn/") for f in ndvi.files for u in f.urls)
    assert ndvi.shape_text == "68x101x100x1 (TxHxWxC)"

    assert mri.kind == "volume" and mri.loaded_shape == (1, 33, 41, 25)
    assert mri.data is not None and mri.data.file == "anatomical.nii" and mri.labels.file == "anatomical_label.nii.gz"
    assert mri.labels.zero_label == "class" and mri.labels.remap is None
    assert mri.class_names == ["background", "label"] and mri.defaults == {"data.patch_size": 7}
    assert mri.license.startswith("Apache-2.0")
    assert all(u.startswith("https://raw.githubusercontent.com/Project-MONAI/MONAI/") for f in mri.files for u in f.urls)

    # Every card keeps its kind's fields: hyperspectral cards unchanged.
    for card in cards.values():
        assert card.num_classes == len(card.class_names) == len(card.palette)
        if card.kind == "hsi":
            assert (card.cube is None) == (card.tiles is not None) and card.data is None and len(card.shape) == 3 and card.rgb_bands
        else:
            assert card.data is not None and card.cube is None and card.rgb_bands is None


def test_eolearn_timestamps_checksums_are_the_shared_files() -> None:
    """The one checksum the cards give was taken from the repository's file: the shared copy must agree."""
    from hsframe.data.download import verify_file

    if not EOLEARN.is_dir():
        pytest.skip(f"{EOLEARN} is absent")
    entry = get_card("eolearn-ndvi").file("timestamps.json")
    assert entry.git_sha1 and entry.md5 and entry.size == 1703
    assert verify_file(EOLEARN / "timestamps.json", entry) == []


# --------------------------------------------------------------------------- bad cards

SEQ_CARD = """\
name: tiny-seq
title: Tiny series
description: test
kind: sequence
shape: [6, 4, 5, 2]
files:
  - name: frames.npy
    urls: [https://127.0.0.1/frames.npy]
  - name: lulc.npy
    urls: [https://127.0.0.1/lulc.npy]
  - name: dates.json
    urls: [https://127.0.0.1/dates.json]
data: {file: frames.npy}
labels:
  file: lulc.npy
  remap: {3: 1, 7: 2}
timestamps: dates.json
num_classes: 2
class_names: [a, b]
palette: [[255, 0, 0], [0, 255, 0]]
defaults:
  data.window: 3
  data.stride: 2
  data.patch_size: 3
citation: none
license: test
source: http://127.0.0.1/
"""


@pytest.mark.parametrize(
    "change, expected",
    [
        (("kind: sequence", "kind: movie"), r"field 'kind': must be one of hsi, volume, sequence"),
        (("kind: sequence", "kind: hsi"), r"field 'shape': kind hsi needs 3 numbers \(H, W, B\)"),
        (("shape: [6, 4, 5, 2]", "shape: [6, 4]"), r"field 'shape'"),
        (("shape: [6, 4, 5, 2]", "shape: [6, 4, 5, 2, 1]"), r"field 'shape'"),
        (("shape: [6, 4, 5, 2]", "shape: [6, 0, 5, 2]"), r"field 'shape': \(T, H, W, C\) must all be >= 1"),
        (("remap: {3: 1, 7: 2}", "remap: {3: 1, 7: 3}"), r"labels.remap maps to class ids above num_classes 2"),
        (("remap: {3: 1, 7: 2}", "remap: {3: 1, 7: 1}"), r"labels.remap never maps to class ids \[2\]"),
        (("remap: {3: 1, 7: 2}", "remap: {3: 1, 7: -2}"), r"field 'labels.remap': maps to negative class ids"),
        (("remap: {3: 1, 7: 2}", "remap: {a: 1}"), r"field 'labels.remap.a\[key\]': Input should be a valid integer"),
        (("remap: {3: 1, 7: 2}", "remap: {3: 1, 7: 2}\n  zero_label: class"), r"remap and zero_label: class cannot be combined"),
        (("remap: {3: 1, 7: 2}", "zero_label: maybe"), r"field 'labels.zero_label'"),
        (("data: {file: frames.npy}", "data: {file: other.npy}"), r"data.file 'other.npy' is not one of the files"),
        (("data: {file: frames.npy}", "cube: {file: frames.npy}"), r"kind sequence needs data"),
        (("timestamps: dates.json", "timestamps: when.json"), r"timestamps 'when.json' is not one of the files"),
        (("kind: sequence", "kind: volume"), r"timestamps only applies to kind sequence, not volume"),
        (("num_classes: 2", "num_classes: 2\nrgb_bands: [0, 0, 0]"), r"rgb_bands only applies to kind hsi"),
        (("data.window: 3", "data.windw: 3"), r"field 'defaults'.*data.windw"),
        (("data.patch_size: 3", "data.patch_size: 4"), r"field 'defaults'.*patch_size must be odd"),
        (("data.window: 3", "window: 3"), r"field 'defaults': keys must be dotted config keys"),
    ],
)
def test_bad_sequence_card_names_the_file_and_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in SEQ_CARD
    path = _write(tmp_path / "cards", "tiny-seq.yaml", SEQ_CARD.replace(old, new))
    with pytest.raises(HsframeError, match=expected) as err:
        read_card(path)
    assert str(path) in str(err.value)


def test_hsi_card_refuses_series_fields(tmp_path: Path) -> None:
    text = (REPO / "datasets" / "samson.yaml").read_text()
    remapped = text.replace("  encoding: abundances", "  encoding: abundances\n  remap: {1: 1}")
    with pytest.raises(HsframeError, match=r"labels.remap only applies to kind sequence or volume"):
        read_card(_write(tmp_path / "a", "samson.yaml", remapped))
    no_rgb = text.replace("rgb_bands: [84, 49, 9]\n", "")
    with pytest.raises(HsframeError, match=r"kind hsi needs rgb_bands"):
        read_card(_write(tmp_path / "b", "samson.yaml", no_rgb))
    data = text.replace("cube:\n  file: Samson.mat", "data: {file: Samson.mat}\ncube:\n  file: Samson.mat")
    with pytest.raises(HsframeError, match=r"data only applies to kind sequence or volume"):
        read_card(_write(tmp_path / "c", "samson.yaml", data))


def test_name_and_file_name_may_differ_by_dash_and_underscore_only(tmp_path: Path) -> None:
    assert read_card(_write(tmp_path / "a", "tiny_seq.yaml", SEQ_CARD)).name == "tiny-seq"
    with pytest.raises(HsframeError, match=r"field 'name' is 'tiny-seq' but the file is named tinyseq.yaml"):
        read_card(_write(tmp_path / "b", "tinyseq.yaml", SEQ_CARD))
    # Two files of one folder describing the same dataset: both refused, the others still load.
    _write(tmp_path / "c", "tiny-seq.yaml", SEQ_CARD)
    _write(tmp_path / "c", "tiny_seq.yaml", SEQ_CARD)
    cards, problems = scan_cards([tmp_path / "c"])
    assert cards == {} and len(problems) == 1 and "described by 2 cards" in problems[0]


# --------------------------------------------------------------------------- a generated sequence card


def _tiny_series(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Frames (6, 4, 5, 2) and a label map with stored values {0, 3, 7, 9} into root/tiny-seq/."""
    folder = root / "tiny-seq"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(6, 4, 5, 2)).astype(np.float32)
    lulc = rng.choice(np.array([0, 3, 7, 9], dtype=np.uint16), size=(4, 5, 1))
    np.save(folder / "frames.npy", frames)
    np.save(folder / "lulc.npy", lulc)
    (folder / "dates.json").write_text(json.dumps([f"2020-01-{d:02d}" for d in range(1, 7)]))
    return frames, lulc[..., 0]


def test_generated_sequence_card_loads_and_registers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "cards", "tiny-seq.yaml", SEQ_CARD)
    monkeypatch.setenv("HSFRAME_CARDS", str(tmp_path / "cards"))
    frames, stored = _tiny_series(tmp_path / "data")

    series = load_dataset("tiny-seq")
    assert isinstance(series, FrameSeries) and series.name == "tiny-seq"
    np.testing.assert_array_equal(series.frames, frames)
    expected = np.select([stored == 3, stored == 7], [1, 2], 0)  # remap {3: 1, 7: 2}; 0 and 9 unlabeled
    np.testing.assert_array_equal(series.labels, expected)
    assert series.class_names == ["a", "b"] and series.palette == [(255, 0, 0), (0, 255, 0)]
    assert series.timestamps == [f"2020-01-{d:02d}" for d in range(1, 7)]
    assert load_frame_series("tiny-seq").shape == (6, 4, 5, 2)

    specs: list[DatasetSpec] = []
    catalog.register_datasets(register=specs.append)
    spec = next(s for s in specs if s.name == "tiny-seq")
    assert spec.kind == "sequence" and spec.defaults == {"data.window": 3, "data.stride": 2, "data.patch_size": 3}
    assert "6 frames of 4x5x2" in spec.description
    assert isinstance(spec.load(), FrameSeries)  # called with no arguments, like the runner does
    with pytest.raises(HsframeError, match=r"takes no loader options"):
        spec.load(purity_threshold=0.5)
    with pytest.raises(HsframeError, match=r"is a sequence, not a hyperspectral scene.*load_dataset"):
        load_scene("tiny-seq")
    with pytest.raises(HsframeError, match=r"of kind sequence, not volume"):
        load_labeled_volume("tiny-seq")


def test_generated_card_with_a_three_number_shape_means_one_channel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "cards", "tiny-seq.yaml", SEQ_CARD.replace("shape: [6, 4, 5, 2]", "shape: [6, 4, 5]"))
    monkeypatch.setenv("HSFRAME_CARDS", str(tmp_path / "cards"))
    folder = tmp_path / "data" / "tiny-seq"
    _tiny_series(tmp_path / "data")
    np.save(folder / "frames.npy", np.ones((6, 4, 5), dtype=np.float32))  # (T, H, W): one channel
    assert get_card("tiny-seq").loaded_shape == (6, 4, 5, 1)
    assert load_dataset("tiny-seq").shape == (6, 4, 5, 1)


def test_shape_mismatch_names_the_file_and_both_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "cards", "tiny-seq.yaml", SEQ_CARD.replace("shape: [6, 4, 5, 2]", "shape: [7, 4, 5, 2]"))
    monkeypatch.setenv("HSFRAME_CARDS", str(tmp_path / "cards"))
    _tiny_series(tmp_path / "data")
    frames_path = tmp_path / "data" / "tiny-seq" / "frames.npy"
    with pytest.raises(HsframeError) as err:
        load_dataset("tiny-seq")
    msg = str(err.value)
    assert str(frames_path) in msg and "(6, 4, 5, 2)" in msg and "(7, 4, 5, 2)" in msg and "tiny-seq" in msg


def test_missing_and_broken_files_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "cards", "tiny-seq.yaml", SEQ_CARD)
    monkeypatch.setenv("HSFRAME_CARDS", str(tmp_path / "cards"))
    with pytest.raises(HsframeError, match=r"(?s)not downloaded.*frames.npy.*hsframe datasets download tiny-seq"):
        load_dataset("tiny-seq")
    _tiny_series(tmp_path / "data")
    (tmp_path / "data" / "tiny-seq" / "dates.json").write_text('["2020-01-01"]')  # 1 date for 6 frames
    with pytest.raises(HsframeError, match=r"(?s)dataset 'tiny-seq' \(card .*tiny-seq.yaml\): 1 timestamps for 6 frames"):
        load_dataset("tiny-seq")


# --------------------------------------------------------------------------- real files


@needs_eolearn
def test_eolearn_ndvi_loads_the_real_series(tmp_path: Path) -> None:
    _link(tmp_path / "data", "eolearn-ndvi", EOLEARN, EOLEARN_FILES)
    series = load_dataset("eolearn-ndvi")
    assert isinstance(series, FrameSeries) and series.name == "eolearn-ndvi"
    assert series.frames.shape == (68, 101, 100, 1) and series.frames.dtype == np.float32
    assert series.per_pixel and series.labels.shape == (101, 100)
    assert np.bincount(series.labels.ravel(), minlength=6)[1:].tolist() == [11, 7601, 1777, 358, 198]
    assert (series.labels == 0).sum() == 155  # LULC "no data" stays unlabeled
    assert len(series.timestamps) == 68
    assert series.timestamps[0] == "2015-07-11T10:00:08" and series.timestamps[-1] == "2017-12-22T10:04:15"
    assert series.class_names[-1] == "Artificial surface" and series.palette[1] == (5, 73, 7)
    assert -1.0 <= series.frames.min() and series.frames.max() <= 1.0  # NDVI


@needs_mri
def test_mri_anatomical_loads_the_real_volume(tmp_path: Path) -> None:
    pytest.importorskip("nibabel")
    _link(tmp_path / "data", "mri-anatomical", MRI, MRI_FILES)
    vol = load_dataset("mri-anatomical")
    assert isinstance(vol, LabeledVolume) and vol.name == "mri-anatomical"
    assert vol.volume.shape == (1, 33, 41, 25) and vol.volume.dtype == np.float32
    assert vol.class_names == ["background", "label"] and vol.palette == [(90, 90, 90), (255, 60, 60)]
    counts = np.bincount(vol.labels.ravel(), minlength=3).tolist()
    assert counts == [0, 33495, 330]  # zero_label class: stored 0 is class 1, the mask's 330 voxels class 2
    assert vol.spacing == (2.0, 2.0, 2.0)
    assert isinstance(load_labeled_volume("mri-anatomical"), LabeledVolume)


@needs_eolearn
@needs_mri
def test_real_cards_register_through_the_plugin_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("nibabel")
    from hsframe import plugins as plugins_mod

    _link(tmp_path / "data", "eolearn-ndvi", EOLEARN, EOLEARN_FILES)
    _link(tmp_path / "data", "mri-anatomical", MRI, MRI_FILES)
    builtins = {k: v for k, v in plugins_mod.BUILTIN_MODULES.items() if v != "hsframe.data.catalog"}
    monkeypatch.setattr(plugins_mod, "BUILTIN_MODULES", {**builtins, "dataset-cards": "hsframe.data.catalog"})
    loaded = plugins_mod.load_plugins()
    assert not [p for p in loaded.problems if "catalog" in str(p) or "dataset-cards" in str(p)]

    ndvi = loaded.dataset("eolearn-ndvi")
    assert ndvi.kind == "sequence" and ndvi.package == "hsframe"
    assert ndvi.defaults == {"data.window": 16, "data.stride": 16, "data.patch_size": 9}
    series = ndvi.load()
    assert isinstance(series, FrameSeries) and series.shape == (68, 101, 100, 1) and len(series.timestamps) == 68

    mri = loaded.dataset("mri-anatomical")
    assert mri.kind == "volume" and mri.defaults == {"data.patch_size": 7}
    vol = mri.load()
    assert isinstance(vol, LabeledVolume) and vol.volume.shape == (1, 33, 41, 25) and int((vol.labels == 2).sum()) == 330
    assert {"eolearn-ndvi", "mri-anatomical"} <= set(loaded.info["dataset-cards"].datasets)


def test_shipped_cards_register_with_their_kinds() -> None:
    specs: list[DatasetSpec] = []
    catalog.register_datasets(register=specs.append)
    by_name = {s.name: s for s in specs}
    assert by_name["eolearn-ndvi"].kind == "sequence" and by_name["mri-anatomical"].kind == "volume"
    assert by_name["mri-anatomical"].defaults == {"data.patch_size": 7}
    assert "68 frames of 101x100x1" in by_name["eolearn-ndvi"].description
    assert by_name["enmap_potsdam"].defaults == {"split.method": "files"}  # a scene set with its published split
    assert all(s.kind == "hsi" and s.defaults == {} for n, s in by_name.items() if n not in ("eolearn-ndvi", "mri-anatomical",
                                                                                             "enmap_potsdam"))


def test_card_built_in_code() -> None:
    card = DatasetCard.model_validate({
        "name": "coded", "title": "t", "description": "d", "kind": "volume", "shape": [8, 8, 8],
        "files": [{"name": "v.npy", "urls": ["https://127.0.0.1/v.npy"]}, {"name": "l.npy", "urls": ["https://127.0.0.1/l.npy"]}],
        "data": {"file": "v.npy"}, "labels": {"file": "l.npy", "zero_label": "class"},
        "num_classes": 2, "class_names": ["bg", "fg"], "palette": [[1, 2, 3], [4, 5, 6]],
        "citation": "c", "license": "l", "source": "http://127.0.0.1/",
    })
    assert card.loaded_shape == (1, 8, 8, 8) and card.shape_text == "1x8x8x8 (CxDxHxW)" and card.path is None
