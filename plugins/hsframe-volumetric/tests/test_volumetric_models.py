"""Every registered network on volumes, sequences and hyperspectral patches: logits of the right shape,
a finite training step, parameter counts at the plugin defaults, clear errors, and each family's
defining trait (which axes its kernels mix)."""
import pytest
import torch
import torch.nn as nn

import hsframe_volumetric
from hsframe import InputSpec
from hsframe.equivalence import transfer_weights
from hsframe_volumetric.layers import TimeDistributed, count_parameters, fold_time, unfold_time
from hsframe_volumetric.networks import (
    Conv3D133Net,
    Conv3DNet,
    R2Plus1DNet,
    TDConv2DNet,
    matched_mid_channels,
)

NAMES = list(hsframe_volumetric.MODELS)
# Parameter counts for the plugin defaults on the embedded scene (1 x 15 x 11 x 11, 16 classes); README's table.
PARAMS_AT_DEFAULTS = {
    "conv3d": 70_816,
    "td_conv2d": 24_448,
    "conv3d_133": 24_448,
    "r2plus1d": 70_901,
    "orthoplane": 14_816,
}
# One sample (C, D, H, W) of each kind of data the plugin serves, plus a 3-channel (RGB) sequence.
INPUTS = {
    "volume": (1, 16, 16, 16),
    "sequence": (1, 8, 32, 32),  # 8 time steps of 32x32 frames
    "hsi": (1, 15, 11, 11),  # 15 PCA components of an 11x11 patch
    "rgb-sequence": (3, 4, 12, 12),
}


def default_spec(num_classes: int = 16) -> InputSpec:
    d = hsframe_volumetric.DEFAULTS
    return InputSpec(1, d["data.pca_components"], d["data.patch_size"], d["data.patch_size"], num_classes)


def build(name: str, spec: InputSpec, **options) -> nn.Module:
    return hsframe_volumetric.MODELS[name][0](spec, **options)


def test_every_model_is_tested_and_counted():
    assert set(NAMES) == set(PARAMS_AT_DEFAULTS) == {"conv3d", "td_conv2d", "conv3d_133", "r2plus1d", "orthoplane"}


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_at_defaults(name):
    count = count_parameters(build(name, default_spec()))
    print(f"{name}: {count:,} parameters at {default_spec()}")
    assert count == PARAMS_AT_DEFAULTS[name]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", list(INPUTS))
def test_logits_shape_and_a_training_step(name, kind):
    spec = InputSpec(*INPUTS[kind], num_classes=5)
    torch.manual_seed(0)
    model = build(name, spec)
    x = torch.randn(3, *spec.as_tuple())
    y = torch.tensor([0, 2, 4])
    with torch.no_grad():
        assert model.eval()(x).shape == (3, 5)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = nn.functional.cross_entropy(model.train()(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters())), "a parameter got no update"


@pytest.mark.parametrize("name", NAMES)
def test_options_reach_the_network(name):
    small = build(name, default_spec(), width=8, dropout=0.1)
    assert count_parameters(small) < PARAMS_AT_DEFAULTS[name]
    assert any(isinstance(m, nn.Dropout) and m.p == 0.1 for m in small.modules())
    shallow = build(name, default_spec(), depth=2)
    assert count_parameters(shallow) < PARAMS_AT_DEFAULTS[name]
    with pytest.raises(TypeError):  # ModelSpec.create turns this into "cannot be built for ..."
        build(name, default_spec(), no_such_option=1)


@pytest.mark.parametrize("name,spec,options,match", [
    ("td_conv2d", InputSpec(1, 8, 3, 3, 4), {}, r"TDConv2DNet\(depth=3\) halves H, W 2 time\(s\).*needs H, W >= 4; got H=3, W=3"),
    ("conv3d", InputSpec(1, 3, 16, 16, 4), {}, r"Conv3DNet\(depth=3\) halves D, H, W .* needs D, H, W >= 4; got D=3"),
    ("conv3d", InputSpec(1, 2, 16, 16, 4), {"depth": 2}, None),  # one pooling: 2 is enough
    ("r2plus1d", InputSpec(1, 8, 16, 1, 4), {}, r"needs H, W >= 4; got W=1"),
    ("conv3d_133", InputSpec(1, 8, 16, 16, 1), {}, "num_classes must be an integer of at least 2"),
    ("td_conv2d", default_spec(), {"width": 0}, "width must be a positive integer; got 0"),
    ("conv3d", default_spec(), {"depth": 0}, "depth must be a positive integer; got 0"),
    ("r2plus1d", default_spec(), {"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
    ("r2plus1d", default_spec(), {"mid_channels": -1}, "mid_channels must be a positive integer"),
])
def test_bad_arguments_say_what_is_expected(name, spec, options, match):
    if match is None:
        build(name, spec, **options)
        return
    with pytest.raises(ValueError, match=match):
        build(name, spec, **options)


@pytest.mark.parametrize("cls", [Conv3DNet, TDConv2DNet, Conv3D133Net, R2Plus1DNet])
def test_bad_input_is_a_clear_error(cls):
    model = cls(in_channels=1, num_classes=4).eval()  # no input_size: checked on every call instead
    with pytest.raises(ValueError, match=r"needs .*>= 4; got .*H=2, W=2 \(input \(N, C, D, H, W\) = \(1, 1, 8, 2, 2\)\)"):
        model(torch.randn(1, 1, 8, 2, 2))
    with pytest.raises(ValueError, match=r"built for C = 1 input channels; got C = 3"):
        model(torch.randn(1, 3, 8, 16, 16))
    with pytest.raises(ValueError, match=r"expects a batch of shape \(N, C, D, H, W\); got a 4-D tensor"):
        model(torch.randn(1, 8, 16, 16))


def test_fold_and_unfold_time_are_inverse():
    x = torch.randn(2, 3, 5, 4, 6)
    frames = fold_time(x)
    assert frames.shape == (10, 3, 4, 6)
    assert torch.equal(frames[1 * 5 + 2], x[1, :, 2])  # row n*T + t is frame t of sample n
    assert torch.equal(unfold_time(frames, 2), x)


def test_td_conv2d_applies_the_same_stack_to_every_time_step():
    """The TimeDistributed features equal a plain Python loop over frames with one 2-D stack."""
    torch.manual_seed(0)
    model = TDConv2DNet(in_channels=2, num_classes=4, width=8).eval()
    stack = model.features.module
    x = torch.randn(2, 2, 6, 16, 16)
    with torch.no_grad():
        looped = torch.stack([stack(x[:, :, t]) for t in range(6)], dim=2)
        assert (model.features(x) - looped).abs().max() <= 1e-5


def _temporal_reach(model: nn.Module, t0: int = 3, steps: int = 8) -> list[int]:
    """Time positions of the feature volume that change when only frame ``t0`` of the input changes."""
    model.eval()
    x = torch.randn(1, 1, steps, 16, 16)
    y = x.clone()
    y[:, :, t0] += 1.0
    with torch.no_grad():
        change = (model.features(x) - model.features(y)).abs().amax(dim=(0, 1, 3, 4))
    return [t for t in range(change.numel()) if change[t] > 1e-6]


def test_which_models_mix_time_steps():
    torch.manual_seed(0)
    # (1,3,3) kernels and TimeDistributed 2-D convs never mix time steps ...
    assert _temporal_reach(TDConv2DNet(num_classes=4)) == [3]
    assert _temporal_reach(Conv3D133Net(num_classes=4)) == [3]
    # ... (2+1)D's three (3,1,1) convs reach 3 steps either way; a 3x3x3 stack too (pooling widens it)
    assert _temporal_reach(R2Plus1DNet(num_classes=4)) == [0, 1, 2, 3, 4, 5, 6]
    assert _temporal_reach(Conv3DNet(num_classes=4)) == [0, 1]  # 8 steps pooled to 2, both reached


def test_td_conv2d_and_conv3d_133_are_the_same_function_in_training_too():
    """Shared weights: same logits in train mode, same gradients, and still the same after an SGD step.

    BatchNorm2d over N*T folded frames and BatchNorm3d over (N, T, H, W) average the same values.
    """
    torch.manual_seed(0)
    td, c3 = TDConv2DNet(num_classes=5, width=8), Conv3D133Net(num_classes=5, width=8)
    transfer_weights(td, c3)
    x, y = torch.randn(4, 1, 6, 16, 16), torch.tensor([0, 1, 2, 3])
    outs = []
    for model in (td, c3):
        model.train()
        torch.manual_seed(1)  # the same dropout mask
        out = model(x)
        nn.functional.cross_entropy(out, y).backward()
        outs.append(out)
    assert (outs[0] - outs[1]).abs().max() <= 1e-5
    for p, q in zip(td.parameters(), c3.parameters()):
        assert (p.grad.reshape(-1) - q.grad.reshape(-1)).abs().max() <= 1e-6
    for model in (td, c3):
        torch.optim.SGD(model.parameters(), lr=0.1).step()
    for a, b in zip(td.buffers(), c3.buffers()):  # running statistics updated alike
        assert (a.double() - b.double()).abs().max() <= 1e-6
    with torch.no_grad():
        assert (td.eval()(x) - c3.eval()(x)).abs().max() <= 1e-5


def test_td_conv2d_and_conv3d_133_draw_the_same_initial_weights_from_one_seed():
    """A (1,3,3) Conv3d has a 3x3 Conv2d's fan-in, so PyTorch's default init draws the same numbers:
    with one seed the two start identical, which is why their runs agree seed by seed."""
    weights = []
    for cls in (TDConv2DNet, Conv3D133Net):
        torch.manual_seed(3)
        weights.append([t.reshape(-1) for t in cls(num_classes=4, width=8).state_dict().values()])
    assert len(weights[0]) == len(weights[1])
    for a, b in zip(*weights):
        assert torch.equal(a, b)


def test_r2plus1d_matches_the_parameters_of_a_full_3d_conv():
    assert [matched_mid_channels(1, 16), matched_mid_channels(16, 32), matched_mid_channels(32, 64)] == [7, 57, 115]
    model = R2Plus1DNet(num_classes=4)
    convs = [m for m in model.features if isinstance(m, nn.Conv3d)]
    assert [c.kernel_size for c in convs] == [(1, 3, 3), (3, 1, 1)] * 3
    for spatial, temporal in zip(convs[::2], convs[1::2]):
        full = spatial.in_channels * temporal.out_channels * 27
        factorised = spatial.weight.numel() + temporal.weight.numel()
        assert 0.9 * full <= factorised <= full
    fixed = R2Plus1DNet(num_classes=4, mid_channels=10)
    assert [c.out_channels for c in fixed.features if isinstance(c, nn.Conv3d)][::2] == [10, 10, 10]


def test_conv3d_kernels_are_full_3x3x3_and_pool_every_axis():
    model = Conv3DNet(num_classes=4)
    convs = [m for m in model.features if isinstance(m, nn.Conv3d)]
    assert [c.kernel_size for c in convs] == [(3, 3, 3)] * 3
    assert [c.out_channels for c in convs] == [16, 32, 64]
    assert model.features(torch.randn(1, 1, 16, 16, 16)).shape == (1, 64, 4, 4, 4)


def test_time_distributed_wraps_any_2d_module():
    conv = nn.Conv2d(3, 5, 3, padding=1)
    out = TimeDistributed(conv)(torch.randn(2, 3, 4, 8, 8))
    assert out.shape == (2, 5, 4, 8, 8)
