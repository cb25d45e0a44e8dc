"""Dataset cards: every shipped card validates, bad cards are clear errors, registration works, and
the cards agree with the REAL files in ../shared/datasets (symlinked, never copied; skipped when
that folder is absent)."""
from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from hsframe.data import catalog
from hsframe.data.catalog import (
    DatasetCard,
    data_dir,
    get_card,
    load_cards,
    load_scene,
    read_card,
    scan_cards,
)
from hsframe.data.pixels import abundance_labels, pixels_to_cube
from hsframe.errors import HsframeError
from hsframe.registry import DatasetSpec

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
HSI = SHARED / "hsi"
needs_shared = pytest.mark.skipif(
    not (HSI / "ground_truth").is_dir(),
    reason=f"real data folder {SHARED} is absent (only CI and dev machines have it)",
)

HSI_CARDS = {"indian_pines", "pavia_university", "pavia_centre", "salinas", "ksc", "botswana",
             "houston2013", "samson", "jasper_ridge", "enmap_potsdam"}
SHIPPED = HSI_CARDS | {"eolearn-ndvi", "mri-anatomical"}  # a frame series and a labeled volume (test_catalog_kinds.py)
CLASSIC = {"indian_pines", "pavia_university", "pavia_centre", "salinas", "ksc", "botswana"}
# Shared ground-truth file for each classic card's labels file (Pavia Centre's copy is renamed).
SHARED_GT = {"Indian_pines_gt.mat": "Indian_pines_gt.mat", "PaviaU_gt.mat": "PaviaU_gt.mat",
             "Pavia_gt.mat": "paviaC_gt.mat", "Salinas_gt.mat": "Salinas_gt.mat",
             "KSC_gt.mat": "KSC_gt.mat", "Botswana_gt.mat": "Botswana_gt.mat"}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user card folders; an empty data folder unless a test links files into it."""
    monkeypatch.delenv("HSFRAME_CARDS", raising=False)
    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path / "data"))


@pytest.fixture(scope="module")
def cards() -> dict[str, DatasetCard]:
    return load_cards()


def _link(root: Path, dataset: str, name: str, source: Path) -> Path:
    """Symlink a real shared file into the layout the catalog expects: root/<dataset>/<name>."""
    folder = root / dataset
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).symlink_to(source)
    return folder / name


# --------------------------------------------------------------------------- shipped cards


def test_every_shipped_card_is_valid(cards: dict[str, DatasetCard]) -> None:
    assert set(cards) == SHIPPED
    _, problems = scan_cards()
    assert problems == []
    for card in cards.values():
        assert card.path == REPO / "datasets" / f"{card.name.replace('-', '_')}.yaml"
        assert len(card.class_names) == len(card.palette) == card.num_classes
        assert len(set(map(tuple, card.palette))) == card.num_classes
        assert card.ignored_label == 0
        names = {f.name for f in card.files}
        if card.tiles is not None:  # a scene set: its tile lists are files of the card
            assert set(card.tiles.lists.values()) <= names and card.cube is None and card.labels is None
        else:
            assert card.source_array.file in names and card.labels.file in names
        if card.kind == "hsi":
            assert all(0 <= b < card.shape[2] for b in card.rgb_bands)
        assert card.citation.strip() and card.license.strip() and card.source.startswith("http")
        if card.manual_download:
            assert card.download_instructions
        else:
            assert all(f.urls for f in card.files)


def test_published_facts(cards: dict[str, DatasetCard]) -> None:
    expected = {  # (H, W, B), classes: the published figures
        "indian_pines": ((145, 145, 200), 16), "pavia_university": ((610, 340, 103), 9),
        "pavia_centre": ((1096, 715, 102), 9), "salinas": ((512, 217, 204), 16),
        "ksc": ((512, 614, 176), 13), "botswana": ((1476, 256, 145), 14),
        "houston2013": ((349, 1905, 144), 15), "samson": ((95, 95, 156), 3), "jasper_ridge": ((100, 100, 198), 4),
    }
    for name, (shape, k) in expected.items():
        assert (cards[name].shape, cards[name].num_classes) == (shape, k), name
    assert cards["houston2013"].manual_download and "registration" in cards["houston2013"].download_instructions.lower()
    assert cards["samson"].labels.encoding == cards["jasper_ridge"].labels.encoding == "abundances"
    assert cards["samson"].cube.layout == "bands_x_pixels_F"


def test_ehu_urls_follow_mediawiki_upload_paths(cards: dict[str, DatasetCard]) -> None:
    """GIC's wiki stores an upload at uploads/<h[0]>/<h[:2]>/<name>, h = md5(name): checkable offline."""
    checked = 0
    for name in CLASSIC:
        for f in cards[name].files:
            assert f.urls, f"{name}/{f.name} has no URL"
            for url in f.urls:
                parts = urlparse(url).path.split("/")
                assert parts[-1] == f.name
                h = hashlib.md5(f.name.encode()).hexdigest()
                assert parts[-3:-1] == [h[0], h[:2]], url
                checked += 1
    assert checked == 12


def test_checksums_match_the_shared_readme(cards: dict[str, DatasetCard]) -> None:
    readme = SHARED / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} is absent")
    text = readme.read_text()
    by_file = {f.name: f for c in cards.values() for f in c.files}
    md5s = dict(re.findall(r"(\w+\.mat) md5 ([0-9a-f]{32})", text))
    blobs = dict(re.findall(r"(\w+\.mat) ([0-9a-f]{40})", text))
    assert {"Indian_pines_gt.mat", "PaviaU_gt.mat", "Salinas_gt.mat"} <= set(md5s)
    assert {"Indian_pines_corrected.mat", "PaviaU.mat", "Salinas_corrected.mat"} <= set(blobs)
    for name, md5 in md5s.items():
        assert by_file[name].md5 == md5, name
    for name, sha1 in blobs.items():
        assert by_file[name].git_sha1 == sha1, name


# --------------------------------------------------------------------------- bad cards

GOOD_CARD = """\
name: tiny
title: Tiny
description: test
shape: [4, 5, 3]
files:
  - name: c.mat
    urls: [https://127.0.0.1/c.mat]
cube: {file: c.mat, key: cube}
labels: {file: c.mat, key: gt}
num_classes: 2
class_names: [a, b]
palette: [[255, 0, 0], [0, 255, 0]]
rgb_bands: [2, 1, 0]
citation: none
license: test
source: http://127.0.0.1/
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    "change, expected",
    [
        (("palette: [[255, 0, 0], [0, 255, 0]]", "palette: [[255, 0, 0]]"), r"palette has 1 colours"),
        (("num_classes: 2", "num_classes: 3"), r"class_names has 2 names"),
        (("rgb_bands: [2, 1, 0]", "rgb_bands: [3, 1, 0]"), r"rgb_bands \[3, 1, 0\]"),
        (("    urls: [https://127.0.0.1/c.mat]", "    md5: xyz"), r"field 'files\[0\]\.md5'"),
        (("title: Tiny", "titel: Tiny"), r"field 'titel': Extra inputs are not permitted"),
        (("cube: {file: c.mat, key: cube}", "cube: {file: d.mat}"), r"cube.file 'd.mat' is not one of the files"),
        (("palette: [[255, 0, 0], [0, 255, 0]]", "palette: [[0, 0, 0], [0, 255, 0]]"), r"black"),
        (("    urls: [https://127.0.0.1/c.mat]\n", ""), r"add urls or set manual_download: true"),
        (("name: tiny", "name: other"), r"field 'name' is 'other' but the file is named tiny.yaml"),
    ],
)
def test_bad_card_names_the_file_and_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in GOOD_CARD
    path = _write(tmp_path / "cards", "tiny.yaml", GOOD_CARD.replace(old, new))
    with pytest.raises(HsframeError, match=expected) as err:
        read_card(path)
    assert str(path) in str(err.value)


def test_invalid_yaml_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "tiny.yaml", "name: [unclosed\n")
    with pytest.raises(HsframeError, match=r"tiny.yaml is not valid YAML"):
        read_card(path)


def test_user_cards_add_and_replace_and_bad_ones_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cards"
    _write(folder, "tiny.yaml", GOOD_CARD)
    _write(folder, "broken.yaml", "name: broken\n")
    samson = (REPO / "datasets" / "samson.yaml").read_text().replace("title: Samson", "title: Samson (mirror)")
    _write(folder, "samson.yaml", samson)
    monkeypatch.setenv("HSFRAME_CARDS", str(folder))
    cards, problems = scan_cards()
    assert "tiny" in cards and "indian_pines" in cards and "broken" not in cards
    assert cards["samson"].title == "Samson (mirror)"  # a user card replaces the shipped one
    [problem] = problems
    assert "broken.yaml is invalid" in problem and "field 'title': Field required" in problem
    with pytest.raises(HsframeError, match="broken.yaml"):
        load_cards()


def test_register_datasets_hook_registers_every_card_and_survives_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "cards", "broken.yaml", "name: broken\n")
    monkeypatch.setenv("HSFRAME_CARDS", str(tmp_path / "cards"))
    specs: list[DatasetSpec] = []
    catalog.register_datasets(register=specs.append)
    assert {s.name for s in specs} == SHIPPED
    assert all(isinstance(s, DatasetSpec) and (s.kind == "hsi") == (s.name in HSI_CARDS) for s in specs)
    assert "Warning: dataset card" in capsys.readouterr().err


def test_missing_card_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HSFRAME_CARDS", str(tmp_path / "nope"))
    _, problems = scan_cards()
    assert any("does not exist" in p and "HSFRAME_CARDS" in p for p in problems)


def test_unknown_name_suggests_the_nearest() -> None:
    with pytest.raises(HsframeError, match=r"unknown dataset 'jasper'\. Did you mean 'jasper_ridge'\?"):
        get_card("jasper")
    with pytest.raises(HsframeError, match=r"Did you mean 'salinas'\?"):
        get_card("salinas_corrected")


def test_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert data_dir() == tmp_path / "data"
    monkeypatch.delenv("HSFRAME_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "hsframe" / "datasets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_dir() == Path.home() / ".cache" / "hsframe" / "datasets"


def test_missing_files_error_says_what_to_do(cards: dict[str, DatasetCard], tmp_path: Path) -> None:
    with pytest.raises(HsframeError) as err:
        load_scene("indian_pines")
    msg = str(err.value)
    for text in ("Indian_pines_corrected.mat", "Indian_pines_gt.mat",
                 "https://www.ehu.eus/ccwintco/uploads/6/67/Indian_pines_corrected.mat",
                 str(tmp_path / "data" / "indian_pines"), "hsframe datasets download indian_pines", "HSFRAME_DATA"):
        assert text in msg
    with pytest.raises(HsframeError, match=r"(?s)by hand.*Registration is required.*houston2013/ "):
        load_scene("houston2013")


# --------------------------------------------------------------------------- pure helpers


def test_pixels_to_cube_is_column_major() -> None:
    h, w, b = 3, 4, 2
    cube = np.arange(h * w * b, dtype=np.float32).reshape(h, w, b)
    y = np.stack([cube[..., k].ravel(order="F") for k in range(b)])  # MATLAB's Y = reshape(cube, [], B)'
    np.testing.assert_array_equal(pixels_to_cube(y, h, w, "F"), cube)
    np.testing.assert_array_equal(pixels_to_cube(cube.reshape(-1, b).T, h, w, "C"), cube)


def test_abundance_labels_with_threshold() -> None:
    a = np.array([[[0.7, 0.2, 0.1], [0.1, 0.5, 0.4]], [[0.0, 0.0, 1.0], [0.34, 0.33, 0.33]]])
    assert abundance_labels(a).tolist() == [[1, 2], [3, 1]]
    assert abundance_labels(a, 0.6).tolist() == [[1, 0], [3, 0]]


# --------------------------------------------------------------------------- real files


@needs_shared
def test_real_ground_truths_match_the_classic_cards(cards: dict[str, DatasetCard]) -> None:
    """Each classic card's labels key, (H, W) and class count hold for the real ground-truth file."""
    from hsframe.data.readers import read_array

    for name in sorted(CLASSIC):
        card = cards[name]
        labels = read_array(HSI / "ground_truth" / SHARED_GT[card.labels.file], key=card.labels.key, kind="labels").data
        assert labels.shape == card.shape[:2], name
        assert labels.max() == card.num_classes, name
        assert set(np.unique(labels)) == set(range(card.num_classes + 1)), name


@needs_shared
def test_indian_pines_gt_md5_matches_the_card(cards: dict[str, DatasetCard]) -> None:
    from hsframe.data.download import verify_file

    entry = cards["indian_pines"].file("Indian_pines_gt.mat")
    path = HSI / "ground_truth" / "Indian_pines_gt.mat"
    assert hashlib.md5(path.read_bytes()).hexdigest() == entry.md5 == "9414943dac1d80faaa9165c8b460510c"
    assert verify_file(path, entry) == []  # md5 and size
    for card, fname in (("pavia_university", "PaviaU_gt.mat"), ("salinas", "Salinas_gt.mat")):
        assert verify_file(HSI / "ground_truth" / fname, cards[card].file(fname)) == []


@needs_shared
def test_indian_pines_loads_with_the_real_labels(tmp_path: Path) -> None:
    """Real ground truth (symlinked) + a stand-in cube of the published shape: the card's keys, class
    names, palette and RGB bands reach the Scene, and the per-class counts are the published ones."""
    import scipy.io

    root = tmp_path / "data"
    _link(root, "indian_pines", "Indian_pines_gt.mat", HSI / "ground_truth" / "Indian_pines_gt.mat")
    cube = np.random.default_rng(0).integers(0, 9000, (145, 145, 200), dtype=np.uint16)
    scipy.io.savemat(root / "indian_pines" / "Indian_pines_corrected.mat", {"indian_pines_corrected": cube})
    scene = load_scene("indian_pines")
    assert scene.shape == (145, 145, 200) and scene.num_classes == 16
    counts = np.bincount(scene.labels.ravel(), minlength=17)[1:]
    assert counts.tolist() == [46, 1428, 830, 237, 483, 730, 28, 478, 20, 972, 2455, 593, 205, 1265, 386, 93]
    assert scene.class_names[0] == "Alfalfa" and scene.class_names[-1] == "Stone-Steel-Towers"
    assert scene.palette[0] == (255, 255, 102) and scene.rgb_bands == (43, 21, 11)
    np.testing.assert_array_equal(scene.cube[3, 4], cube[3, 4].astype(np.float32))

    # A cube of another shape (e.g. the uncorrected 220 bands) is refused with advice.
    scipy.io.savemat(root / "indian_pines" / "Indian_pines_corrected.mat", {"indian_pines_corrected": cube[..., :20]})
    with pytest.raises(HsframeError, match=r"states \(H, W, B\) \(145, 145, 200\).*--force"):
        load_scene("indian_pines")


@needs_shared
def test_real_gt_download_from_a_local_mirror_verifies_the_published_md5(tmp_path: Path) -> None:
    """The real Indian_pines_gt.mat bytes, served on 127.0.0.1, pass the card's md5 and size."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from hsframe.data.download import download_file

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(HSI / "ground_truth")))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        entry = get_card("indian_pines").file("Indian_pines_gt.mat")
        entry = entry.model_copy(update={"urls": [f"http://127.0.0.1:{httpd.server_address[1]}/Indian_pines_gt.mat"],
                                         "allow_insecure": True})  # a plain local mirror
        result = download_file(entry, tmp_path / "ip")
        assert result.status == "downloaded" and result.path.stat().st_size == 1125
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@needs_shared
def test_samson_loads_from_abundances(tmp_path: Path) -> None:
    from hsframe.data.readers import read_array

    _link(tmp_path / "data", "samson", "Samson.mat", HSI / "samson" / "Samson.mat")
    scene = load_scene("samson")
    assert scene.shape == (95, 95, 156) and scene.num_classes == 3
    assert scene.class_names == ["Soil", "Tree", "Water"] and scene.rgb_bands == (84, 49, 9)
    assert np.bincount(scene.labels.ravel()).tolist() == [0, 3015, 3666, 2344]
    assert scene.cube.dtype == np.float32 and 0 <= scene.cube.min() and scene.cube.max() <= 1
    # The column-major pixel layout is right: the same scene as ENVI (samson_1.img) agrees exactly.
    envi = read_array(HSI / "samson" / "samson_1.img.hdr", kind="cube").data
    assert envi.shape == scene.shape
    assert np.corrcoef(envi.ravel(), scene.cube.ravel())[0, 1] > 0.999

    pure = load_scene("samson", purity_threshold=0.6)
    labeled = (pure.labels > 0).mean()
    assert 0.84 < labeled < 0.87  # the README: 85% of pixels have a dominant abundance > 0.6
    assert np.array_equal(pure.labels[pure.labels > 0], scene.labels[pure.labels > 0])


@needs_shared
def test_jasper_ridge_loads_from_abundances(tmp_path: Path) -> None:
    from hsframe.data.readers import read_array

    _link(tmp_path / "data", "jasper_ridge", "Jasper.mat", HSI / "jasper_ridge" / "Jasper.mat")
    scene = load_scene("jasper_ridge")
    assert scene.shape == (100, 100, 198) and scene.class_names == ["Tree", "Water", "Soil", "Road"]
    assert np.bincount(scene.labels.ravel()).tolist() == [0, 3493, 3326, 2428, 753]
    assert 0.4 < scene.cube.max() < 1.0  # uint16 reflectance x 10000, scaled by the card
    envi = read_array(HSI / "jasper_ridge" / "jasperRidge2_R198.hdr", kind="cube").data
    assert np.corrcoef(envi.ravel(), scene.cube.ravel())[0, 1] > 0.99  # same pixel order


@needs_shared
def test_registered_spec_loads_the_scene(tmp_path: Path) -> None:
    _link(tmp_path / "data", "samson", "Samson.mat", HSI / "samson" / "Samson.mat")
    specs: list[DatasetSpec] = []
    catalog.register_datasets(register=specs.append)
    spec = next(s for s in specs if s.name == "samson")
    assert "95x95x156" in spec.description
    assert spec.load().shape == (95, 95, 156)  # called with no arguments, like the runner does
    assert (spec.load(purity_threshold=0.6).labels == 0).sum() > 0
    with pytest.raises(HsframeError, match="only applies to abundance"):
        load_scene("indian_pines", purity_threshold=0.5)


def test_cards_register_through_the_plugin_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a built-in plugin module (how hsframe.plugins will list it), the cards load with no problems."""
    from hsframe import plugins as plugins_mod

    builtins = {k: v for k, v in plugins_mod.BUILTIN_MODULES.items() if v != "hsframe.data.catalog"}
    monkeypatch.setattr(plugins_mod, "BUILTIN_MODULES", {**builtins, "dataset-cards": "hsframe.data.catalog"})
    loaded = plugins_mod.load_plugins()
    assert not [p for p in loaded.problems if "catalog" in str(p) or "dataset-cards" in str(p)]
    assert SHIPPED <= set(loaded.datasets)
    assert loaded.dataset("samson").package == "hsframe"
    assert set(loaded.info["dataset-cards"].datasets) == SHIPPED
    with pytest.raises(HsframeError, match="Did you mean 'pavia_centre'"):
        loaded.dataset("pavia_center")


@needs_shared
def test_variant_card_shares_the_files_and_sets_a_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's recipe: a user card with data_folder: samson and a purity threshold."""
    text = (REPO / "datasets" / "samson.yaml").read_text()
    text = text.replace("name: samson", "name: samson_pure\ndata_folder: samson")
    text = text.replace("purity_threshold: null", "purity_threshold: 0.6")
    _write(tmp_path / "cards", "samson_pure.yaml", text)
    monkeypatch.setenv("HSFRAME_CARDS", str(tmp_path / "cards"))
    _link(tmp_path / "data", "samson", "Samson.mat", HSI / "samson" / "Samson.mat")
    scene = load_scene("samson_pure")
    assert scene.name == "samson_pure" and 0.84 < (scene.labels > 0).mean() < 0.87
    assert load_scene("samson_pure", purity_threshold=None).labels.min() == 1
