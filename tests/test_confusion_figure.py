"""The confusion-matrix figure a run logs: row shares as colour, readable counts, class names, OA and kappa in the title."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from hsframe.figures import MIN_COUNT_FONT, confusion_figure


def confusion(k: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 300, (k, k)) * (rng.random((k, k)) < 0.4) + np.diag(rng.integers(500, 20000, k))


def test_title_has_oa_and_kappa_and_axes_the_class_names():
    names = [f"class {i}" for i in range(16)]
    fig = confusion_figure(confusion(16), names, 0.91234, 0.87651)
    ax = fig.axes[0]
    assert "OA 0.9123" in ax.get_title() and "kappa 0.8765" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == names == [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)


@pytest.mark.parametrize("k", [2, 16, 40])
def test_every_count_is_drawn_readable(k):
    cm = confusion(k, seed=k)
    fig = confusion_figure(cm, [f"c{i}" for i in range(k)], 0.5, 0.4)
    texts = fig.axes[0].texts
    assert sorted(int(t.get_text()) for t in texts) == sorted(cm[cm > 0].tolist())  # every non-empty cell
    assert min(t.get_fontsize() for t in texts) >= 6
    plt.close(fig)


def test_colour_is_the_row_share():
    cm = np.array([[90, 10], [1, 1]])
    fig = confusion_figure(cm, ["a", "b"], 0.9, 0.1)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), [[0.9, 0.1], [0.5, 0.5]])
    plt.close(fig)


def test_too_many_classes_drop_the_counts_rather_than_shrink_them():
    fig = confusion_figure(confusion(200), [f"c{i}" for i in range(200)], 0.5, 0.4)
    assert len(fig.axes[0].texts) == 0 and MIN_COUNT_FONT >= 6
    plt.close(fig)
