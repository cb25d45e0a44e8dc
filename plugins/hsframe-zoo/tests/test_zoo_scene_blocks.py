"""The zoo's per-pixel scene paths (``luo_hsicnn``, ``spectralformer``) on blocks of pixels: every block size
gives ``forward`` at every pixel, on non-square patches too, and no block holds more than ``scene_chunk`` pixels.

tests/test_scene_paths.py checks every model at its defaults with the default chunk, which a 4 x 5 test
scene never splits; here the blocks are cut unevenly in rows and columns."""
import pytest
import torch

from hsframe_zoo.hybrid import LuoHSICNN
from hsframe_zoo.transformers import SpectralFormer

H, W, CLASSES = 5, 7, 4


def _luo(patch: tuple[int, int]) -> tuple[torch.nn.Module, int]:
    return LuoHSICNN(1, 42, patch, CLASSES, planes=6, hidden=16), 42


def _spectralformer(patch: tuple[int, int]) -> tuple[torch.nn.Module, int]:
    return SpectralFormer(9, patch, CLASSES, dim=8, depth=3, heads=2, dim_head=4), 9


def _patch_by_patch(model: torch.nn.Module, x: torch.Tensor, patch: tuple[int, int]) -> torch.Tensor:
    """``forward`` on the window of every pixel of the padded ``x``: ``(1, K, H, W)``."""
    windows = x.unfold(3, patch[0], 1).unfold(4, patch[1], 1)  # (1, C, D, H, W, p_h, p_w)
    patches = windows.permute(0, 3, 4, 1, 2, 5, 6).reshape(-1, *x.shape[1:3], *patch)  # (H·W, C, D, p_h, p_w)
    return model(patches).T.reshape(1, -1, H, W)


@pytest.mark.parametrize("build", [_luo, _spectralformer])
@pytest.mark.parametrize("patch", [(3, 3), (5, 3), (3, 7)])
@pytest.mark.parametrize("chunk", [1, 4, 15])  # one pixel; 1 x 4 blocks (last one 1 x 3); 2 x 7 blocks (last one 1 x 7)
def test_blocks_give_forward_at_every_pixel_and_stay_within_scene_chunk(build, patch, chunk, monkeypatch):
    torch.manual_seed(0)
    model, bands = build(patch)
    model.eval().scene_chunk = chunk
    x = torch.randn(1, 1, bands, H + patch[0] - 1, W + patch[1] - 1)
    sizes = []
    block = model._scene_block
    monkeypatch.setattr(model, "_scene_block", lambda b: sizes.append(b.shape[-2:]) or block(b))
    with torch.no_grad():
        got = model.scene_forward(x)
        ref = _patch_by_patch(model, x, patch)
    assert got.shape == (1, CLASSES, H, W)
    assert (got - ref).abs().max().item() <= 1e-5
    pixels = [(h - patch[0] + 1) * (w - patch[1] + 1) for h, w in sizes]
    assert sum(pixels) == H * W and max(pixels) <= chunk


@pytest.mark.parametrize("name", ["hu_cnn1d", "mou_rnn"])
@pytest.mark.parametrize("chunk", [1, 4, 15])
def test_pixel_classifiers_scene_blocks_give_forward_and_stay_within_scene_chunk(name, chunk, monkeypatch):
    """The spectral-only networks classify a tile's pixels in blocks too (one 256 x 256 tile at once ran 2.4x slower)."""
    from hsframe_zoo.cnn1d import HuCNN1D
    from hsframe_zoo.rnn import MouRNN

    torch.manual_seed(0)
    model = {"hu_cnn1d": HuCNN1D, "mou_rnn": MouRNN}[name](18, CLASSES, patch_size=3).eval()
    model.scene_chunk = chunk
    x = torch.randn(1, 1, 18, H + 2, W + 2)
    sizes = []
    block = model._scene_block
    monkeypatch.setattr(model, "_scene_block", lambda b: sizes.append(b.shape[-2:]) or block(b))
    with torch.no_grad():
        got = model.scene_forward(x)
        ref = _patch_by_patch(model, x, (3, 3))
    assert (got - ref).abs().max().item() <= 1e-5
    pixels = [(h - 2) * (w - 2) for h, w in sizes]
    assert sum(pixels) == H * W and max(pixels) <= chunk
