"""The built-in metrics, computed as a run computes them (the registry over the test confusion matrix), against scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score, f1_score, precision_recall_fscore_support
from sklearn.metrics import confusion_matrix as sk_cm

from hsframe.evaluation import confusion_matrix, evaluate_all, per_class_csv
from hsframe.metrics import CLASS_SCORES, SEGMENTATION_SCORES, cohen_kappa, overall_accuracy
from hsframe.plugins import get_plugins


def evaluate(y, p, k):
    return evaluate_all(y, p, [f"c{i}" for i in range(k)], get_plugins().metrics)


@pytest.mark.parametrize("seed", range(20))
def test_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 17))
    n = int(rng.integers(20, 3000))
    y = rng.integers(0, k, n)
    # Mostly right, with class-dependent errors, so that OA, AA and kappa all differ.
    noise = rng.random(n) < rng.uniform(0.05, 0.6)
    p = np.where(noise, rng.integers(0, k, n), y)
    ev = evaluate(y, p, k)
    assert np.array_equal(ev.confusion, sk_cm(y, p, labels=range(k)))
    assert ev.metrics["test_oa"] == pytest.approx(accuracy_score(y, p))
    assert ev.metrics["test_kappa"] == pytest.approx(cohen_kappa_score(y, p))
    present = np.unique(y)
    assert ev.metrics["test_aa"] == pytest.approx(balanced_accuracy_score(y, p)) if len(present) == k else True
    for c in present:
        assert ev.per_class[c]["accuracy"] == pytest.approx(np.mean(p[y == c] == c))
        assert ev.metrics[f"test_class_acc/{c + 1:02d}_c{c}"] == ev.per_class[c]["accuracy"]


def test_absent_class_is_nan_and_left_out_of_aa():
    ev = evaluate(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 3)
    assert np.isnan(ev.per_class[2]["accuracy"]) and "test_class_acc/03_c2" not in ev.metrics
    assert ev.metrics["test_aa"] == pytest.approx((0.5 + 1.0) / 2)


def test_perfect_and_chance():
    assert evaluate(np.array([0, 1, 2]), np.array([0, 1, 2]), 3).metrics["test_kappa"] == pytest.approx(1.0)
    chance = np.array([[5, 5], [5, 5]])
    assert overall_accuracy(chance) == 0.5 and cohen_kappa(chance) == pytest.approx(0.0)


def test_bad_labels_are_rejected():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="empty"):
        overall_accuracy(np.zeros((2, 2)))


def random_with_absent_classes(seed):
    """Random predictions over k classes, some classes absent from the truth, some never predicted."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 17))
    n = int(rng.integers(20, 2000))
    in_truth = rng.choice(k, size=int(rng.integers(1, k)), replace=False)  # at least one class has no test sample
    y = rng.choice(in_truth, n)
    noise = rng.random(n) < rng.uniform(0.05, 0.7)
    p = np.where(noise, rng.integers(0, k, n), y)
    never = int(rng.integers(0, k))  # a class never predicted (its samples go to the next class)
    p[p == never] = (never + 1) % k
    return y, p, k


@pytest.mark.parametrize("seed", range(30))
def test_precision_recall_f1_match_scikit_learn_with_absent_classes(seed):
    y, p, k = random_with_absent_classes(seed)
    ev = evaluate(y, p, k)
    precision, recall, f1, support = precision_recall_fscore_support(y, p, labels=range(k), zero_division=np.nan)
    got = {col: np.array([row[col] for row in ev.per_class]) for col in ("precision", "recall", "f1", "accuracy", "test_pixels")}
    np.testing.assert_allclose(got["precision"], precision, equal_nan=True)
    np.testing.assert_allclose(got["recall"], recall, equal_nan=True)
    np.testing.assert_allclose(got["accuracy"], recall, equal_nan=True)  # producer's accuracy is the recall
    np.testing.assert_allclose(got["f1"], f1, equal_nan=True)
    assert got["test_pixels"].tolist() == support.tolist()
    assert np.isnan(recall).any() and np.isnan(precision).any()  # the data holds both kinds of undefined figure
    for score, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        for c in range(k):
            key = f"test_class_{score}/{c + 1:02d}_c{c}"
            # logged where defined, under the same name scheme as test_class_acc
            assert ev.metrics[key] == pytest.approx(values[c]) if not np.isnan(values[c]) else key not in ev.metrics
    for average in ("macro", "weighted"):
        expected = f1_score(y, p, labels=range(k), average=average, zero_division=np.nan)
        assert ev.metrics[f"test_{average}_f1"] == pytest.approx(expected)
        assert expected == pytest.approx(f1_score(y, p, average=average))  # the same over the classes that occur


def test_undefined_figures_follow_zero_division_nan():
    # class 0: predicted, never in the truth; class 1: in the truth, never predicted; class 2: neither
    ev = evaluate(np.array([1, 1, 3, 3]), np.array([0, 0, 3, 3]), 4)
    c0, c1, c2, _ = ev.per_class
    assert c0["precision"] == 0.0 and np.isnan(c0["recall"]) and c0["f1"] == 0.0
    assert np.isnan(c1["precision"]) and c1["recall"] == 0.0 and c1["f1"] == 0.0
    assert np.isnan(c2["precision"]) and np.isnan(c2["recall"]) and np.isnan(c2["f1"])
    assert ev.metrics["test_macro_f1"] == pytest.approx((0 + 0 + 1) / 3)  # class 2 left out, class 0 counts
    assert ev.metrics["test_weighted_f1"] == pytest.approx(0.5)
    assert "test_class_precision/02_c1" not in ev.metrics and ev.metrics["test_class_precision/01_c0"] == 0.0


def test_dice_and_iou_by_hand():
    # true \ predicted: class 0 TP 8, FP 1, FN 2; class 1 TP 5, FP 2, FN 1; class 2 TP 0, FP 1, FN 1; class 3 absent
    cm = np.array([[8, 1, 1, 0], [1, 5, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    y = np.repeat(np.repeat(np.arange(4), 4), cm.reshape(-1))
    p = np.repeat(np.tile(np.arange(4), 4), cm.reshape(-1))
    names = ["bg", "white matter", "tumour", "none"]
    ev = evaluate_all(y, p, names, get_plugins().metrics, CLASS_SCORES + SEGMENTATION_SCORES)
    assert np.array_equal(ev.confusion, cm)
    dice = [2 * 8 / (2 * 8 + 1 + 2), 2 * 5 / (2 * 5 + 2 + 1), 0.0]
    iou = [8 / (8 + 1 + 2), 5 / (5 + 2 + 1), 0.0]
    for c in range(3):
        assert ev.per_class[c]["dice"] == pytest.approx(dice[c]) == ev.per_class[c]["f1"]
        assert ev.per_class[c]["iou"] == pytest.approx(iou[c])
    assert np.isnan(ev.per_class[3]["dice"]) and np.isnan(ev.per_class[3]["iou"])
    assert ev.metrics["test_class_dice/02_white_matter"] == pytest.approx(10 / 13)
    assert ev.metrics["test_class_iou/03_tumour"] == 0.0 and "test_class_iou/04_none" not in ev.metrics
    assert ev.metrics["test_mean_dice"] == pytest.approx(np.mean(dice))
    assert ev.metrics["test_mean_iou"] == pytest.approx(np.mean(iou))
    assert not any(key.startswith(("test_class_dice", "test_mean")) for key in evaluate(y, p, 4).metrics)  # not by default


def test_per_class_csv_has_every_column():
    ev = evaluate(np.array([0, 0, 1]), np.array([0, 1, 1]), 3)
    lines = per_class_csv(ev.per_class).splitlines()
    assert lines[0] == "class,name,test_pixels,accuracy,precision,recall,f1"
    assert lines[1] == "1,c0,2,0.500000,1.000000,0.500000,0.666667"
    assert lines[3] == "3,c2,0,nan,nan,nan,nan"
