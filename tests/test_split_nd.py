"""block_split and leakage_report on 1-D (sliding windows), 2-D and 3-D (volume) label arrays.

The leakage checks are made twice: with ``leakage_report`` and by brute force over all pairs of
samples, so that a shared mistake in the box-dilation code cannot hide itself.
"""
from __future__ import annotations

import numpy as np
import pytest

from hsframe.data.leakage import leakage_report
from hsframe.data.split import Split, block_split, stratified_split
from hsframe.errors import HsframeError

NAMES = list("abcd")


def volume(seed: int, shape: tuple[int, int, int] = (10, 24, 24), n_classes: int = 4) -> np.ndarray:
    """``shape`` label volume: overlapping boxes of random classes, ~10 % of voxels unlabeled."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int64)
    for _ in range(8):
        lo = [rng.integers(0, n) for n in shape]
        ext = [rng.integers(min(2, n), n // 2 + 2) for n in shape]
        labels[tuple(slice(a, a + e) for a, e in zip(lo, ext))] = rng.integers(1, n_classes + 1)
    return np.where(rng.random(shape) < 0.1, 0, labels)


def series(seed: int, n: int = 400, n_classes: int = 3) -> np.ndarray:
    """``(n,)`` labels of sliding windows: runs of 10-40 windows of one class, a few unlabeled."""
    rng = np.random.default_rng(seed)
    runs, total = [], 0
    while total < n:
        length = int(rng.integers(10, 41))
        runs.append(np.full(length, rng.integers(1, n_classes + 1)))
        total += length
    labels = np.concatenate(runs)[:n]
    return np.where(rng.random(n) < 0.05, 0, labels)


def near_any(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...], half: tuple[int, ...]) -> np.ndarray:
    """Brute force, ``(len(a),)`` bool: sample ``a[i]`` lies within ``half[ax]`` of some ``b[j]`` on every axis."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a), bool)
    ca = np.stack(np.unravel_index(a, shape), 1)
    cb = np.stack(np.unravel_index(b, shape), 1)
    return (np.abs(ca[:, None, :] - cb[None, :, :]) <= np.asarray(half)).all(-1).any(1)


def block_ids(index: np.ndarray, shape: tuple[int, ...], block: tuple[int, ...]) -> set[tuple[int, ...]]:
    return set(zip(*(c // b for c, b in zip(np.unravel_index(index, shape), block))))


def check_blocks(s: Split, labels: np.ndarray, block: tuple[int, ...]) -> None:
    """Disjoint subsets of labeled samples, each block contributing to one subset only."""
    flat = labels.reshape(-1)
    for part in (s.train, s.val, s.test):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0) and np.all(flat[part] > 0)
    assert len(s.train) + len(s.val) + len(s.test) + s.dropped == int((flat > 0).sum())
    tr, va, te = (block_ids(p, labels.shape, block) for p in (s.train, s.val, s.test))
    assert not (tr & te) and not (tr & va) and not (va & te), "a block contributes to two subsets"
    present = set(np.unique(flat[flat > 0]).tolist())
    assert set(flat[s.train].tolist()) == present and set(flat[s.test].tolist()) == present


# --- 3-D volumes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pd, p", [(3, 5), (5, 3)])
def test_volume_margin_gives_zero_leakage(pd, p):
    """Margin (pd//2, p//2, p//2): no test voxel in any (pd, p, p) training window, on many volumes."""
    window, margin, block = (pd, p, p), (pd // 2, p // 2, p // 2), (4, 6, 6)
    done = repaired = 0
    for seed in range(24):
        labels = volume(seed)
        try:
            s = block_split(labels, NAMES, seed, block_size=block, margin=margin, train_fraction=0.4, val_fraction=0.25)
        except HsframeError:
            continue  # refusals (a class in one block, a margin eating a class) are legitimate here
        done += 1
        repaired += s.info["margin_repairs"]
        whole = s.info["mixed_blocks"] == 0 and s.info["cut_classes"] == 0
        if whole:  # (a moved cell or a cut class shares a block between subsets, the margin apart)
            check_blocks(s, labels, block)
        rep = leakage_report(s, labels.shape, window)
        assert rep["test_in_train_window"] == 0.0 and rep["train_windows_with_test"] == 0.0
        half = tuple(w // 2 for w in window)
        fit = np.concatenate([s.train, s.val])
        assert not near_any(fit, s.test, labels.shape, half).any(), f"seed {seed}: a test voxel in a fit window"
        # The margin drops exactly the labeled fit voxels near a test voxel, no more.
        lab = np.flatnonzero(labels.reshape(-1) > 0)
        dropped = np.setdiff1d(lab, np.concatenate([fit, s.test]))
        assert len(dropped) == s.dropped
        if whole:  # (a cut class also drops its gap)
            assert near_any(dropped, s.test, labels.shape, margin).all()
    assert done >= 15, "too few volumes could be split: the test no longer exercises block_split"
    assert repaired >= 1, "no volume needed a margin repair: _margin_repair is not exercised in 3-D"


def test_volume_without_depth_margin_leaks_along_depth():
    """A margin on the in-plane axes only leaves test voxels in the (3, 5, 5) windows above/below."""
    leaks = []
    for seed in range(8):
        labels = volume(seed)
        try:
            s = block_split(labels, NAMES, seed, block_size=(4, 6, 6), margin=(0, 2, 2), train_fraction=0.4,
                            val_fraction=0.25)
        except HsframeError:
            continue
        assert leakage_report(s, labels.shape, (1, 5, 5))["test_in_train_window"] == 0.0  # in-plane: none
        leaks.append(leakage_report(s, labels.shape, (3, 5, 5))["test_in_train_window"])
    assert leaks and max(leaks) > 0


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("depth_margin", [0, 2])
def test_volume_constant_along_depth_equals_the_2d_split(seed, depth_margin):
    """Labels constant along depth, blocks spanning the whole depth: the 2-D split on every slice.

    The block grid is then the 2-D grid (one block along depth), every block's class counts are the
    2-D ones times D, a voxel is near a test voxel iff its pixel is near a test pixel in 2-D (test
    columns span the whole depth), and the seeded block orders are the same: the greedy makes the
    same choices.
    """
    plane = volume(seed, shape=(1, 40, 48))[0]
    d = 3
    vol = np.repeat(plane[None], d, axis=0)
    kw = dict(train_fraction=0.3, val_fraction=0.2)
    s2 = block_split(plane, NAMES, seed, block_size=6, margin=2, **kw)
    s3 = block_split(vol, NAMES, seed, block_size=(d, 6, 6), margin=(depth_margin, 2, 2), **kw)
    n = plane.size
    for a, b in ((s2.train, s3.train), (s2.val, s3.val), (s2.test, s3.test)):
        assert np.array_equal(np.sort((np.arange(d)[:, None] * n + a[None]).reshape(-1)), b)
    assert s3.dropped == d * s2.dropped and s3.info == s2.info
    again = block_split(vol, NAMES, seed, block_size=(d, 6, 6), margin=(depth_margin, 2, 2), **kw)
    assert np.array_equal(again.train, s3.train) and again.description == s3.description
    other = block_split(vol, NAMES, seed + 1, block_size=(d, 6, 6), margin=(depth_margin, 2, 2), **kw)
    assert not np.array_equal(other.test, s3.test)


def test_volume_description_names_the_block_shape():
    labels = volume(0)
    s = block_split(labels, NAMES, 0, block_size=(4, 6, 6), margin=(1, 2, 2), train_fraction=0.4, val_fraction=0.25)
    assert "spatial blocks of 4 x 6 x 6 samples" in s.description
    assert f"margin 1 x 2 x 2 samples ({s.dropped} train/val samples dropped" in s.description
    cube = block_split(labels, NAMES, 0, block_size=4, margin=1, train_fraction=0.4, val_fraction=0.25)
    assert "spatial blocks of 4 x 4 x 4 samples" in cube.description and "margin 1 samples" in cube.description
    assert "px" not in s.description


def test_2d_tuple_settings_equal_int_settings():
    plane = volume(1, shape=(1, 40, 48))[0]
    kw = dict(train_fraction=0.3, val_fraction=0.2)
    a = block_split(plane, NAMES, 2, block_size=6, margin=3, **kw)
    b = block_split(plane, NAMES, 2, block_size=(6, 6), margin=[3, 3], **kw)
    assert all(np.array_equal(x, y) for x, y in zip((a.train, a.val, a.test), (b.train, b.val, b.test)))
    assert a.description == b.description and "6 x 6 px" in a.description and "margin 3 px" in a.description


def test_volume_class_within_the_margin_is_refused_with_its_extent():
    """Class 'b' spans (1, 2, 2) voxels: with margin (1, 3, 3) none of it can be trained while another is tested."""
    labels = np.ones((6, 16, 16), np.int64)
    labels[2:4, 5:8, 5:8] = 2
    with pytest.raises(HsframeError, match=r"class 2 'b'.*within 1 x 2 x 2 samples of each other"):
        block_split(labels, NAMES[:2], 0, block_size=2, margin=(1, 3, 3), train_fraction=0.5, val_fraction=0.2)


# --- 1-D sliding windows ------------------------------------------------------------------------------


@pytest.mark.parametrize("r", [1, 3, 5])
def test_series_margin_r_gives_no_frame_overlap(r):
    """Windows overlap in frames iff |i - j| <= r: margin r leaves no test window overlapping a fit one."""
    labels = series(r)
    n = len(labels)
    s = block_split(labels, NAMES[:3], 0, block_size=20, margin=r, train_fraction=0.4, val_fraction=0.25)
    check_blocks(s, labels, (20,))
    assert leakage_report(s, (n,), 2 * r + 1)["test_in_train_window"] == 0.0
    fit = np.concatenate([s.train, s.val])
    assert not (np.abs(fit[:, None] - s.test[None, :]) <= r).any()
    assert "spatial blocks of 20 samples" in s.description and f"margin {r} samples" in s.description
    # The classic random split of the same windows shares frames between training and test windows.
    random = stratified_split(labels, NAMES[:3], 0, train_fraction=0.4, val_fraction=0.25)
    assert leakage_report(random, (n,), 2 * r + 1)["test_in_train_window"] > 0
    assert (np.abs(random.train[:, None] - random.test[None, :]) <= r).any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_series_equals_the_2d_split_of_one_row(seed):
    """A (n,) series is the (1, n) map: same grid, same windows, hence the same indices."""
    labels = series(seed)
    kw = dict(train_fraction=0.4, val_fraction=0.25)
    s1 = block_split(labels, NAMES[:3], seed, block_size=16, margin=3, **kw)
    s2 = block_split(labels[None], NAMES[:3], seed, block_size=(1, 16), margin=(0, 3), **kw)
    for a, b in ((s1.train, s2.train), (s1.val, s2.val), (s1.test, s2.test)):
        assert np.array_equal(a, b)
    assert s1.dropped == s2.dropped and s1.info == s2.info


# --- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, kw, match",
    [
        (np.ones((2, 2, 2, 2), np.int64), {}, r"1-D \(n,\), 2-D \(H, W\) or 3-D \(D, H, W\)"),
        (np.array(1), {}, r"1-D \(n,\), 2-D \(H, W\) or 3-D"),
        (np.ones((4, 8, 8), np.int64), dict(block_size=(4, 4)), r"split\.block_size .*list of 3"),
        (np.ones((4, 8, 8), np.int64), dict(block_size=(4, 0, 4)), r"split\.block_size .*on every axis"),
        (np.ones((4, 8, 8), np.int64), dict(block_size=(4, 2.5, 4)), r"split\.block_size"),
        (np.ones((4, 8, 8), np.int64), dict(margin=(1, -1, 1)), r"split\.margin .*>= 0 on every axis"),
        (np.ones((4, 8, 8), np.int64), dict(margin=(1, 1)), r"split\.margin"),
        (np.ones(30, np.int64), dict(margin=(1, 1)), r"split\.margin .*list of 1"),
        (np.ones(30, np.int64), dict(block_size="8"), r"split\.block_size"),
    ],
)
def test_block_split_refuses_bad_shapes_and_settings(labels, kw, match):
    args = dict(block_size=4, margin=1, train_fraction=0.3, val_fraction=0.2) | kw
    with pytest.raises(HsframeError, match=match):
        block_split(labels, NAMES[:1], 0, **args)


def test_leakage_report_refuses_bad_patch_sizes_and_shapes():
    s = Split(np.array([0]), np.array([], np.int64), np.array([5]), "hand-made")
    with pytest.raises(HsframeError, match="patch_size.*list of 3"):
        leakage_report(s, (2, 3, 4), (3, 3))
    with pytest.raises(HsframeError, match="patch_size must be an odd"):
        leakage_report(s, (2, 3, 4), (3, 4, 3))
    with pytest.raises(HsframeError, match="odd"):
        leakage_report(s, (24,), 4)
    with pytest.raises(HsframeError, match="shape must be"):
        leakage_report(s, (2, 2, 2, 2), 3)
    with pytest.raises(HsframeError, match="do not fit a 1 x 2 x 2 scene"):
        leakage_report(s, (1, 2, 2), 3)


# --- leakage_report against brute force ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_leakage_report_matches_brute_force(seed, ndim):
    rng = np.random.default_rng(100 * ndim + seed)
    shape = tuple(int(n) for n in rng.integers(3, {1: 60, 2: 14, 3: 8}[ndim], ndim))
    # Each sample: 0 train, 1 val, 2 test or 3 none; sparse enough that some windows stay clean.
    which = rng.choice(4, size=int(np.prod(shape)), p=[0.1, 0.05, 0.1, 0.75])
    s = Split(*(np.flatnonzero(which == k).astype(np.int64) for k in range(3)), "random")
    window = tuple(int(w) for w in 2 * rng.integers(0, 3, ndim) + 1)
    half = tuple(w // 2 for w in window)
    rep = leakage_report(s, shape, window)
    test_in = near_any(s.test, s.train, shape, half)
    val_in = near_any(s.val, s.train, shape, half)
    train_hit = near_any(s.train, s.test, shape, half)
    assert rep["test_pixels_in_train_windows"] == int(test_in.sum())
    assert rep["val_pixels_in_train_windows"] == int(val_in.sum())
    assert rep["test_in_train_window"] == (test_in.mean() if len(s.test) else 0.0)
    assert rep["val_in_train_window"] == (val_in.mean() if len(s.val) else 0.0)
    assert rep["train_windows_with_test"] == (train_hit.mean() if len(s.train) else 0.0)
    assert rep["patch_size"] == "x".join(map(str, window))


def test_leakage_report_echoes_patch_size_and_keeps_keys():
    s = Split(np.array([0]), np.array([], np.int64), np.array([10]), "hand-made")
    as_int = leakage_report(s, (2, 4, 4), 5)
    as_tuple = leakage_report(s, (2, 4, 4), (5, 9, 9))
    assert as_int["patch_size"] == 5 and isinstance(as_int["patch_size"], int)
    assert as_tuple["patch_size"] == "5x9x9"
    assert leakage_report(s, (40,), (7,))["patch_size"] == "7"
    assert set(as_int) == set(as_tuple) == {
        "test_in_train_window", "test_pixels_in_train_windows", "val_in_train_window",
        "val_pixels_in_train_windows", "train_windows_with_test", "features_saw_test",
        "features_fit_beyond_train", "fit_on", "patch_size",
    }
    # Voxel 0 = (0, 0, 0) and voxel 10 = (0, 2, 2): inside a window of half-side 2 in-plane, not 1.
    assert as_int["test_in_train_window"] == 1.0 and leakage_report(s, (2, 4, 4), 3)["test_in_train_window"] == 0.0
