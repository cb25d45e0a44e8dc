import numpy as np
import pytest
from sklearn.decomposition import PCA

from hsframe.data.preprocess import fit_preprocessor


def test_pca_matches_scikit_learn_up_to_sign():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(500, 3)) @ rng.normal(size=(3, 20)) + 0.01 * rng.normal(size=(500, 20))).astype(np.float32)
    pre = fit_preprocessor(x, 3, standardize=False)
    ours = pre.transform(x.reshape(25, 20, 20)).reshape(3, -1).T.numpy()
    ref = PCA(3).fit_transform(x)
    for k in range(3):
        assert abs(np.corrcoef(ours[:, k], ref[:, k])[0, 1]) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(pre.explained_variance_ratio.numpy(), PCA(3).fit(x).explained_variance_ratio_, rtol=1e-4)


def test_fitted_on_training_pixels_only():
    rng = np.random.default_rng(1)
    cube = rng.normal(size=(10, 10, 8)).astype(np.float32)
    train = np.arange(0, 100, 3)
    pre = fit_preprocessor(cube.reshape(-1, 8)[train], 4)
    # Changing any non-training pixel must not change the fitted transform.
    other = cube.copy().reshape(-1, 8)
    mask = np.ones(100, bool)
    mask[train] = False
    other[mask] = 1e3
    pre2 = fit_preprocessor(other[train], 4)
    for a, b in [(pre.mean, pre2.mean), (pre.components, pre2.components), (pre.scale_std, pre2.scale_std)]:
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_standardized_training_features():
    rng = np.random.default_rng(2)
    cube = (rng.normal(size=(12, 12, 6)) * np.arange(1, 7)).astype(np.float32)
    feats = fit_preprocessor(cube.reshape(-1, 6), None).transform(cube)
    assert feats.shape == (6, 12, 12)
    flat = feats.reshape(6, -1).numpy()
    np.testing.assert_allclose(flat.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(flat.std(1, ddof=1), 1, rtol=1e-4)
