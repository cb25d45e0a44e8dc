"""hsframe.equivalence (weight transfer, output comparison) and `hsframe equivalence` (the command).

The function tests use small local modules: a TimeDistributed Conv2d stack and the same stack in
Conv3d (1,3,3) form. The command tests use a local plugin of those modules and, when the
hsframe-volumetric plugin is installed, its registered td_conv2d / conv3d_133 / r2plus1d.
"""
from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner

import hsframe.plugins
from hsframe import ModelSpec, hookimpl
from hsframe.cli.equivalence import equivalence
from hsframe.equivalence import EquivalenceResult, WeightTransferError, check_equivalence, transfer_weights


class Frames2d(nn.Module):
    """(N, C, T, H, W) -> Conv2d -> BN -> ReLU on every frame -> GAP -> Linear: (N, K)."""

    def __init__(self, c: int = 1, f: int = 4, k: int = 3) -> None:
        super().__init__()
        self.conv, self.bn, self.fc = nn.Conv2d(c, f, 3, padding=1, bias=False), nn.BatchNorm2d(f), nn.Linear(f, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        y = torch.relu(self.bn(self.conv(x.transpose(1, 2).reshape(n * t, c, h, w))))
        return self.fc(y.reshape(n, t, -1, h, w).mean(dim=(1, 3, 4)))


class Frames3d(nn.Module):
    """The same network with a (1, 3, 3) Conv3d and BatchNorm3d."""

    def __init__(self, c: int = 1, f: int = 4, k: int = 3, kernel: tuple[int, int, int] = (1, 3, 3)) -> None:
        super().__init__()
        pad = tuple(s // 2 for s in kernel)
        self.conv, self.bn, self.fc = nn.Conv3d(c, f, kernel, padding=pad, bias=False), nn.BatchNorm3d(f), nn.Linear(f, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3, 4)))


def trained(model: nn.Module, steps: int = 3) -> nn.Module:
    """A few SGD steps, so weights and BatchNorm running statistics are no longer at their initial values."""
    torch.manual_seed(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for _ in range(steps):
        x = torch.randn(4, 1, 5, 8, 8) * 2 + 0.5
        loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 0]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


# ---- transfer_weights ----------------------------------------------------------------------------


def test_transfer_reshapes_conv2d_into_conv3d_and_copies_buffers():
    torch.manual_seed(0)
    src, dst = trained(Frames2d()), Frames3d()
    mapping = transfer_weights(src, dst)
    assert mapping[0] == ("conv.weight", "conv.weight", (4, 1, 3, 3), (4, 1, 1, 3, 3))
    assert [m[0] for m in mapping] == [
        "conv.weight", "bn.weight", "bn.bias", "fc.weight", "fc.bias",  # parameters first ...
        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",  # ... then buffers
    ]
    assert torch.equal(dst.conv.weight[:, :, 0], src.conv.weight)
    assert torch.equal(dst.bn.running_var, src.bn.running_var) and int(dst.bn.num_batches_tracked) == 3


def test_transfer_error_names_the_first_unmatched_pair_and_copies_nothing():
    torch.manual_seed(0)
    src, dst = Frames2d(), Frames3d(kernel=(3, 3, 3))
    before = dst.conv.weight.detach().clone()
    with pytest.raises(WeightTransferError, match=(
        r"parameter #1 in registration order: source 'conv.weight' \(4, 1, 3, 3\) \(36 elements\) -> "
        r"destination 'conv.weight' \(4, 1, 3, 3, 3\) \(108 elements\): the element counts differ")):
        transfer_weights(src, dst)
    assert torch.equal(dst.conv.weight, before)


def test_transfer_error_names_a_tensor_without_partner():
    with pytest.raises(WeightTransferError, match=r"source has 4 and the destination 2; .* source '1.weight' \(3, 2\)"):
        transfer_weights(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 3)), nn.Linear(2, 2))
    with pytest.raises(WeightTransferError, match=r"cannot match buffers: the source has 0 and the destination 3"):
        transfer_weights(nn.Linear(3, 3), nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3, affine=False)))


def test_transfer_refuses_reshapes_that_move_weights_between_axes_unless_asked():
    src, dst = nn.Linear(9, 16, bias=False), nn.Linear(16, 9, bias=False)  # (16, 9) vs (9, 16)
    with pytest.raises(WeightTransferError, match=r"shapes differ in more than size-1 axes.*allow_reshape='numel'"):
        transfer_weights(src, dst)
    assert transfer_weights(src, dst, allow_reshape="numel") == [("weight", "weight", (16, 9), (9, 16))]
    assert torch.equal(dst.weight.reshape(-1), src.weight.reshape(-1))
    with pytest.raises(ValueError, match="allow_reshape must be 'singleton' or 'numel'"):
        transfer_weights(src, dst, allow_reshape="any")  # type: ignore[arg-type]


# ---- check_equivalence ---------------------------------------------------------------------------


def test_td_conv2d_and_conv3d_133_agree_after_transfer_also_when_trained():
    torch.manual_seed(0)
    a, b = trained(Frames2d()), Frames3d()  # trained: BatchNorm is no longer the identity
    result = check_equivalence(a, b, (2, 1, 5, 8, 8))
    assert isinstance(result, EquivalenceResult)
    assert result.max_abs_diff <= 1e-5 and result.within(1e-5)
    assert 0 <= result.mean_abs_diff <= result.max_abs_diff
    assert result.n_params_a == result.n_params_b == 36 + 8 + 15
    assert len(result.mapping) == 8 and result.output_shape == (2, 3)


def test_without_transfer_different_functions_differ():
    torch.manual_seed(0)
    a = trained(Frames2d())
    b = trained(Frames3d(kernel=(3, 3, 3)))  # mixes time steps
    result = check_equivalence(a, b, (2, 1, 5, 8, 8), transfer=False)
    assert result.max_abs_diff > 1e-3 and not result.within(1e-5) and result.mapping == []
    with pytest.raises(WeightTransferError):
        check_equivalence(a, b, (2, 1, 5, 8, 8))


def test_check_equivalence_restores_modes_and_leaves_the_global_rng_alone():
    a, b = Frames2d().train(), Frames3d().eval()
    state = torch.get_rng_state()
    first = check_equivalence(a, b, (1, 1, 4, 6, 6), seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.training and not b.training
    assert check_equivalence(a, b, (1, 1, 4, 6, 6), seed=3).max_abs_diff == first.max_abs_diff


def test_outputs_of_different_shapes_are_an_error():
    with pytest.raises(ValueError, match=r"outputs differ in shape: \(1, 3\) vs \(1, 4\)"):
        check_equivalence(Frames2d(k=3), Frames3d(k=4), (1, 1, 4, 6, 6), transfer=False)


# ---- the command, on a local plugin --------------------------------------------------------------


@pytest.fixture
def toy_plugins(monkeypatch):
    """The command's registry with two toy models added (no installed plugin needed)."""
    module = types.ModuleType("toy_equivalence_plugin")

    @hookimpl
    def register_models(register):
        register(ModelSpec(name="frames2d", build=lambda s, **o: Frames2d(s.channels, 4, s.num_classes),
                           data_kinds=("sequence",)))
        register(ModelSpec(name="frames3d", build=lambda s, **o: Frames3d(s.channels, 4, s.num_classes, **o),
                           data_kinds=("sequence",)))

    module.register_models = register_models
    plugins = hsframe.plugins.load_plugins(extra={"toy": module})
    monkeypatch.setattr(hsframe.plugins, "get_plugins", lambda: plugins)
    return plugins


def invoke(*args: str):
    return CliRunner().invoke(equivalence, list(args))


def test_command_exit_codes_on_local_models(toy_plugins):
    ok = invoke("frames2d", "frames3d", "--input", "1,5,8,8", "--classes", "3")
    assert ok.exit_code == 0, ok.output
    assert "EQUIVALENT: frames2d and frames3d give the same outputs within 1e-05" in ok.output
    assert "conv.weight (4, 1, 3, 3) -> conv.weight (4, 1, 1, 3, 3)" in ok.output
    bad = invoke("frames2d", "frames3d", "--option", "kernel=[3, 3, 3]")
    assert bad.exit_code == 1
    assert "NOT EQUIVALENT: the weights of 'frames2d' cannot be copied into 'frames3d'" in bad.output
    assert "element counts differ" in bad.output


@pytest.mark.parametrize("args,match", [
    (["frames2d", "frames3e"], "unknown model 'frames3e'. Did you mean 'frames3d'?"),
    (["frames2d", "frames3d", "--input", "1,8,32"], "--input takes four positive integers C,D,H,W"),
    (["frames2d", "frames3d", "--input", "1,8,a,32"], "got '1,8,a,32'"),
    (["frames2d", "frames3d", "--input", "0,8,32,32"], "four positive integers"),
    (["frames2d", "frames3d", "--option", "nope"], "--option takes KEY=VALUE"),
    (["frames2d", "frames3d", "--option", "colour=1"],
     "model 'frames3d' cannot be built for input (C, D, H, W) = (1, 8, 32, 32) with 10 classes and options {'colour': 1}"),
])
def test_bad_input_exits_2_with_one_message(toy_plugins, args, match):
    result = invoke(*args)
    assert result.exit_code == 2
    assert match in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_bad_tolerance_is_a_usage_error(toy_plugins):
    assert invoke("frames2d", "frames3d", "--tolerance", "-1").exit_code == 2


# ---- the command, on the volumetric plugin -------------------------------------------------------

needs_volumetric = pytest.mark.skipif(
    "td_conv2d" not in hsframe.plugins.load_plugins().models, reason="hsframe-volumetric is not installed")


@needs_volumetric
def test_td_conv2d_equals_conv3d_133():
    result = invoke("td_conv2d", "conv3d_133")
    assert result.exit_code == 0, result.output
    assert "input (N, C, D, H, W) = (1, 1, 8, 32, 32), 10 classes" in result.output  # the default: a sequence
    assert "EQUIVALENT" in result.output and "NOT EQUIVALENT" not in result.output
    report = json.loads(invoke("td_conv2d", "conv3d_133", "--json").output)
    assert report["equivalent"] is True and report["max_abs_diff"] <= 1e-5
    assert report["n_params_a"] == report["n_params_b"] and report["input_shape"] == [1, 1, 8, 32, 32]
    assert report["copied"][0]["destination_shape"] == [16, 1, 1, 3, 3]


@needs_volumetric
def test_td_conv2d_is_not_r2plus1d_both_ways():
    # with weight transfer: the (2+1)D blocks have other tensors, named in the message
    transfer = invoke("td_conv2d", "r2plus1d")
    assert transfer.exit_code == 1
    assert "NOT EQUIVALENT: the weights of 'td_conv2d' cannot be copied into 'r2plus1d'" in transfer.output
    assert "'features.module.0.weight' (16, 1, 3, 3) (144 elements)" in transfer.output
    # as initialised: the outputs differ
    differ = invoke("td_conv2d", "r2plus1d", "--no-transfer", "--json")
    assert differ.exit_code == 1
    report = json.loads(differ.output)
    assert report["equivalent"] is False and report["max_abs_diff"] > 1e-3 and report["error"] is None


@needs_volumetric
def test_same_seed_initialisation_is_already_identical():
    """PyTorch draws both kernels from U(-1/sqrt(9 I), 1/sqrt(9 I)) in the same order: no transfer needed."""
    result = invoke("td_conv2d", "conv3d_133", "--no-transfer", "--input", "1,15,11,11", "--classes", "16")
    assert result.exit_code == 0, result.output


@needs_volumetric
def test_too_small_input_is_bad_input():
    result = invoke("td_conv2d", "conv3d_133", "--input", "1,8,2,2")
    assert result.exit_code == 2
    assert "needs H, W >= 4; got H=2, W=2" in " ".join(result.output.split())


def test_registered_in_the_main_cli():
    from hsframe.cli import cli

    if "equivalence" not in cli.commands:
        pytest.skip("`equivalence` is not registered in hsframe.cli yet")
    result = CliRunner().invoke(cli, ["equivalence", "--help"])
    assert result.exit_code == 0 and "MODEL_A" in result.output


def test_importing_the_modules_does_not_import_torch():
    code = "import sys, hsframe.equivalence, hsframe.cli.equivalence; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
