"""Every registered network: built through the plugin's build(), logits of the right shape, a
finite training step, parameter counts at the plugin defaults, and each family's defining trait."""
import pytest
import torch
import torch.nn as nn

import hsframe_blocks
from hsframe import InputSpec
from hsframe_blocks.blocks import count_parameters
from hsframe_blocks.networks import BaselineCNN, DilatedCNN, MobileNetV2, NiNNet, Spectral1DNet

NAMES = list(hsframe_blocks.MODELS)
# Parameter counts for the plugin defaults on the embedded scene (16 classes); README's table.
PARAMS_AT_DEFAULTS = {
    "dsconv_net": 41_104,
    "mobilenet_v2": 50_512,
    "spectral_1x1": 80_336,
    "spectral_1d": 84_088,
    "nin": 165_952,
    "dilated_cnn": 83_792,
    "baseline_cnn": 33_232,
}


def default_spec(num_classes: int = 16) -> InputSpec:
    d = hsframe_blocks.DEFAULTS
    return InputSpec(1, d["data.pca_components"], d["data.patch_size"], d["data.patch_size"], num_classes)


def build(name: str, spec: InputSpec, **options) -> nn.Module:
    return hsframe_blocks.MODELS[name][0](spec, **options)


def test_every_model_is_tested_and_counted():
    assert set(NAMES) == set(PARAMS_AT_DEFAULTS) == {
        "dsconv_net", "mobilenet_v2", "spectral_1x1", "spectral_1d", "nin", "dilated_cnn", "baseline_cnn"}


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_at_defaults(name):
    count = count_parameters(build(name, default_spec()))
    print(f"{name}: {count:,} parameters at {default_spec()}")
    assert count == PARAMS_AT_DEFAULTS[name]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("spec", [
    default_spec(),
    InputSpec(1, 30, 15, 15, 9),
    InputSpec(1, 10, 13, 11, 3),  # non-square patch, odd band count
    InputSpec(2, 6, 11, 11, 4),  # C > 1: the C*D planes are folded into channels
], ids=["defaults", "30x15x15", "10x13x11", "C2"])
def test_logits_shape_and_a_finite_training_step(name, spec):
    torch.manual_seed(0)
    model = build(name, spec)
    x = torch.randn(4, *spec.as_tuple())
    y = torch.arange(4) % spec.num_classes
    logits = model.train()(x)
    assert logits.shape == (4, spec.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = nn.functional.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    with torch.no_grad():
        after = model.eval()(x)
    assert after.shape == (4, spec.num_classes) and torch.isfinite(after).all()


@pytest.mark.parametrize("name", NAMES)
def test_options_reach_the_network(name):
    small = build(name, default_spec(), width=16, dropout=0.1)
    assert count_parameters(small) < PARAMS_AT_DEFAULTS[name]
    assert any(isinstance(m, nn.Dropout) and m.p == 0.1 for m in small.modules())
    with pytest.raises(TypeError):  # ModelSpec.create turns this into "cannot be built for ..."
        build(name, default_spec(), no_such_option=1)


def test_nin_has_no_dense_layer():
    model = NiNNet(bands=15, num_classes=16)
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    last_conv = [m for m in model.head if isinstance(m, nn.Conv2d)][-1]
    assert last_conv.out_channels == 16 and last_conv.kernel_size == (1, 1)
    assert isinstance(model.head[-2], nn.AdaptiveAvgPool2d)


def test_dilated_cnn_grows_the_receptive_field_without_pooling():
    model = DilatedCNN(bands=15, num_classes=16)
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    assert [c.dilation for c in convs] == [(1, 1), (2, 2), (4, 4)]
    assert model.receptive_field == 15
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in model.features.modules())
    assert all(c.stride == (1, 1) for c in convs)
    assert model.features(torch.randn(2, 1, 15, 11, 11)).shape == (2, 64, 11, 11)  # size kept
    # the centre output sees the patch corners at distance 7: changing one corner pixel moves it
    model.eval()
    x = torch.randn(1, 1, 15, 15, 15)
    y = x.clone()
    y[..., 0, 0] += 10.0
    with torch.no_grad():
        assert not torch.allclose(model.features(x)[..., 7, 7], model.features(y)[..., 7, 7])


def test_mobilenet_v2_uses_residuals_where_shapes_match():
    from hsframe_blocks.blocks import InvertedResidual

    blocks = [m for m in MobileNetV2(bands=15, num_classes=16).modules() if isinstance(m, InvertedResidual)]
    assert [b.use_residual for b in blocks] == [False, False, True, False, True]


def test_spectral_1d_convolves_the_spectrum_first():
    model = Spectral1DNet(bands=15, num_classes=16)
    first = model.features[0].conv[0]
    assert isinstance(first, nn.Conv1d) and first.in_channels == 1
    assert model.features(torch.randn(2, 1, 15, 11, 11)).shape == (2, 64, 6, 6)


def test_spectral_1x1_mixes_bands_before_any_spatial_conv():
    spec = default_spec()
    convs = [m for m in build("spectral_1x1", spec).modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].in_channels == spec.depth and convs[0].kernel_size == (1, 1)
    assert convs[1].kernel_size == (1, 1) and convs[2].kernel_size == (3, 3)


def test_baseline_cnn_multiband_satellite_case():
    spec = InputSpec(1, 10, 32, 32, 15)  # 10 bands, 15 classes, 32x32 patches
    model = build("baseline_cnn", spec).eval()
    assert model.feature_shape == (64, 6, 6)
    with torch.no_grad():
        assert model(torch.randn(3, 1, 10, 32, 32)).shape == (3, 15)
    assert "10-band, 15-class, 32x32" in " ".join(BaselineCNN.__doc__.split())
    kinds = [type(m) for m in model.features]
    assert kinds[1:] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Dropout] * 2
    assert [type(m) for m in model.head] == [nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]


@pytest.mark.parametrize("name,spec,options,match", [
    ("baseline_cnn", InputSpec(1, 15, 9, 9, 16), {}, "at least 10x10"),
    ("dsconv_net", InputSpec(1, 15, 11, 11, 1), {}, "num_classes must be an integer of at least 2"),
    ("nin", default_spec(), {"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
    ("mobilenet_v2", default_spec(), {"width": 2}, "width must be an integer of at least 4"),
    ("dilated_cnn", default_spec(), {"dilations": [1, 0]}, "dilations must be a non-empty list of positive integers"),
    ("spectral_1d", default_spec(), {"spectral_filters": [8]}, "spectral_filters must hold two filter counts"),
    ("spectral_1x1", default_spec(), {"width": 0}, "width must be a positive integer; got 0"),
])
def test_bad_arguments_say_what_is_expected(name, spec, options, match):
    with pytest.raises(ValueError, match=match):
        build(name, spec, **options)


def test_wrong_input_shape_is_a_clear_error():
    model = build("dsconv_net", default_spec())
    with pytest.raises(ValueError, match=r"built for C\*D = 15 input planes; got C=1, D=30"):
        model(torch.randn(2, 1, 30, 11, 11))
