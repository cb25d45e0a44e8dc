import numpy as np
import pytest

from hsframe.data.split import fixed_split, stratified_split
from hsframe.errors import HsframeError


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    counts = [46, 1428, 20, 300]
    flat = np.concatenate([np.zeros(2006, int)] + [np.full(c, k + 1) for k, c in enumerate(counts)])
    return rng.permutation(flat).reshape(-1, 38)


NAMES = ["a", "b", "c", "d"]


def test_every_labeled_pixel_lands_in_exactly_one_subset(labels):
    s = stratified_split(labels, NAMES, seed=0, train_fraction=0.1)
    allidx = np.concatenate([s.train, s.val, s.test])
    assert len(np.unique(allidx)) == len(allidx) == int((labels > 0).sum())
    assert (labels.reshape(-1)[allidx] > 0).all()


def test_stratified_by_fraction(labels):
    s = stratified_split(labels, NAMES, seed=0, train_fraction=0.3, val_fraction=0.2)
    flat = labels.reshape(-1)
    for k in range(1, 5):
        n = (flat == k).sum()
        n_fit = np.isin(np.flatnonzero(flat == k), np.concatenate([s.train, s.val])).sum()
        assert n_fit == max(1, round(0.3 * n))
        assert (flat[s.val] == k).sum() == min(round(0.2 * n_fit), n_fit - 1)


def test_per_class_count(labels):
    s = stratified_split(labels, NAMES, seed=0, train_per_class=10, val_fraction=0.2)
    flat = labels.reshape(-1)
    for k in range(1, 5):
        assert (flat[s.train] == k).sum() + (flat[s.val] == k).sum() == 10


def test_same_seed_same_split_other_seed_other_split(labels):
    a = stratified_split(labels, NAMES, seed=3)
    b = stratified_split(labels, NAMES, seed=3)
    c = stratified_split(labels, NAMES, seed=4)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    assert not np.array_equal(a.train, c.train)


def test_too_few_pixels_names_the_class(labels):
    with pytest.raises(HsframeError, match="class 3 'c' has 20 labeled pixels"):
        stratified_split(labels, NAMES, seed=0, train_per_class=20)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.1])
def test_fraction_outside_unit_interval(labels, fraction):
    with pytest.raises(HsframeError, match=r"\(0, 1\)"):
        stratified_split(labels, NAMES, seed=0, train_fraction=fraction)


def test_empty_label_map():
    with pytest.raises(HsframeError, match="no labeled pixel"):
        stratified_split(np.zeros((5, 5), int), NAMES, seed=0)


def test_fixed_split_takes_a_validation_map(tmp_path):
    """split.val_map: the validation pixels come from their own map, and every training-map pixel trains."""
    from hsframe.splits import FixedSplit, SplitGrid

    labels = np.tile(np.array([1, 2]), (6, 5))  # (6, 10), two classes in alternate columns
    train, val, test = (np.where(np.arange(6)[:, None] == r, labels, 0) for r in (0, 1, 2))
    for name, m in (("train", train), ("val", val), ("test", test)):
        np.save(tmp_path / f"{name}.npy", m)
    method = FixedSplit()
    options = method.options({"train_map": str(tmp_path / "train.npy"), "test_map": str(tmp_path / "test.npy"),
                              "val_map": str(tmp_path / "val.npy")})
    split = method.split(SplitGrid(labels, ["a", "b"], (3, 3)), 0, options)
    assert split.train.tolist() == list(range(10)) and split.val.tolist() == list(range(10, 20))
    assert split.test.tolist() == list(range(20, 30)) and "val map 10 px" in split.description
    with pytest.raises(HsframeError, match="labeled in both the validation and the training map"):
        fixed_split(train, test, ["a", "b"], 0, 0.1, val_map=np.where(train > 0, train, val))
