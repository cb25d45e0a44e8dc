"""leakage_report on tiny hand-made splits with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from hsframe.data.leakage import leakage_report
from hsframe.data.split import Split
from hsframe.errors import HsframeError

W = 20
SHAPE = (12, W)


def px(*rc: tuple[int, int]) -> np.ndarray:
    return np.array(sorted(r * W + c for r, c in rc), np.int64)


def split(train, test, val=()) -> Split:
    return Split(px(*train), px(*val), px(*test), "hand-made")


@pytest.mark.parametrize("patch_size", [3, 5, 9])
def test_test_pixel_at_distance_r_is_inside_r_plus_1_is_not(patch_size):
    r = patch_size // 2
    # Test pixels at Chebyshev distance r (diagonal and straight) and r + 1 of the training pixel (5, 5).
    s = split(train=[(5, 5)], test=[(5 + r, 5 + r), (5 - r, 5), (5, 5 + r + 1), (5 + r + 1, 5 - r)])
    rep = leakage_report(s, SHAPE, patch_size)
    assert rep["test_pixels_in_train_windows"] == 2
    assert rep["test_in_train_window"] == 0.5
    assert rep["train_windows_with_test"] == 1.0
    assert rep["patch_size"] == patch_size


def test_image_borders_do_not_wrap_around():
    # A training pixel in the last column: its window must not reach the first column of the next row
    # (flat indices are adjacent there) nor wrap to the other side of the image.
    s = split(train=[(3, W - 1)], test=[(4, 0), (3, 0), (0, W - 1), (11, W - 1)])
    rep = leakage_report(s, SHAPE, 5)
    assert rep["test_pixels_in_train_windows"] == 0
    # A corner training pixel still sees its in-image neighbours.
    s = split(train=[(0, 0)], test=[(2, 2), (0, 3), (11, 19)])
    rep = leakage_report(s, SHAPE, 5)
    assert rep["test_pixels_in_train_windows"] == 1 and rep["test_in_train_window"] == pytest.approx(1 / 3)


def test_validation_pixels_are_counted_separately():
    s = split(train=[(5, 5)], val=[(6, 6), (5, 9)], test=[(0, 19)])
    rep = leakage_report(s, SHAPE, 3)
    assert rep["val_pixels_in_train_windows"] == 1 and rep["val_in_train_window"] == 0.5
    assert rep["test_in_train_window"] == 0.0 and rep["train_windows_with_test"] == 0.0


def test_several_training_pixels_count_each_test_pixel_once():
    s = split(train=[(5, 5), (5, 6), (6, 5)], test=[(6, 6), (9, 9)])
    rep = leakage_report(s, SHAPE, 3)
    assert rep["test_pixels_in_train_windows"] == 1 and rep["test_in_train_window"] == 0.5
    assert rep["train_windows_with_test"] == 1.0  # all three windows hold (6, 6)


def test_empty_subsets_give_zero():
    rep = leakage_report(split(train=[(5, 5)], test=[]), SHAPE, 3)
    assert rep["test_in_train_window"] == 0.0 and rep["val_in_train_window"] == 0.0


@pytest.mark.parametrize(
    "fit_on, saw_test, beyond",
    [("train", False, False), ("train+val", False, True), ("labeled", True, True), ("all", True, True)],
)
def test_fit_on_flag(fit_on, saw_test, beyond):
    rep = leakage_report(split(train=[(5, 5)], test=[(0, 0)]), SHAPE, 3, fit_on=fit_on)
    assert rep["features_saw_test"] is saw_test and rep["features_fit_beyond_train"] is beyond
    assert rep["fit_on"] == fit_on


def test_bad_arguments():
    s = split(train=[(5, 5)], test=[(0, 0)])
    with pytest.raises(HsframeError, match="fit_on must be one of"):
        leakage_report(s, SHAPE, 3, fit_on="test")
    with pytest.raises(HsframeError, match="odd"):
        leakage_report(s, SHAPE, 4)
    with pytest.raises(HsframeError, match="do not fit a 2 x 2 scene"):
        leakage_report(s, (2, 2), 3)
