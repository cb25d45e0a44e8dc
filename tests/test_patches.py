import numpy as np
import pytest
import torch

from hsframe.data.patches import PatchSource


def naive_patch(cube: np.ndarray, r: int, c: int, p: int, mode: str) -> np.ndarray:
    half = p // 2
    padded = np.pad(cube, ((0, 0), (half, half), (half, half)), mode="constant" if mode == "zero" else "reflect")
    return padded[:, r : r + p, c : c + p]


@pytest.mark.parametrize("mode", ["zero", "reflect"])
@pytest.mark.parametrize("p", [1, 3, 7])
def test_patches_equal_naive_extraction_including_borders(mode, p):
    rng = np.random.default_rng(0)
    cube = rng.normal(size=(4, 9, 11)).astype(np.float32)
    src = PatchSource(torch.from_numpy(cube), p, mode)
    # corners and edges included: every pixel of the image
    idx = np.arange(9 * 11)
    out = src.patches(idx).numpy()
    assert out.shape == (len(idx), 1, 4, p, p)
    for i in idx:
        r, c = divmod(i, 11)
        np.testing.assert_array_equal(out[i, 0], naive_patch(cube, r, c, p, mode))


def test_centre_of_patch_is_the_pixel():
    cube = torch.arange(2 * 5 * 6, dtype=torch.float32).reshape(2, 5, 6)
    src = PatchSource(cube, 5)
    out = src.patches(torch.tensor([0, 29]))
    assert torch.equal(out[:, 0, :, 2, 2], cube.reshape(2, -1)[:, [0, 29]].T)
    assert out[0, 0, :, 0, 0].abs().sum() == 0  # zero padding outside the image


def test_batches_cover_all_indices_once_with_their_targets():
    cube = torch.randn(3, 6, 6)
    src = PatchSource(cube, 3)
    idx = np.arange(36)
    targets = np.arange(36) % 4
    seen = []
    for x, y in src.batches(idx, targets, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(0)):
        assert x.shape[1:] == (1, 3, 3, 3) and len(x) <= 5
        seen.append(y)
    assert sorted(torch.cat(seen).tolist()) == sorted(targets.tolist())


def test_even_patch_is_rejected():
    with pytest.raises(ValueError, match="odd"):
        PatchSource(torch.zeros(1, 4, 4), 4)
