"""infer_scene / scene_logits: tiled fully convolutional inference, and the patch-by-patch fallback."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from hsframe.data.patches import PatchSource
from hsframe.errors import HsframeError
from hsframe.inference import has_scene_forward, infer_samples, infer_scene, patch_logits, scene_logits, tile_windows

TOL = 1e-4  # logits: the same sums in another order
SEAM_TOL = 1e-5  # tiled vs untiled: the same computation on another window

BANDS, P, H, W, CLASSES = 13, 9, 23, 19, 6  # H, W: no tile size below divides both


def _hybridsn(seed: int = 0) -> nn.Module:
    from hsframe_hybridsn.model import HybridSN

    torch.manual_seed(seed)
    return HybridSN(bands=BANDS, patch_size=(P, P), num_classes=CLASSES).eval()


def _features(seed: int = 1, bands: int = BANDS, h: int = H, w: int = W) -> torch.Tensor:
    return torch.randn(bands, h, w, generator=torch.Generator().manual_seed(seed))


class PatchOnly(nn.Module):
    """A classifier without scene_forward (wraps HybridSN's forward only)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


@pytest.mark.parametrize("padding", ["zero", "reflect"])
def test_infer_scene_equals_patch_by_patch(padding):
    model, features = _hybridsn(), _features()
    ref = patch_logits(model, features, P, padding)
    logits = scene_logits(model, features, P, padding, tile=10)
    assert logits.shape == (CLASSES, H, W) and logits.dtype == torch.float32
    assert (logits - ref).abs().max().item() <= TOL
    pred = infer_scene(model, features, P, padding, tile=10)
    assert pred.shape == (H, W) and pred.dtype == torch.int64
    expected = infer_samples(model, PatchSource(features, P, padding), np.arange(H * W), 64, torch.device("cpu"))
    assert np.array_equal(pred.reshape(-1).numpy(), expected)


@pytest.mark.parametrize("tile", [3, 4, 7, 10, 22, 1000])
def test_tile_seams_are_invisible(tile):
    model, features = _hybridsn(), _features()
    whole = scene_logits(model, features, P, "reflect", tile=None)
    tiled = scene_logits(model, features, P, "reflect", tile=tile)
    assert (tiled - whole).abs().max().item() <= SEAM_TOL
    assert torch.equal(tiled.argmax(0), whole.argmax(0))


@pytest.mark.parametrize("tile", [4, 7, 16, None])
def test_tile_windows_stay_bounded_and_cover_the_scene(tile):
    model, features = _hybridsn(), _features()
    shapes = []
    inner = model.scene_forward

    def spy(x: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(x.shape))
        return inner(x)

    model.scene_forward = spy  # an instance attribute shadows the method: the contract still holds
    scene_logits(model, features, P, tile=tile)
    t_h, t_w = (H, W) if tile is None else (tile, tile)
    assert len(shapes) == math.ceil(H / t_h) * math.ceil(W / t_w)
    for n, c, d, wh, ww in shapes:
        assert (n, c, d) == (1, 1, BANDS)
        assert wh <= t_h + P - 1 and ww <= t_w + P - 1  # never more than (tile + p - 1)^2 pixels
    # Every output pixel in exactly one tile.
    cover = torch.zeros(H, W, dtype=torch.int64)
    for out_r, out_c, in_r, in_c in tile_windows(H, W, P, tile):
        cover[out_r, out_c] += 1
        assert in_r.stop - in_r.start == out_r.stop - out_r.start + P - 1
    assert torch.equal(cover, torch.ones(H, W, dtype=torch.int64))


def test_fallback_without_scene_forward_logs_once():
    model, features = _hybridsn(), _features()
    plain = PatchOnly(model)
    assert has_scene_forward(model) and not has_scene_forward(plain)
    notes: list[str] = []
    pred = infer_scene(plain, features, P, "zero", tile=5, batch_size=37, log=notes.append)
    assert notes == ["PatchOnly has no scene_forward: predicting patch by patch"]
    assert torch.equal(pred, infer_scene(model, features, P, "zero"))
    notes.clear()
    logits = scene_logits(plain, features, P, "zero", batch_size=50, log=notes.append)
    assert len(notes) == 1
    assert (logits - scene_logits(model, features, P, "zero")).abs().max().item() <= TOL


def test_mode_restored_and_no_grad():
    model = _hybridsn()
    model.train()
    logits = scene_logits(model, _features(), P)
    assert model.training and not logits.requires_grad


def test_broken_contract_is_named():
    class Wrong(nn.Module):
        def forward(self, x):
            return x.mean((2, 3, 4))

        def scene_forward(self, x):
            return x[:, :, 0]  # (1, 1, H + p - 1, W + p - 1): the padded size, not (1, K, H, W)

    with pytest.raises(HsframeError, match=r"Wrong.scene_forward returned .* the contract is \(1, num_classes, 5, 6\)"):
        scene_logits(Wrong(), torch.zeros(3, 5, 6), 3)
    with pytest.raises(HsframeError, match="tile must be"):
        scene_logits(_hybridsn(), _features(), P, tile=0)

