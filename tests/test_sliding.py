"""hsframe.sliding: a patch network's valid, strided layers slid over a scene at stride 1 (a trous)."""
import pytest
import torch
import torch.nn as nn

from hsframe.sliding import check_scene, crop, slide, slide_linear


def _patch_net(pool: nn.Module) -> tuple[nn.Sequential, nn.Linear]:
    torch.manual_seed(0)
    layers = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), pool, nn.Dropout(0.5),
                           nn.Conv2d(4, 5, 2, stride=2), nn.Tanh())
    layers[1].running_mean.uniform_(-1, 1)
    return layers.eval(), nn.Linear(5 * 2 * 2, 6)


@pytest.mark.parametrize("pool", [nn.MaxPool2d(2), nn.MaxPool2d(3, stride=2), nn.MaxPool2d(2, dilation=2)])
def test_slide_equals_the_patch_network_on_every_window(pool):
    layers, dense = _patch_net(pool)
    p = 13 if pool.dilation == 1 else 14
    with torch.no_grad():
        assert layers(torch.zeros(1, 3, p, p)).shape[-2:] == (2, 2)  # the dense layer reads a 2x2 window
        scene = torch.randn(1, 3, p + 4, p + 6)
        f, dilation = slide(layers, scene)
        got = crop(slide_linear(f, dense, (2, 2), dilation), (5, 7))
        want = torch.stack([dense(layers(scene[..., i : i + p, j : j + p]).flatten(1))[0]
                            for i in range(5) for j in range(7)]).T.reshape(6, 5, 7)
    assert dilation == (4, 4) and got.shape == (1, 6, 5, 7)
    assert (got[0] - want).abs().max().item() <= 1e-5


def test_depth_stride_and_padding_are_kept():
    conv = nn.Conv3d(1, 2, (3, 2, 2), stride=(2, 2, 2), padding=(1, 0, 0))
    x = torch.randn(1, 1, 9, 6, 6)
    with torch.no_grad():
        y, dilation = slide([conv], x)
        assert y.shape == (1, 2, 5, 5, 5) and dilation == (2, 2)
        assert torch.allclose(y[..., ::2, ::2], conv(x), atol=1e-6)  # the patch network's positions, and the others


def test_padded_or_unknown_layers_are_refused():
    with pytest.raises(ValueError, match="pads .* its spatial axes"):
        slide([nn.Conv2d(3, 4, 3, padding=1)], torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="pads"):
        slide([nn.MaxPool2d(2, ceil_mode=True)], torch.randn(1, 3, 8, 8))
    with pytest.raises(TypeError, match="cannot slide AdaptiveAvgPool2d"):
        slide([nn.AdaptiveAvgPool2d(1)], torch.randn(1, 3, 8, 8))


def test_check_scene_names_the_expected_shape():
    assert check_scene(torch.zeros(1, 1, 4, 12, 14), (9, 9)) == (4, 6)
    with pytest.raises(ValueError, match=r"\(N, C, D, H \+ 8, W \+ 8\)"):
        check_scene(torch.zeros(1, 1, 4, 8, 14), (9, 9))


def test_batchnorm1d_after_a_dense_layer_slides_per_pixel():
    """A BatchNorm1d (after a Linear, as heads have it) acts per pixel over the channels, with its running statistics."""
    torch.manual_seed(0)
    head = nn.Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4), nn.ReLU()).eval()
    head[1].running_mean.uniform_(-1, 1)
    head[1].running_var.uniform_(0.5, 2)
    x = torch.randn(1, 8, 5, 6)
    y, _ = slide(head, x)
    expected = head(x[0].permute(1, 2, 0).reshape(-1, 8)).reshape(5, 6, 4).permute(2, 0, 1)
    assert torch.allclose(y[0], expected, atol=1e-6)
