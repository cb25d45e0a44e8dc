"""The built-in metrics, computed as a run computes them (the registry over the test confusion matrix), against scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score
from sklearn.metrics import confusion_matrix as sk_cm

from hsframe.evaluation import confusion_matrix, evaluate_all
from hsframe.metrics import cohen_kappa, overall_accuracy
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
