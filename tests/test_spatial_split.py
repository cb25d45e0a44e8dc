"""Spatially disjoint (block) and fixed-map splits, on synthetic maps and the real benchmark maps."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from hsframe.data.leakage import leakage_report
from hsframe.data.split import Split, block_split, fixed_split, stratified_split
from hsframe.errors import HsframeError

GROUND_TRUTH = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "hsi" / "ground_truth"
needs_real = pytest.mark.skipif(
    not GROUND_TRUTH.is_dir(), reason=f"real ground-truth maps not found at {GROUND_TRUTH} (only on CI / dev machines)"
)

IP_NAMES = [
    "Alfalfa", "Corn-notill", "Corn-mintill", "Corn", "Grass-pasture", "Grass-trees", "Grass-pasture-mowed",
    "Hay-windrowed", "Oats", "Soybean-notill", "Soybean-mintill", "Soybean-clean", "Wheat", "Woods",
    "Buildings-Grass-Trees-Drives", "Stone-Steel-Towers",
]
PAVIA_NAMES = ["Asphalt", "Meadows", "Gravel", "Trees", "Painted metal sheets", "Bare Soil", "Bitumen",
               "Self-Blocking Bricks", "Shadows"]
# The README's map from the disjoint training map's class ids to Indian_pines_gt's.
IP_DISJOINT_REMAP = {1: 2, 2: 3, 3: 5, 4: 6, 5: 8, 6: 10, 7: 11, 8: 12, 9: 14, 10: 1, 11: 4, 12: 7, 13: 9,
                     14: 13, 15: 15, 16: 16}


def load(name: str, key: str) -> np.ndarray:
    from scipy.io import loadmat

    return loadmat(GROUND_TRUTH / name)[key].astype(np.int64)


@pytest.fixture(scope="module")
def indian_pines() -> np.ndarray:
    if not GROUND_TRUTH.is_dir():
        pytest.skip(f"real ground-truth maps not found at {GROUND_TRUTH}")
    return load("Indian_pines_gt.mat", "indian_pines_gt")


@pytest.fixture(scope="module")
def indian_pines_9(indian_pines: np.ndarray) -> np.ndarray:
    """The common 9-class Indian Pines (classes with >= 400 px; the others set to unlabeled)."""
    small = [k for k in range(1, 17) if (indian_pines == k).sum() < 400]
    return np.where(np.isin(indian_pines, small), 0, indian_pines)


@pytest.fixture
def synthetic() -> np.ndarray:
    """(48, 60) map of 4 classes in fields of uneven size, with unlabeled gaps; class 4 is small."""
    labels = np.zeros((48, 60), np.int64)
    labels[0:20, 0:30], labels[0:20, 32:60] = 1, 2
    labels[22:48, 0:40], labels[22:48, 42:60] = 2, 3
    labels[30:36, 10:22] = 4
    holes = np.random.default_rng(1).random(labels.shape) < 0.1
    return np.where(holes, 0, labels)


def blocks_of(index: np.ndarray, width: int, block_size: int) -> set[tuple[int, int]]:
    r, c = np.divmod(index, width)
    return set(zip((r // block_size).tolist(), (c // block_size).tolist()))


def check_split(s: Split, labels: np.ndarray, block_size: int) -> None:
    """Disjoint subsets of labeled pixels, whole blocks, every class in train and test."""
    flat = labels.reshape(-1)
    allidx = np.concatenate([s.train, s.val, s.test])
    assert len(np.unique(allidx)) == len(allidx)
    assert (flat[allidx] > 0).all()
    assert len(allidx) + s.dropped == (flat > 0).sum()
    for part in (s.train, s.val, s.test):
        assert np.array_equal(part, np.sort(part)) and part.dtype == np.int64
    w = labels.shape[1]
    tr, va, te = (blocks_of(p, w, block_size) for p in (s.train, s.val, s.test))
    assert not (tr & te) and not (tr & va) and not (va & te), "a block contributes to two subsets"
    for k in np.unique(flat[flat > 0]):
        assert (flat[s.train] == k).any(), f"class {k} has no training pixel"
        assert (flat[s.test] == k).any(), f"class {k} has no test pixel"


def min_chebyshev(a: np.ndarray, b: np.ndarray, width: int) -> float:
    """Smallest Chebyshev distance between two pixel sets (independent of the dilation code)."""
    pa, pb = np.stack(np.divmod(a, width), 1), np.stack(np.divmod(b, width), 1)
    return float(cKDTree(pb).query(pa, p=np.inf)[0].min())


# --- block_split, synthetic ----------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [4, 6])
def test_block_split_synthetic(synthetic, block_size):
    s = block_split(synthetic, list("abcd"), seed=0, block_size=block_size, margin=0, train_fraction=0.3,
                    val_fraction=0.2)
    check_split(s, synthetic, block_size)
    assert s.dropped == 0
    flat = synthetic.reshape(-1)
    fit = np.concatenate([s.train, s.val])
    for k in (1, 2, 3):  # the big fields: close to the target share
        assert abs((flat[fit] == k).sum() / (flat == k).sum() - 0.3) < 0.06
    assert 0.1 < len(s.val) / len(fit) < 0.3
    assert "blocks" in s.description
    assert s.info["blocks"] == s.info["train_blocks"] + s.info["val_blocks"] + s.info["test_blocks"]


def test_block_split_margin_keeps_training_away_from_test(synthetic):
    s = block_split(synthetic, list("abcd"), seed=0, block_size=6, margin=3, train_fraction=0.3, val_fraction=0.2)
    check_split(s, synthetic, 6)
    assert s.dropped > 0 and f"{s.dropped} train/val px dropped" in s.description
    w = synthetic.shape[1]
    assert min_chebyshev(s.train, s.test, w) > 3 and min_chebyshev(s.val, s.test, w) > 3
    # Without the margin the same blocks sit next to each other.
    s0 = block_split(synthetic, list("abcd"), seed=0, block_size=6, margin=0, train_fraction=0.3, val_fraction=0.2)
    assert min_chebyshev(s0.train, s0.test, w) == 1


def test_block_split_same_seed_same_split(synthetic):
    kw = dict(block_size=5, margin=2, train_fraction=0.3, val_fraction=0.2)
    a, b = block_split(synthetic, list("abcd"), 3, **kw), block_split(synthetic, list("abcd"), 3, **kw)
    c = block_split(synthetic, list("abcd"), 4, **kw)
    for name in ("train", "val", "test"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.test, c.test)


def test_class_in_one_block_is_cut_across_a_margin_wide_gap(synthetic):
    # Class 4 (rows 30-35, cols 10-21) lies in one 22 px block: whole blocks cannot split it (refused before).
    flat = synthetic.reshape(-1)
    s = block_split(synthetic, list("abcd"), 0, block_size=22, margin=2, train_fraction=0.3, val_fraction=0.2)
    fit = np.concatenate([s.train, s.val])
    for k in (1, 2, 3, 4):
        assert (flat[fit] == k).any() and (flat[s.test] == k).any(), k
    assert s.info["cut_classes"] >= 1 and "cut in two across a margin-wide gap" in s.description and "4 'd'" in s.description
    w = synthetic.shape[1]
    assert min_chebyshev(fit[flat[fit] == 4], s.test[flat[s.test] == 4], w) > 2  # the gap
    assert min_chebyshev(fit, s.test, w) > 2 and leakage_report(s, synthetic.shape, 5)["test_pixels_in_train_windows"] == 0
    assert len(fit) + len(s.test) + s.dropped == (flat > 0).sum()


# A 8 x 8 map of 2 x 2 fields (0 = unlabeled), 4 blocks of 4 x 4 px: every class lies in two blocks or more, but
# the whole-block assignment (rarest class first) leaves one of them on one side only.
SHARED_BLOCKS = np.array([[2, 1, 2, 1], [2, 0, 0, 0], [3, 3, 3, 3], [1, 1, 2, 0]]).repeat(2, 0).repeat(2, 1)


def test_class_left_on_one_side_by_whole_blocks_gets_a_cell_moved():
    flat = SHARED_BLOCKS.reshape(-1)
    s = block_split(SHARED_BLOCKS, list("abc"), 0, block_size=4, margin=0, train_fraction=0.5, val_fraction=0.3)
    fit = np.concatenate([s.train, s.val])
    for k in (1, 2, 3):
        assert (flat[fit] == k).any() and (flat[s.test] == k).any(), k
    # One block holds training cells of some classes and test cells of another; the others are whole.
    assert s.info["mixed_blocks"] == 1 and s.info["cut_classes"] == 0 and "1 split by class" in s.description
    mixed = blocks_of(fit, 8, 4) & blocks_of(s.test, 8, 4)
    assert len(mixed) == 1
    [blk] = mixed
    in_blk = [i for i in np.flatnonzero(flat) if (i // 8 // 4, i % 8 // 4) == blk]
    sides = {(int(flat[i]), bool(np.isin(i, fit))) for i in in_blk}
    assert len({k for k, _ in sides}) == len(sides), "a class is on both sides within one block"
    assert len(fit) + len(s.test) == (flat > 0).sum() and s.dropped == 0


def test_moved_cells_keep_the_margin():
    # The same layout at 4x scale with a 2 px margin: a cell moves, and no test pixel is within reach of a fit one.
    labels = SHARED_BLOCKS.repeat(4, 0).repeat(4, 1)
    flat = labels.reshape(-1)
    for seed in (0, 1, 4, 5):  # (seeds 2 and 3 leave no block for validation: 4 blocks are few)
        s = block_split(labels, list("abc"), seed, block_size=16, margin=2, train_fraction=0.5, val_fraction=0.3)
        assert s.info["mixed_blocks"] == 1
        fit = np.concatenate([s.train, s.val])
        assert min_chebyshev(fit, s.test, labels.shape[1]) > 2
        assert leakage_report(s, labels.shape, 5)["test_pixels_in_train_windows"] == 0
        for k in (1, 2, 3):
            assert (flat[s.train] == k).any() and (flat[s.test] == k).any(), (seed, k)


def test_class_aware_split_is_seeded(synthetic):
    kw = dict(block_size=(22, 11), margin=2, train_fraction=0.3, val_fraction=0.2)  # class 4 in one block: cut
    a, b = (block_split(synthetic, list("abcd"), 3, **kw) for _ in range(2))
    assert a.info["cut_classes"] == 1
    assert all(np.array_equal(getattr(a, n), getattr(b, n)) for n in ("train", "val", "test"))
    assert a.description == b.description and a.info == b.info
    assert len({tuple(block_split(synthetic, list("abcd"), seed, **kw).test) for seed in range(5)}) > 1


def tiny_classes() -> np.ndarray:
    """(30, 40) map: two big fields and two 2 x 2 classes that no 3 px margin can split."""
    labels = np.zeros((30, 40), np.int64)
    labels[:, :20], labels[:, 20:] = 1, 2
    labels[5:7, 5:7], labels[20:22, 30:32] = 3, 4
    return labels


def test_unsplittable_classes_are_all_listed_in_one_message():
    with pytest.raises(HsframeError) as err:
        block_split(tiny_classes(), list("abcd"), 0, block_size=10, margin=3, train_fraction=0.3, val_fraction=0.2)
    msg = str(err.value)
    assert "cannot split 2 of 4 classes" in msg and "\n" not in msg
    assert "class 3 'c' (4 px, all in 1 block; its pixels all lie within 1 px of each other" in msg
    assert "class 4 'd' (4 px, all in 1 block;" in msg
    assert "split.drop_unsplittable=true" in msg and "split.method=fixed" in msg and "indianpines_disjoint_dset" in msg


def test_drop_unsplittable_leaves_those_classes_out():
    labels = tiny_classes()
    flat = labels.reshape(-1)
    s = block_split(labels, list("abcd"), 0, block_size=10, margin=3, train_fraction=0.3, val_fraction=0.2,
                    drop_unsplittable=True)
    used = np.concatenate([s.train, s.val, s.test])
    assert set(flat[used].tolist()) == {1, 2} and (flat[s.train] == 1).any() and (flat[s.test] == 2).any()
    assert s.info["left_out_classes"] == 2 and s.info["left_out"] == 8
    assert len(used) + s.dropped == (flat > 0).sum()
    assert "left out: 3 'c' (4 px), 4 'd' (4 px)" in s.description
    [note] = s.notes
    assert note.startswith("warning: split.drop_unsplittable left out 2 class(es)") and "8 px" in note
    assert leakage_report(s, labels.shape, 7)["test_pixels_in_train_windows"] == 0
    # Nothing splittable left: refused even with the option, without offering it.
    only_tiny = np.where(labels > 2, labels, 0)
    with pytest.raises(HsframeError, match="cannot split 2 of 2 classes") as err:
        block_split(only_tiny, list("abcd"), 0, block_size=10, margin=3, train_fraction=0.3, val_fraction=0.2,
                    drop_unsplittable=True)
    assert "drop_unsplittable" not in str(err.value)


def test_margin_wider_than_a_class_is_refused(synthetic):
    # Class 4 is a 6 x 12 field: no pixel of it is more than 11 px from every other one.
    with pytest.raises(HsframeError, match=r"class 4 'd'.*within 11 px.*smaller patch size"):
        block_split(synthetic, list("abcd"), 0, block_size=4, margin=12, train_fraction=0.3, val_fraction=0.2)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(block_size=0), "block_size"),
        (dict(margin=-1), "margin"),
        (dict(train_fraction=1.0), r"train_fraction must lie in \(0, 1\)"),
        (dict(val_fraction=0.0), r"val_fraction must lie in \(0, 1\)"),
    ],
)
def test_block_split_bad_settings(synthetic, kw, match):
    args = dict(block_size=5, margin=0, train_fraction=0.3, val_fraction=0.2) | kw
    with pytest.raises(HsframeError, match=match):
        block_split(synthetic, list("abcd"), 0, **args)


def test_block_split_refuses_unknown_class_ids(synthetic):
    with pytest.raises(HsframeError, match="class id 4.*3 class names"):
        block_split(synthetic, list("abc"), 0, block_size=5, margin=0, train_fraction=0.3, val_fraction=0.2)


# --- block_split, real Indian Pines -----------------------------------------------------------------


@needs_real
@pytest.mark.parametrize("block_size", [5, 10])
def test_block_split_real_indian_pines(indian_pines, block_size):
    s = block_split(indian_pines, IP_NAMES, 0, block_size=block_size, margin=0, train_fraction=0.3, val_fraction=0.2)
    check_split(s, indian_pines, block_size)  # all 16 classes, down to Oats' 20 px, in train and test
    flat = indian_pines.reshape(-1)
    fit = np.concatenate([s.train, s.val])
    assert abs(len(fit) / (flat > 0).sum() - 0.3) < 0.02
    for k in range(1, 17):
        n = (flat == k).sum()
        if n >= 400:  # classes spread over many blocks reach the target share closely
            assert abs((flat[fit] == k).sum() / n - 0.3) < 0.05, k


@needs_real
def test_block_split_real_deterministic(indian_pines):
    kw = dict(block_size=5, margin=2, train_fraction=0.3, val_fraction=0.2)
    a, b, c = (block_split(indian_pines, IP_NAMES, seed, **kw) for seed in (5, 5, 6))
    assert np.array_equal(a.train, b.train) and np.array_equal(a.val, b.val) and np.array_equal(a.test, b.test)
    assert a.description == b.description and not np.array_equal(a.test, c.test)


@needs_real
@pytest.mark.parametrize(
    "patch_size, scene, block_size",
    [(5, "16 classes", 5), (9, "16 classes", 3), (25, "9 classes", 16)],
)
def test_block_split_with_margin_has_no_leakage(indian_pines, indian_pines_9, patch_size, scene, block_size):
    labels = indian_pines if scene == "16 classes" else indian_pines_9
    r = patch_size // 2
    s = block_split(labels, IP_NAMES, 0, block_size=block_size, margin=r, train_fraction=0.3, val_fraction=0.2)
    check_split(s, labels, block_size)
    rep = leakage_report(s, labels.shape, patch_size)
    assert rep["test_in_train_window"] == 0.0 and rep["test_pixels_in_train_windows"] == 0
    assert rep["train_windows_with_test"] == 0.0
    assert min_chebyshev(s.train, s.test, labels.shape[1]) > r  # the same, measured independently
    # The classic random per-pixel split at the same patch size leaks.
    random = stratified_split(indian_pines, IP_NAMES, 0, train_fraction=0.1)
    assert leakage_report(random, indian_pines.shape, patch_size)["test_in_train_window"] > 0.5


@needs_real
@pytest.mark.parametrize(
    "patch_size, block_size, unsplittable",
    [(25, 16, {1, 7, 9}), (25, 24, {1, 7, 9}), (15, 16, {7}), (9, 16, set()), (5, 8, set())],
)
def test_blocks_split_the_real_16_classes(indian_pines, patch_size, block_size, unsplittable):
    """Every class in train and test, or (only those whose pixels all lie within the margin of each other:
    Alfalfa spans 10 px, Grass-pasture-mowed 6, Oats 9) listed, then left out on request; leakage 0."""
    r = patch_size // 2
    kw = dict(block_size=block_size, margin=r, train_fraction=0.3, val_fraction=0.1)
    if unsplittable:
        with pytest.raises(HsframeError, match=f"cannot split {len(unsplittable)} of 16 classes") as err:
            block_split(indian_pines, IP_NAMES, 0, **kw)
        for k in unsplittable:
            assert f"class {k} '{IP_NAMES[k - 1]}' ({(indian_pines == k).sum()} px" in str(err.value)
    s = block_split(indian_pines, IP_NAMES, 0, drop_unsplittable=True, **kw)
    flat = indian_pines.reshape(-1)
    fit = np.concatenate([s.train, s.val])
    for k in range(1, 17):
        if k in unsplittable:
            assert not np.isin(flat[np.concatenate([fit, s.test])], k).any(), k
        else:
            assert (flat[s.train] == k).any() and (flat[s.test] == k).any(), k
    assert s.info["left_out_classes"] == len(unsplittable)
    rep = leakage_report(s, indian_pines.shape, patch_size)
    assert rep["test_pixels_in_train_windows"] == 0 and rep["train_windows_with_test"] == 0.0
    assert min_chebyshev(fit, s.test, indian_pines.shape[1]) > r


@needs_real
def test_patch_25_margin_on_all_16_classes_is_refused(indian_pines):
    # Oats is a 10 x 2 field: with a 12 px margin it can never be both trained on and tested.
    with pytest.raises(HsframeError, match=r"class 9 'Oats'.*within 9 px"):
        block_split(indian_pines, IP_NAMES, 0, block_size=4, margin=12, train_fraction=0.3, val_fraction=0.2)


# --- fixed_split, real published maps ---------------------------------------------------------------


@needs_real
def test_fixed_split_indian_pines_disjoint_map(indian_pines):
    train_map = load("indianpines_disjoint_dset.mat", "indianpines_disjoint_dset")
    n_train_map = int((train_map > 0).sum())
    assert n_train_map == 5689
    s = fixed_split(train_map, None, IP_NAMES, 0, 0.1, remap=IP_DISJOINT_REMAP, labels=indian_pines)
    fit = np.concatenate([s.train, s.val])
    assert len(fit) == n_train_map
    # The test subset is the rest of the ground truth.
    assert len(s.test) == int(((indian_pines > 0) & (train_map == 0)).sum())
    assert not np.isin(s.test, fit).any()
    bad = s.info["train_unlabeled_in_gt"] + s.info["train_disagree_with_gt"]
    assert 1 - bad / n_train_map >= 0.97  # the remap is right (2.7% are unlabeled in the GT)
    assert abs(s.info["train_unlabeled_in_gt"] / n_train_map - 0.027) < 0.001
    # Without the remap the classes do not line up.
    raw = fixed_split(train_map, None, IP_NAMES, 0, 0.1, labels=indian_pines)
    assert 1 - (raw.info["train_unlabeled_in_gt"] + raw.info["train_disagree_with_gt"]) / n_train_map < 0.2
    # Validation: 10% of each (remapped) class of the training map.
    lut = np.zeros(17, np.int64)
    lut[list(IP_DISJOINT_REMAP)] = list(IP_DISJOINT_REMAP.values())
    remapped = lut[train_map].reshape(-1)
    for k in range(1, 17):
        n = (remapped == k).sum()
        assert (remapped[s.val] == k).sum() == min(round(0.1 * n), n - 1)


@needs_real
def test_fixed_split_pavia_university():
    gt = load("PaviaU_gt.mat", "paviaU_gt")
    train_map, test_map = load("TRpavia_fixed.mat", "TRpavia_fixed"), load("TSpavia_fixed.mat", "TSpavia_fixed")
    s = fixed_split(train_map, test_map, PAVIA_NAMES, 0, 0.1, labels=gt)
    assert len(s.train) + len(s.val) == 3921 and len(s.test) == 40002
    assert not np.isin(s.test, np.concatenate([s.train, s.val])).any()
    assert s.info["test_unlabeled_in_gt"] == 0 and s.info["test_disagree_with_gt"] == 0
    assert s.info["train_disagree_with_gt"] == 0
    flat = test_map.reshape(-1)
    assert np.array_equal(flat[s.test], gt.reshape(-1)[s.test])


# --- fixed_split, error cases and remap semantics -----------------------------------------------------


def maps() -> tuple[np.ndarray, np.ndarray]:
    train, test = np.zeros((10, 10), np.int64), np.zeros((10, 10), np.int64)
    train[0:3, 0:3], train[0:3, 5:8] = 1, 2
    test[6:10, 0:4], test[6:10, 5:9] = 1, 2
    return train, test


def test_fixed_split_basic_and_seeded_validation():
    train, test = maps()
    a = fixed_split(train, test, ["a", "b"], 0, 0.3)
    assert len(a.train) + len(a.val) == 18 and len(a.test) == 32 and len(a.val) == 6
    assert np.array_equal(a.val, fixed_split(train, test, ["a", "b"], 0, 0.3).val)
    assert not np.array_equal(a.val, fixed_split(train, test, ["a", "b"], 1, 0.3).val)
    assert a.dropped == 0 and a.info == {}


def test_fixed_split_overlap_is_refused():
    train, test = maps()
    test[2, 2] = 1
    with pytest.raises(HsframeError, match="1 pixels are labeled in both.*row 2, column 2"):
        fixed_split(train, test, ["a", "b"], 0, 0.2)


def test_fixed_split_class_without_training_pixel_is_named():
    train, test = maps()
    test[9, 9] = 3
    with pytest.raises(HsframeError, match="class 3 'c' has 1 test pixels but no training pixel"):
        fixed_split(train, test, ["a", "b", "c"], 0, 0.2)


def test_fixed_split_remap_applies_to_both_maps():
    train, test = maps()
    s = fixed_split(train, test, ["a", "b"], 0, 0.2, remap={1: 2, 2: 1})
    flat_train, flat_test = train.reshape(-1), test.reshape(-1)
    gt = np.where(flat_train > 0, 3 - flat_train, np.where(flat_test > 0, 3 - flat_test, 0)).reshape(10, 10)
    t = fixed_split(train, test, ["a", "b"], 0, 0.2, remap={1: 2, 2: 1}, labels=gt)
    assert t.info["train_disagree_with_gt"] == 0 and t.info["test_disagree_with_gt"] == 0
    assert len(s.test) == 32


def test_fixed_split_remap_to_zero_drops_and_unlisted_ids_stay():
    train, test = maps()
    s = fixed_split(train, test, ["a", "b"], 0, 0.2, remap={2: 0})  # 1 is unlisted: stays 1
    flat = train.reshape(-1)
    assert (flat[np.concatenate([s.train, s.val])] == 1).all() and len(s.test) == 16


def test_fixed_split_ambiguous_partial_remap_is_refused():
    train, test = maps()
    with pytest.raises(HsframeError, match=r"sends \[1\] to 2 but leaves id 2.*2: 2"):
        fixed_split(train, test, ["a", "b"], 0, 0.2, remap={1: 2})
    # Listed explicitly, the merge is allowed.
    s = fixed_split(train, test, ["a", "b"], 0, 0.2, remap={1: 2, 2: 2})
    assert len(s.test) == 32


def test_fixed_split_bad_remap_and_shapes():
    train, test = maps()
    with pytest.raises(HsframeError, match="remap entry 1 -> 5"):
        fixed_split(train, test, ["a", "b"], 0, 0.2, remap={1: 5})
    with pytest.raises(HsframeError, match="one shape"):
        fixed_split(train, test[:5], ["a", "b"], 0, 0.2)
    with pytest.raises(HsframeError, match="needs a test map"):
        fixed_split(train, None, ["a", "b"], 0, 0.2)
