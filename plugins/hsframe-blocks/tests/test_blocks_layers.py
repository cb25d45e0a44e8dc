"""The reusable layers: parameter arithmetic, residual rule, per-pixel spectral convolution, folding."""
import pytest
import torch
import torch.nn as nn

from hsframe_blocks.blocks import (
    BandsToChannels,
    ConvBNAct,
    DepthwiseSeparableConv2d,
    InvertedResidual,
    SpectralConv1d,
    fold_bands,
)


def _conv_weights(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


def test_depthwise_separable_weights_vs_full_conv():
    full = nn.Conv2d(8, 32, 3, padding=1, bias=False)
    ds = DepthwiseSeparableConv2d(8, 32)
    assert _conv_weights(full) == 8 * 32 * 9 == 2_304
    assert _conv_weights(ds) == 8 * 9 + 8 * 32 == 328
    assert ds.depthwise[0].groups == 8 and ds.depthwise[0].kernel_size == (3, 3)
    assert ds.pointwise[0].kernel_size == (1, 1)
    # BN + ReLU after each of the two convs, as in MobileNet v1
    assert [type(m) for m in ds.depthwise] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert [type(m) for m in ds.pointwise] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]


@pytest.mark.parametrize("stride,size,expected", [(1, 11, 11), (2, 11, 6), (2, 8, 4)])
def test_depthwise_separable_shapes(stride, size, expected):
    out = DepthwiseSeparableConv2d(8, 32, stride=stride)(torch.randn(2, 8, size, size))
    assert out.shape == (2, 32, expected, expected)


@pytest.mark.parametrize("in_ch,out_ch,stride,residual", [
    (16, 16, 1, True), (16, 24, 1, False), (16, 16, 2, False), (16, 24, 2, False),
])
def test_inverted_residual_adds_input_exactly_when_shapes_match(in_ch, out_ch, stride, residual):
    block = InvertedResidual(in_ch, out_ch, stride=stride, expand_ratio=4).eval()
    assert block.use_residual is residual
    x = torch.randn(2, in_ch, 8, 8)
    with torch.no_grad():
        branch = block.conv(x)
        out = block(x)
    torch.testing.assert_close(out, x + branch if residual else branch)
    assert out.shape == (2, out_ch, 8 // stride, 8 // stride)


def test_inverted_residual_layout():
    block = InvertedResidual(8, 8, expand_ratio=6)
    expand, depthwise, project = block.conv
    assert expand[0].out_channels == 48 and isinstance(expand[2], nn.ReLU6)
    assert depthwise[0].groups == 48 and isinstance(depthwise[2], nn.ReLU6)
    assert len(project) == 2 and project[0].kernel_size == (1, 1)  # linear bottleneck: no activation
    assert len(InvertedResidual(8, 8, expand_ratio=1).conv) == 2  # t = 1 skips the expansion


def test_spectral_conv1d_is_the_same_1d_conv_at_every_pixel():
    layer = SpectralConv1d(1, 15, filters=(4, 6), kernel_sizes=(5, 3), strides=(1, 2)).eval()
    x = torch.randn(2, 1, 15, 5, 5)
    with torch.no_grad():
        out = layer(x)
        assert out.shape == (2, 6 * 8, 5, 5) and layer.out_channels == 48
        for n, i, j in [(0, 0, 0), (1, 2, 3), (1, 4, 4)]:
            alone = layer.conv(x[n, :, :, i, j].unsqueeze(0))  # (1, 1, 15) -> (1, 6, 8)
            torch.testing.assert_close(out[n, :, i, j], alone.reshape(-1))


def test_fold_bands_squeezes_and_folds():
    x = torch.randn(2, 1, 15, 7, 7)
    assert fold_bands(x).shape == (2, 15, 7, 7)
    y = torch.randn(2, 3, 5, 7, 7)
    folded = BandsToChannels(15)(y)
    torch.testing.assert_close(folded[:, 5:10], y[:, 1])  # channel-major: input channel 1 -> planes 5..9


def test_layer_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"expected a patch batch of shape \(N, C, D, H, W\)"):
        fold_bands(torch.randn(2, 15, 7, 7))
    with pytest.raises(ValueError, match=r"built for C\*D = 15 input planes; got C=1, D=10"):
        BandsToChannels(15)(torch.randn(2, 1, 10, 7, 7))
    with pytest.raises(ValueError, match="in_ch must be a positive integer; got 0"):
        DepthwiseSeparableConv2d(0, 8)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ConvBNAct(4, 4, kernel_size=2)
    with pytest.raises(ValueError, match="equally long"):
        SpectralConv1d(1, 15, filters=(4, 8), kernel_sizes=(3,), strides=(1, 1))
    with pytest.raises(ValueError, match=r"expected \(N, 1, 15, H, W\)"):
        SpectralConv1d(1, 15)(torch.randn(2, 1, 12, 5, 5))
