"""hsframe.sliding: a patch network's valid, strided layers slid over a scene at stride 1 (a trous)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from hsframe.sliding import check_scene, crop, depth_folded_conv3d, fft_conv2d, fft_plan, fold_depth, slide, slide_linear


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


@pytest.mark.parametrize("conv, dilation", [
    (nn.Conv3d(2, 3, (7, 3, 3)), (1, 1)),  # HybridSN's first layer, with 2 input channels
    (nn.Conv3d(2, 3, (3, 2, 2), stride=(2, 1, 1), padding=(1, 0, 0), dilation=(2, 1, 1)), (1, 1)),  # depth taps in the padding
    (nn.Conv3d(2, 3, (2, 3, 3), dilation=(1, 2, 1)), (2, 1)),  # spatial dilation, and an accumulated one
])
def test_depth_folded_conv3d_equals_the_conv3d(conv, dilation):
    torch.manual_seed(0)
    x = torch.randn(2, 2, 11, 14, 13)
    with torch.no_grad():
        want, _ = slide([conv], x, dilation)
        got, depth = depth_folded_conv3d(fold_depth(x), conv, 11, dilation)
    assert depth == want.shape[2] and got.shape == fold_depth(want).shape
    assert (got - fold_depth(want)).abs().max().item() <= 1e-5


def test_depth_folded_conv3d_refuses_a_spatial_stride():
    with pytest.raises(ValueError, match="a trous"):
        depth_folded_conv3d(torch.zeros(1, 9, 8, 8), nn.Conv3d(1, 2, 3, stride=(1, 2, 2)), 9)


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


@pytest.mark.parametrize(("shape", "kernel", "dilation", "block"), [
    ((1, 5, 40, 33), (5, 4), (1, 1), 16),   # several blocks, the last ones partial; h != w
    ((2, 3, 50, 61), (3, 6), (2, 3), 16),   # a trous: dilation differs per axis, sizes not multiples of it
    ((1, 4, 19, 17), (9, 7), (1, 1), 16),   # one block, its output cut to the valid size
    ((1, 6, 45, 45), (2, 2), (4, 4), 24),   # a small kernel after two stride-2 layers (he_m3dcnn, baseline_cnn)
])
def test_fft_convolution_equals_the_direct_one(shape, kernel, dilation, block):
    """Every output position, random (asymmetric) kernels: a flipped kernel, a shifted block or wrapped-around
    output would differ by the size of the values, not by rounding."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g)
    weight, bias = torch.randn(7, shape[1], *kernel, generator=g), torch.randn(7, generator=g)
    want = F.conv2d(x, weight, bias, dilation=dilation)
    got = fft_conv2d(x, weight, bias, dilation, block)
    assert got.shape == want.shape and got.dtype == torch.float32
    assert (got - want).abs().max().item() <= 1e-4 * want.abs().max().item()


def test_cost_model_slides_large_windows_by_fft_and_small_ones_directly():
    assert fft_plan(1, 64, 256, (161, 161), (17, 17)) is not None  # HybridSN's 25x25 patch on a 145-pixel scene
    assert fft_plan(1, 512, 1024, (161, 161), (1, 1), (16, 16)) is None  # a 1x1 window (sharma_hscnn) is a matrix product
    assert fft_plan(1, 64, 256, (151, 151), (7, 7)) is None  # HybridSN's 15x15 patch: direct is as fast (measured)
    assert fft_plan(1, 64, 256, (20, 20), (17, 17)) is None  # too few outputs to pay for the kernel's transform


def test_slide_linear_on_a_hybridsn_sized_window_equals_the_dense_layer():
    """A dense layer over a 64 x 17 x 17 window, slid over an 80 x 80 map (FFT by the cost model), at sampled windows."""
    torch.manual_seed(0)
    dense = nn.Linear(64 * 17 * 17, 256)
    x = torch.randn(1, 64, 80, 80)
    assert fft_plan(1, 64, 256, (80, 80), (17, 17)) is not None
    with torch.no_grad():
        got = slide_linear(x, dense, (17, 17))
        assert got.shape == (1, 256, 64, 64)
        for i, j in [(0, 0), (0, 63), (63, 0), (63, 63), (31, 17), (5, 48)]:
            want = dense(x[0, :, i : i + 17, j : j + 17].reshape(1, -1))[0]
            assert (got[0, :, i, j] - want).abs().max().item() <= 1e-4
