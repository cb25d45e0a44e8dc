"""HybridSN.scene_forward: the whole scene in one fully convolutional pass, equal to forward per patch."""
import pytest
import torch

from hsframe.inference import patch_logits, scene_logits
from hsframe_hybridsn.model import HybridSN

TOL = 1e-4  # max abs logit difference: the same sums, in another order


def _model(bands: int, patch: tuple[int, int], classes: int = 16, seed: int = 0) -> HybridSN:
    torch.manual_seed(seed)
    return HybridSN(bands=bands, patch_size=patch, num_classes=classes).eval()


@pytest.mark.parametrize("bands,p,h,w,padding", [
    (30, 25, 13, 14, "zero"),    # the published sizes; every pixel is a border pixel
    (30, 25, 13, 14, "reflect"),
    (15, 15, 9, 10, "zero"),     # the plugin defaults
    (13, 9, 6, 11, "reflect"),   # the smallest the architecture accepts
    (20, 11, 1, 17, "zero"),     # a single row
    (14, 9, 17, 1, "zero"),      # a single column
])
def test_scene_forward_equals_forward_at_every_pixel(bands, p, h, w, padding):
    """HybridSN's published and extreme sizes; every registered model at its defaults: tests/test_scene_paths.py."""
    model = _model(bands, (p, p), classes=7)
    torch.manual_seed(1)
    features = torch.randn(bands, h, w)
    dense = patch_logits(model, features, p, padding)  # (K, H, W), the patch-by-patch reference
    got = scene_logits(model, features, p, padding, tile=None)  # one scene_forward call
    assert got.shape == (7, h, w)
    assert (got - dense).abs().max().item() <= TOL
    assert torch.equal(got.argmax(0), dense.argmax(0))


def test_non_square_patch():
    ph, pw, bands, h, w = 9, 13, 13, 7, 5
    model = _model(bands, (ph, pw), classes=4)
    x = torch.randn(1, 1, bands, h + ph - 1, w + pw - 1)
    with torch.no_grad():
        scene = model.scene_forward(x)[0]  # (K, H, W)
        patches = torch.stack([x[0, :, :, i : i + ph, j : j + pw] for i in range(h) for j in range(w)])
        dense = model(patches).T.reshape(4, h, w)
    assert (scene - dense).abs().max().item() <= TOL


def test_batch_of_scenes_and_train_mode_skips_dropout():
    model = _model(13, (9, 9), classes=3)
    x = torch.randn(2, 1, 13, 12, 10)
    with torch.no_grad():
        ref = torch.cat([model.scene_forward(x[i : i + 1]) for i in range(2)])
        model.train()  # dropout is an inference no-op in scene_forward, whatever the mode
        got = model.scene_forward(x)
    assert got.shape == (2, 3, 4, 2)
    assert torch.allclose(got, ref, atol=1e-6)


def test_weights_shared_not_copied():
    model = _model(30, (25, 25))
    keys = list(model.state_dict())
    n_params = sum(q.numel() for q in model.parameters())
    x = torch.randn(1, 1, 30, 26, 25, requires_grad=False)
    model.scene_forward(x).sum().backward()  # gradients reach the Linear weights through their views
    assert model.head[1].weight.grad is not None and model.head[1].weight.grad.abs().sum() > 0
    assert list(model.state_dict()) == keys and n_params == 5_122_176


def test_too_small_input_says_what_is_expected():
    model = _model(13, (9, 9))
    with pytest.raises(ValueError, match=r"\(N, C, D, H \+ 8, W \+ 8\)"):
        model.scene_forward(torch.randn(1, 1, 13, 8, 20))


def test_module_pickled_without_patch_size_attribute():
    """A HybridSN unpickled from an older run (hsframe predict's fallback) lacks ``patch_size``."""
    model = _model(13, (11, 11), classes=3)
    x = torch.randn(1, 1, 13, 15, 14)
    with torch.no_grad():
        ref = model.scene_forward(x)
        del model.patch_size
        assert torch.equal(model.scene_forward(x), ref)
