"""The synthetic Indian Pines-style scene: determinism, format, imbalance and difficulty."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from hsframe.data.scene import Scene
from hsframe.data.synthetic import CLASS_NAMES, FIELDS_PER_CLASS, TARGET_COUNTS, synthetic_pines


@pytest.fixture(scope="module")
def scene() -> Scene:
    return synthetic_pines(0)


def _class_counts(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels.ravel(), minlength=17)[1:]


def test_same_seed_gives_identical_scene(scene: Scene) -> None:
    again = synthetic_pines(0)
    np.testing.assert_array_equal(again.cube, scene.cube)
    np.testing.assert_array_equal(again.labels, scene.labels)
    np.testing.assert_array_equal(again.wavelengths, scene.wavelengths)


def test_other_seed_gives_other_scene(scene: Scene) -> None:
    other = synthetic_pines(1)
    assert not np.array_equal(other.labels, scene.labels)  # a new layout, not just new noise
    assert not np.allclose(other.cube, scene.cube)


def test_shapes_and_dtypes(scene: Scene) -> None:
    assert scene.cube.shape == (145, 145, 200)
    assert scene.cube.dtype == np.float32
    assert scene.labels.shape == (145, 145)
    assert scene.labels.dtype == np.int64
    assert scene.class_names == CLASS_NAMES and len(CLASS_NAMES) == 16
    assert scene.num_classes == 16 and len(scene.palette) == 16
    wl = scene.wavelengths
    assert wl is not None and wl.shape == (200,)
    assert wl[0] == pytest.approx(400.0) and wl[-1] == pytest.approx(2500.0)
    assert np.all(np.diff(wl) > 0)
    assert scene.rgb_bands is not None
    for band, nm in zip(scene.rgb_bands, (650.0, 550.0, 450.0)):
        assert abs(wl[band] - nm) <= 11.0  # nearest band; spacing is ~10.6 nm


def test_values_are_finite_reflectances(scene: Scene) -> None:
    assert np.isfinite(scene.cube).all()
    assert scene.cube.min() > -0.05 and scene.cube.max() < 1.0


def test_labels_and_imbalance(scene: Scene) -> None:
    labels = scene.labels
    assert labels.min() == 0 and labels.max() == 16
    counts = _class_counts(labels)
    assert (counts > 0).all()
    assert (counts < 50).sum() >= 2
    assert counts.max() > 2000
    assert abs(counts.sum() - 10_249) <= 0.05 * 10_249
    # Every class stays near its real Indian Pines count, so the ranking of sizes holds.
    target = np.array(TARGET_COUNTS)
    assert np.all(np.abs(counts - target) <= np.maximum(0.2 * target, 10))
    # Plenty of unlabeled background (roads, margins) around the fields.
    assert 0.35 < (labels == 0).mean() < 0.65


def test_classes_come_in_separate_fields(scene: Scene) -> None:
    for cls, n_fields in enumerate(FIELDS_PER_CLASS, start=1):
        _, n_parts = ndimage.label(scene.labels == cls)
        assert n_parts == n_fields, CLASS_NAMES[cls - 1]
    assert all(1 <= n <= 6 for n in FIELDS_PER_CLASS)
    # Fields of different classes never touch: background separates them.
    lab = scene.labels
    for a, b in ((lab[1:, :], lab[:-1, :]), (lab[:, 1:], lab[:, :-1])):
        touching = (a > 0) & (b > 0)
        assert np.array_equal(a[touching], b[touching])


def test_spectra_look_like_their_materials(scene: Scene) -> None:
    wl = scene.wavelengths
    assert wl is not None

    def band(nm: float) -> int:
        return int(np.argmin(np.abs(wl - nm)))

    def mean_spectrum(name: str) -> np.ndarray:
        return scene.cube[scene.labels == CLASS_NAMES.index(name) + 1].mean(axis=0)

    woods = mean_spectrum("Woods")
    assert woods[band(800)] > 3 * woods[band(670)]  # red edge
    assert woods[band(1450)] < woods[band(1650)] and woods[band(1940)] < woods[band(2200)]
    # Similar crops are spectrally close; different cover types are far apart.
    notill, mintill = mean_spectrum("Corn-notill"), mean_spectrum("Corn-mintill")
    soy_notill, soy_mintill = mean_spectrum("Soybean-notill"), mean_spectrum("Soybean-mintill")
    far = np.linalg.norm(notill - woods)
    assert np.linalg.norm(notill - mintill) < 0.25 * far
    assert np.linalg.norm(soy_notill - soy_mintill) < 0.25 * far


def _logreg_oa(features: np.ndarray, labels: np.ndarray) -> float:
    """Test OA of logistic regression on standardised, PCA-reduced features (10% train)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    train, test = train_test_split(
        np.arange(labels.size), train_size=0.1, stratify=labels, random_state=0
    )
    x = StandardScaler().fit(features[train]).transform(features)
    x = PCA(20, random_state=0).fit(x[train]).transform(x)
    clf = LogisticRegression(max_iter=300).fit(x[train], labels[train])
    return float((clf.predict(x[test]) == labels[test]).mean())


def test_hard_per_pixel_but_solvable_with_spatial_context(scene: Scene) -> None:
    pytest.importorskip("sklearn")
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    mask = scene.labels > 0
    y = scene.labels[mask]
    window_mean = ndimage.uniform_filter(scene.cube, size=(7, 7, 1), mode="reflect")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pixel_oa = _logreg_oa(scene.cube[mask], y)
        window_oa = _logreg_oa(window_mean[mask], y)
    # Single spectra must stay ambiguous (a trivially separable generator fails this) ...
    assert pixel_oa < 0.80, pixel_oa
    # ... but a 7 x 7 mean must recover the classes (a pure-noise generator fails this).
    assert window_oa > 0.90, window_oa
    assert pixel_oa > 1.2 * np.bincount(y).max() / y.size  # still well above majority vote
