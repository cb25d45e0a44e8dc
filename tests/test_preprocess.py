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


def test_band_removal_parsing_and_effect():
    from hsframe.data.preprocess import parse_band_list
    from hsframe.errors import HsframeError

    assert parse_band_list("1-3, 7", 10).tolist() == [1, 2, 3, 7]
    assert parse_band_list([5, 0, 5], 10).tolist() == [0, 5]
    with pytest.raises(HsframeError, match="outside 0..9"):
        parse_band_list("8-12", 10)
    with pytest.raises(HsframeError, match="cannot read"):
        parse_band_list("a-b", 10)
    rng = np.random.default_rng(3)
    cube = rng.normal(size=(6, 6, 5)).astype(np.float32)
    cube[..., 2] = np.nan  # a dead band: removing it must keep the features finite
    pre = fit_preprocessor(cube.reshape(-1, 5), None, remove_bands=np.array([2]))
    feats = pre.transform(cube)
    assert feats.shape == (4, 6, 6) and torch_isfinite(feats)


def torch_isfinite(t) -> bool:
    return bool(t.isfinite().all())


def test_whitening_decorrelates_bands():
    rng = np.random.default_rng(4)
    mix = rng.normal(size=(6, 6))
    x = (rng.normal(size=(2000, 6)) @ mix).astype(np.float32)
    pre = fit_preprocessor(x, None, whiten=True)
    f = pre.transform(x.reshape(40, 50, 6)).reshape(6, -1).numpy()
    np.testing.assert_allclose(np.cov(f), np.eye(6), atol=1e-3)


def test_band_standardization_before_pca():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(500, 4)).astype(np.float32) * np.array([1, 1, 1, 1000], dtype=np.float32)
    # Without band scaling the loud band owns the first component; with it, no band dominates.
    loud = fit_preprocessor(x, 1).components[:, 0].abs()
    fair = fit_preprocessor(x, 1, band_standardize=True).components[:, 0].abs()
    assert loud.argmax() == 3 and loud[3] > 0.99
    assert fair.max() < 0.99


@pytest.mark.parametrize("options", [{"n_components": 3}, {"n_components": None, "remove_bands": np.array([1]), "band_standardize": True}])
def test_saved_without_pickle_and_loaded_back(tmp_path, options):
    import torch
    from safetensors import safe_open

    from hsframe.data.preprocess import Preprocessor

    cube = np.random.default_rng(4).normal(size=(6, 7, 5)).astype(np.float32)
    pre = fit_preprocessor(cube.reshape(-1, 5), **options)
    pre.save(tmp_path / "pre.safetensors")
    with safe_open(str(tmp_path / "pre.safetensors"), "pt") as f:  # a safetensors file: tensors and text, no pickle
        assert f.metadata()["n_input_bands"] == "5"
    back = Preprocessor.load(tmp_path / "pre.safetensors")
    assert back.in_bands == 5 and (back.components is None) == (pre.components is None)
    assert torch.equal(back.transform(cube), pre.transform(cube))


def test_a_safetensors_file_of_something_else_is_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    from hsframe.data.preprocess import Preprocessor

    save_file({"weight": torch.zeros(2)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(ValueError, match="not a fitted preprocessor"):
        Preprocessor.load(tmp_path / "w.safetensors")


@pytest.mark.parametrize("change", ["keep", "components", "scale_std"])
def test_a_preprocessor_whose_tensors_do_not_fit_together_is_refused_when_read(tmp_path, change):
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    from hsframe.data.preprocess import Preprocessor

    fit_preprocessor(np.random.default_rng(5).normal(size=(40, 5)).astype(np.float32), 3).save(tmp_path / "pre.safetensors")
    with safe_open(str(tmp_path / "pre.safetensors"), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    tensors[change] = torch.tensor([0, 1, 99]) if change == "keep" else tensors[change][..., :-1].contiguous()
    save_file(tensors, str(tmp_path / "changed.safetensors"), metadata=meta)  # a valid file, tampered consistently
    with pytest.raises(ValueError, match=f"'{change}'"):
        Preprocessor.load(tmp_path / "changed.safetensors")
