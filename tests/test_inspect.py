"""`hsframe inspect` and hsframe.inspect_model.summarize reproduce known parameter and MAC counts."""
from __future__ import annotations

import json
import math
import types

import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner

from hsframe import InputSpec, ModelSpec, hookimpl
from hsframe.cli.inspect import inspect as inspect_cmd
from hsframe.inspect_model import summarize
from hsframe.plugins import load_plugins

HYBRIDSN_PARAMS = 5_122_176  # HybridSN for 30 PCA components, 25x25 patches, 16 classes (Roy et al., 2019)


def invoke(*args: str):
    return CliRunner().invoke(inspect_cmd, list(args))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- summarize(): known figures -------------------------------------------------------------


def test_hybridsn_parameter_count():
    from hsframe_hybridsn.model import HybridSN

    model = HybridSN(in_channels=1, bands=30, patch_size=(25, 25), num_classes=16)
    s = summarize(model, (1, 30, 25, 25))
    assert s.total_params == s.trainable_params == HYBRIDSN_PARAMS
    assert sum(r.params for r in s.rows) == HYBRIDSN_PARAMS and s.unattributed_params == 0
    assert [r.type for r in s.rows][:2] == ["Conv3d", "ReLU"]  # execution order
    assert s.rows[0].output_shape == (1, 8, 24, 23, 23) and s.output_shape == (1, 16)
    # First Conv3d: 8 kernels of 7x3x3 on 1 channel = 504 weights + 8 biases; MACs = outputs x 63.
    assert s.rows[0].params == 512 and s.rows[0].macs == 8 * 24 * 23 * 23 * 63
    assert s.total_macs == sum(r.macs for r in s.rows)


def test_conv2d_6_to_16_has_864_weights():
    model = nn.Sequential(nn.Conv2d(6, 16, 3), nn.ReLU())
    s = summarize(model, (6, 10, 10))
    conv = s.rows[0]
    assert (conv.name, conv.type, conv.output_shape) == ("0", "Conv2d", (1, 16, 8, 8))
    assert model[0].weight.numel() == 864
    assert conv.params == 864 + 16 == s.total_params
    assert conv.macs == 16 * 8 * 8 * 6 * 9  # bias adds are not MACs
    assert s.rows[1].macs == 0  # ReLU


def test_depthwise_separable_versus_standard_3x3():
    standard = nn.Sequential(nn.Conv2d(8, 32, 3, padding=1, bias=False))
    separable = nn.Sequential(
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),  # depthwise
        nn.Conv2d(8, 32, 1, bias=False),  # pointwise
    )
    s_std = summarize(standard, (8, 16, 16))
    s_sep = summarize(separable, (8, 16, 16))
    assert s_std.total_params == 2_304 == 8 * 32 * 9
    assert s_sep.total_params == 328 == 8 * 9 + 8 * 32
    assert [r.params for r in s_sep.rows] == [72, 256]
    assert s_std.total_macs == 589_824 == 16 * 16 * 32 * 8 * 9
    assert s_sep.total_macs == 83_968 == 16 * 16 * (8 * 9 + 8 * 32)
    assert [r.macs for r in s_sep.rows] == [16 * 16 * 8 * 9, 16 * 16 * 8 * 32]


def test_blocks_model_totals_match_parameters():
    plugins = load_plugins()
    if "dsconv_net" not in plugins.models:
        pytest.skip("hsframe-blocks (dsconv_net) is not installed")
    model = plugins.model("dsconv_net").build(InputSpec(1, 15, 11, 11, 16))
    s = summarize(model, (1, 15, 11, 11))
    assert s.total_params == n_params(model) == sum(r.params for r in s.rows)
    assert s.output_shape == (1, 16)
    # Every conv row follows the formula; the depthwise ones use in_channels / groups = 1.
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    conv_rows = [r for r in s.rows if r.type == "Conv2d"]
    assert len(conv_rows) == len(convs)
    for m, r in zip(convs, conv_rows):
        assert r.macs == math.prod(r.output_shape) * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    assert model.training  # summarize runs in eval mode and restores the flag


def test_linear_macs_multiply_leading_dims_and_mixed_layers():
    class Seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(4, 6)
            self.norm = nn.LayerNorm(6)
            self.rnn = nn.GRU(6, 5, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.rnn(self.norm(self.proj(x)))[0]

    s = summarize(Seq(), (7, 4))  # 7 time steps of 4 features
    proj, norm, rnn = s.rows
    assert proj.macs == 7 * 4 * 6 and proj.output_shape == (1, 7, 6)
    assert norm.macs == 0 and norm.macs_counted
    assert rnn.output_shape == (1, 7, 5) and not rnn.macs_counted and s.uncounted_types == ["GRU"]
    assert s.total_params == n_params(Seq()) == sum(r.params for r in s.rows)


def test_reused_and_tied_modules_count_parameters_once():
    shared = nn.Linear(5, 5)
    tied = nn.Linear(5, 5)
    tied.weight = shared.weight  # weight tying: one tensor, two modules
    model = nn.Sequential(shared, nn.ReLU(), shared, tied)
    s = summarize(model, (5,))
    assert [(r.name, r.call, r.params) for r in s.rows] == [("0", 1, 30), ("1", 1, 0), ("0", 2, 0), ("3", 1, 5)]
    assert s.total_params == n_params(model) == 35
    assert s.total_macs == 3 * 25  # every call does its work


def test_depth_merges_blocks_and_keeps_totals():
    from hsframe_hybridsn.model import HybridSN

    model = HybridSN(1, 30, (25, 25), 16)
    full = summarize(model, (1, 30, 25, 25))
    top = summarize(model, (1, 30, 25, 25), depth=1)
    assert [(r.name, r.type) for r in top.rows] == [("conv3d", "Sequential"), ("conv2d", "Sequential"), ("head", "Sequential")]
    assert [r.output_shape for r in top.rows] == [(1, 32, 18, 19, 19), (1, 64, 17, 17), (1, 16)]
    assert sum(r.params for r in top.rows) == top.total_params == HYBRIDSN_PARAMS
    assert top.total_macs == full.total_macs


def test_residual_block_group_takes_the_blocks_own_output_shape():
    class Down(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x + self.conv(x))[:, :, ::2, ::2]  # work outside leaves: not counted

    s = summarize(nn.Sequential(Down()), (2, 8, 8), depth=1)
    assert [(r.name, r.type, r.output_shape) for r in s.rows] == [("0", "Down", (1, 2, 4, 4))]


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_hybridsn_table():
    result = invoke("--plugin", "hybridsn", "--input", "1,30,25,25", "--classes", "16")
    assert result.exit_code == 0, result.output
    assert "5,122,176" in result.stdout
    assert "Total parameters: 5,122,176" in result.stdout
    assert "conv3d.0" in result.stdout and "head.7" in result.stdout
    assert "not counted" in result.stdout  # the footnote on work outside leaf modules


def test_cli_hybridsn_json():
    result = invoke("--plugin", "hybridsn", "--input", "1,30,25,25", "--classes", "16", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total_params"] == data["trainable_params"] == HYBRIDSN_PARAMS
    assert sum(r["params"] for r in data["rows"]) == HYBRIDSN_PARAMS
    assert data["total_macs"] == sum(r["macs"] for r in data["rows"])
    assert data["rows"][0] == {"name": "conv3d.0", "type": "Conv3d", "output_shape": [1, 8, 24, 23, 23],
                               "params": 512, "macs": 6_398_784, "macs_counted": True, "call": 1}
    assert data["output_shape"] == [1, 16] and data["input"] == [1, 30, 25, 25]


def test_cli_set_and_depth():
    result = invoke("--model", "hybridsn", "--input", "1,13,9,9", "--set", "model_options.dropout=0.1",
                    "--depth", "1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["options"] == {"dropout": 0.1}
    assert [r["name"] for r in data["rows"]] == ["conv3d", "conv2d", "head"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input", "1,30,25"], "four positive integers C,D,H,W"),
        (["--input", "1,a,25,25"], "four positive integers C,D,H,W"),
        (["--input", "1,30,0,25"], "H=0 is not positive"),
        (["--input", "1,5,25,25"], "at least 13 bands"),  # the model's own ValueError
        (["--input", "1,30,25,25", "--set", "model.width=3"], "Accepted model options: dropout"),
        (["--input", "1,30,25,25", "--set", "train.epochs=3"], "only takes model options"),
        (["--input", "1,30,25,25", "--classes", "0"], "--classes"),
    ],
)
def test_cli_bad_input_is_one_message_and_exit_2(args, message):
    result = invoke("--plugin", "hybridsn", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_unknown_model_suggests_a_name():
    result = invoke("--plugin", "hybridsm", "--input", "1,30,25,25")
    assert result.exit_code == 2
    assert "unknown model 'hybridsm'" in result.output and "Did you mean 'hybridsn'" in result.output


def test_cli_forward_failure_is_reported(monkeypatch):
    def build(spec: InputSpec) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(7, spec.num_classes))  # ignores the input size

    plugin = types.SimpleNamespace(register_models=hookimpl(lambda register: register(ModelSpec(name="broken", build=build))))
    plugins = load_plugins(extra={"broken-plugin": plugin})
    monkeypatch.setattr("hsframe.plugins.get_plugins", lambda: plugins)
    result = invoke("--plugin", "broken", "--input", "1,2,3,3")
    assert result.exit_code == 2
    assert "forward pass fails on a batch of shape (1, 1, 2, 3, 3)" in result.output


def test_inspect_is_a_command_of_hsframe():
    from hsframe.cli import cli

    r = CliRunner().invoke(cli, ["inspect", "--plugin", "hybridsn", "--input", "1,30,25,25", "--classes", "16"])
    assert r.exit_code == 0 and "5,122,176" in r.output
