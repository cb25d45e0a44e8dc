import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score
from sklearn.metrics import confusion_matrix as sk_cm

from hsframe.evaluation import confusion_matrix, evaluate, metrics_from_confusion


@pytest.mark.parametrize("seed", range(20))
def test_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 17))
    n = int(rng.integers(20, 3000))
    y = rng.integers(0, k, n)
    # Mostly right, with class-dependent errors, so that OA, AA and kappa all differ.
    noise = rng.random(n) < rng.uniform(0.05, 0.6)
    p = np.where(noise, rng.integers(0, k, n), y)
    m = evaluate(y, p, k)
    assert np.array_equal(m.confusion, sk_cm(y, p, labels=range(k)))
    assert m.oa == pytest.approx(accuracy_score(y, p))
    assert m.kappa == pytest.approx(cohen_kappa_score(y, p))
    present = np.unique(y)
    assert m.aa == pytest.approx(balanced_accuracy_score(y, p)) if len(present) == k else True
    for c in present:
        assert m.per_class[c] == pytest.approx(np.mean(p[y == c] == c))


def test_absent_class_is_nan_and_left_out_of_aa():
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 1, 1, 1])
    m = evaluate(y, p, 3)
    assert np.isnan(m.per_class[2])
    assert m.aa == pytest.approx((0.5 + 1.0) / 2)


def test_perfect_and_chance():
    assert evaluate(np.array([0, 1, 2]), np.array([0, 1, 2]), 3).kappa == pytest.approx(1.0)
    m = metrics_from_confusion(np.array([[5, 5], [5, 5]]))
    assert m.oa == 0.5 and m.kappa == pytest.approx(0.0)


def test_bad_labels_are_rejected():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="empty"):
        metrics_from_confusion(np.zeros((2, 2)))
