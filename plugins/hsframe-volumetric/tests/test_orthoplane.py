"""Orthogonal-plane 2-D convolutions: each branch equals a plain loop over slices, exchanging two input
axes exchanges the planes that contain them, and both modes and fusions classify every kind of input."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from hsframe import InputSpec
from hsframe_volumetric import build_orthoplane
from hsframe_volumetric.orthoplane import (
    OrthoPlaneNet,
    channel_branch,
    parse_planes,
    plane_stack,
    slice_branch,
    slices_of,
)

TOL = 1e-5


def random_stack(in_channels: int, width: int = 6, depth: int = 2) -> nn.Sequential:
    """An eval-mode 2-D stack whose BatchNorms are not the identity (random running statistics)."""
    torch.manual_seed(0)
    stack = plane_stack(in_channels, width, depth)
    for m in stack.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return stack.eval()


def loop_over_slices(x: torch.Tensor, plane: str, stack: nn.Module) -> torch.Tensor:
    """The definition, written out: the stack on each slice in turn, stacked along the perpendicular axis."""
    if plane == "xy":  # slices along D: (N, C, H, W) images
        return torch.stack([stack(x[:, :, d]) for d in range(x.shape[2])], dim=2)
    if plane == "xz":  # slices along H: (N, C, D, W) images
        return torch.stack([stack(x[:, :, :, h]) for h in range(x.shape[3])], dim=3)
    return torch.stack([stack(x[:, :, :, :, w]) for w in range(x.shape[4])], dim=4)  # yz: (N, C, D, H)


@pytest.mark.parametrize("plane", ["xy", "xz", "yz"])
@pytest.mark.parametrize("shape", [(2, 1, 5, 6, 7), (1, 3, 8, 12, 12), (2, 1, 15, 11, 11)], ids=["odd-volume", "rgb-seq", "hsi"])
def test_slice_branch_equals_a_loop_over_slices(plane, shape):
    stack = random_stack(shape[1])
    x = torch.randn(shape)
    with torch.no_grad():
        out, ref = slice_branch(x, plane, stack), loop_over_slices(x, plane, stack)
    assert out.shape == ref.shape == (shape[0], 6, *shape[2:])  # a size-keeping stack: a (N, F, D, H, W) volume
    assert (out - ref).abs().max() <= TOL


@pytest.mark.parametrize("plane,axis", [("xy", 2), ("xz", 3), ("yz", 4)])
def test_channel_branch_folds_the_perpendicular_axis_into_the_channels(plane, axis):
    """One conv over the folded channels = the sum over slices of 2-D convs with that slice's kernel."""
    torch.manual_seed(0)
    x = torch.randn(2, 2, 5, 6, 7)
    length = x.shape[axis]
    conv = nn.Conv2d(2 * length, 4, 3, padding=1)
    with torch.no_grad():
        out = channel_branch(x, plane, conv)
        ref = conv.bias.view(1, -1, 1, 1).clone()
        for c in range(2):
            for i in range(length):
                image = x.select(axis, i)[:, c : c + 1]  # (N, 1, A, B): slice i of input channel c
                ref = ref + F.conv2d(image, conv.weight[:, c * length + i : c * length + i + 1], padding=1)
    in_plane = [s for a, s in zip((2, 3, 4), x.shape[2:]) if a != axis]
    assert out.shape == (2, 4, *in_plane)
    assert (out - ref).abs().max() <= TOL


def test_model_branches_are_the_public_branch_functions():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 6, 8, 8)
    model = OrthoPlaneNet(num_classes=3, width=4, depth=2).eval()
    channel = OrthoPlaneNet(num_classes=3, width=4, depth=2, mode="channel", input_size=(6, 8, 8)).eval()
    with torch.no_grad():
        for plane in ("xy", "xz", "yz"):
            assert torch.equal(model.branch(x, plane), slice_branch(x, plane, model.stack(plane)))
            assert (model.branch(x, plane) - loop_over_slices(x, plane, model.stack(plane))).abs().max() <= TOL
            assert torch.equal(channel.branch(x, plane), channel_branch(x, plane, channel.stack(plane)))


def transposed_kernels(stack: nn.Sequential) -> nn.Sequential:
    import copy

    out = copy.deepcopy(stack)
    for m in out.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data = m.weight.data.transpose(-1, -2).contiguous()
    return out


def test_exchanging_two_axes_exchanges_the_planes_that_contain_them():
    """slice_branch(swap(x, a, b), p, s) == swap(slice_branch(x, p', s), a, b) with the same stack s."""
    stack = random_stack(1)
    x = torch.randn(2, 1, 5, 6, 7)  # D, H, W all different, so a wrong axis cannot pass by accident
    with torch.no_grad():
        x_hw = x.transpose(3, 4)  # exchange H and W: xz <-> yz
        assert (slice_branch(x_hw, "xz", stack) - slice_branch(x, "yz", stack).transpose(3, 4)).abs().max() <= TOL
        assert (slice_branch(x_hw, "yz", stack) - slice_branch(x, "xz", stack).transpose(3, 4)).abs().max() <= TOL
        x_dh = x.transpose(2, 3)  # exchange D and H: xy <-> xz
        assert (slice_branch(x_dh, "xy", stack) - slice_branch(x, "xz", stack).transpose(2, 3)).abs().max() <= TOL
        # xy contains both H and W: it maps to itself, with the kernels transposed
        ref = slice_branch(x, "xy", transposed_kernels(stack)).transpose(3, 4)
        assert (slice_branch(x_hw, "xy", stack) - ref).abs().max() <= TOL
        # not vacuous: the plain (untransposed) stack does not commute with the swap
        assert (slice_branch(x_hw, "xy", stack) - slice_branch(x, "xy", stack).transpose(3, 4)).abs().max() > 1e-3


def test_shared_xz_yz_sum_model_is_invariant_to_exchanging_h_and_w():
    torch.manual_seed(0)
    x = torch.randn(3, 1, 5, 6, 7)
    shared = OrthoPlaneNet(num_classes=4, planes="xz,yz", share_weights=True, fusion="sum", width=8).eval()
    separate = OrthoPlaneNet(num_classes=4, planes="xz,yz", fusion="sum", width=8).eval()
    with torch.no_grad():
        assert (shared(x) - shared(x.transpose(3, 4))).abs().max() <= TOL
        assert (separate(x) - separate(x.transpose(3, 4))).abs().max() > 1e-4  # separate stacks: no symmetry
    assert len(shared.stacks) == 1 and shared.stack("xz") is shared.stack("yz")


@pytest.mark.parametrize("mode", ["slice", "channel"])
@pytest.mark.parametrize("fusion", ["sum", "concat"])
@pytest.mark.parametrize("sample", [(1, 16, 16, 16), (1, 8, 32, 32), (1, 15, 11, 11)], ids=["volume", "sequence", "hsi"])
def test_modes_and_fusions_classify_every_kind_of_input(mode, fusion, sample):
    spec = InputSpec(*sample, num_classes=7)
    torch.manual_seed(0)
    model = build_orthoplane(spec, mode=mode, fusion=fusion, width=8, depth=2)
    assert model.head[-1].in_features == (3 * 8 if fusion == "concat" else 8)
    x = torch.randn(2, *sample)
    loss = F.cross_entropy(model.train()(x), torch.tensor([0, 6]))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 7)


def test_channel_mode_kernels_span_the_folded_axis():
    model = OrthoPlaneNet(in_channels=2, num_classes=3, mode="channel", input_size=(15, 11, 9))
    first = {p: model.stack(p)[0] for p in model.planes}
    assert {p: c.in_channels for p, c in first.items()} == {"xy": 30, "xz": 22, "yz": 18}
    assert model.branch(torch.randn(1, 2, 15, 11, 9), "xz").shape == (1, 16, 15, 9)  # a (D, W) map


def test_planes_option():
    assert parse_planes("xy, zx ,YZ") == ("xy", "xz", "yz")
    assert parse_planes(["yz"]) == ("yz",)
    model = build_orthoplane(InputSpec(1, 15, 11, 11, 16), planes="xy")
    assert model.planes == ("xy",) and list(model.stacks) == ["xy"]


@pytest.mark.parametrize("options,match", [
    ({"planes": "xy,xw"}, r"planes must name some of xy, xz, yz .*got 'xw'"),
    ({"planes": "xy,yx"}, r"plane 'xy' is listed twice"),
    ({"planes": ""}, r"planes must name some of xy, xz, yz"),
    ({"mode": "stack"}, r"mode must be 'slice' or 'channel'; got 'stack'"),
    ({"fusion": "max"}, r"fusion must be 'sum' or 'concat'; got 'max'"),
    ({"mode": "channel", "share_weights": True}, r"share_weights=True needs mode='slice'"),
    ({"mode": "channel"}, r"mode='channel' .* needs input_size=\(D, H, W\)"),
    ({"width": 0}, "width must be a positive integer; got 0"),
])
def test_bad_arguments_say_what_is_expected(options, match):
    with pytest.raises(ValueError, match=match):
        OrthoPlaneNet(num_classes=4, **options)


def test_bad_input_is_a_clear_error():
    model = OrthoPlaneNet(num_classes=4, mode="channel", input_size=(15, 11, 11)).eval()
    with pytest.raises(ValueError, match=r"built for \(D, H, W\) = \(15, 11, 11\) .*got \(15, 9, 9\)"):
        model(torch.randn(1, 1, 15, 9, 9))
    with pytest.raises(ValueError, match=r"built for C = 1 input channels; got C = 2"):
        model(torch.randn(1, 2, 15, 11, 11))
    with pytest.raises(ValueError, match=r"expects a batch of shape \(N, C, D, H, W\); got a 3-D tensor"):
        model(torch.randn(15, 11, 11))
    with pytest.raises(ValueError, match=r"no 'xy' branch; its planes are yz"):
        OrthoPlaneNet(num_classes=4, planes="yz").branch(torch.randn(1, 1, 4, 4, 4), "xy")
    with pytest.raises(ValueError, match=r"unknown plane 'zz'"):
        slices_of(torch.randn(1, 1, 4, 4, 4), "zz")
