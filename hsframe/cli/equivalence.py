"""`hsframe equivalence A B`: do two registered models compute the same function once they share weights?

Builds both through the plugin registry for one input, copies A's weights into B
(:func:`hsframe.equivalence.transfer_weights`), runs both in eval mode on the same random input and
reports the largest absolute difference of their outputs. Exit codes: 0 equivalent (difference
<= tolerance), 1 not equivalent (the difference is larger, or the weights cannot be paired),
2 bad input (unknown model, malformed --input, a model that cannot be built for the input).
Torch is imported inside the command only.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from hsframe.cli.common import Command, parse_input, plugins_reporting_problems
from hsframe.errors import HsframeError

# A sequence sample, batch of one: 1 channel, 8 time steps of 32x32 frames; 10 classes.
DEFAULT_INPUT = "1,8,32,32"
DEFAULT_CLASSES = 10


def parse_options(items: tuple[str, ...]) -> dict[str, Any]:
    """``("width=8", "planes=xy,xz")`` -> ``{"width": 8, "planes": "xy,xz"}``, typed like ``--set``."""
    from hsframe.config import parse_set

    for item in items:
        if "=" not in item or not item.partition("=")[0].strip():
            raise HsframeError(f"--option takes KEY=VALUE, e.g. width=8; got '{item}'")
    return parse_set(list(items))


def _build(plugins, name: str, input_spec, options: dict[str, Any], seed: int):
    import torch

    spec = plugins.model(name)  # HsframeError with a suggestion for an unknown name
    if not spec.fitting().per_layer:
        raise HsframeError(f"model '{name}' is an estimator ({spec.package}): equivalence copies weights between torch modules; "
                           "pick two torch models (`hsframe plugins`)")
    torch.manual_seed(seed)  # both models start from the same RNG state, as a fair comparison would
    return spec, spec.create(input_spec, options)


@click.command("equivalence", cls=Command)
@click.argument("model_a")
@click.argument("model_b")
@click.option("--input", "input_text", default=DEFAULT_INPUT, show_default=True, metavar="C,D,H,W",
              help="One sample: channels, depth (time steps, bands), height, width.")
@click.option("--classes", type=int, default=DEFAULT_CLASSES, show_default=True, help="Number of classes K.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Samples in the random batch N.")
@click.option("--tolerance", type=click.FloatRange(min=0.0), default=1e-5, show_default=True,
              help="Largest absolute output difference still called equivalent.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of both models' initialisation and of the input.")
@click.option("--option", "-o", "option_items", multiple=True, metavar="KEY=VALUE",
              help="Model option passed to both builds, e.g. -o width=8. Repeatable.")
@click.option("--no-transfer", is_flag=True,
              help="Compare the two models as initialised (same seed) instead of copying A's weights into B.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def equivalence(model_a, model_b, input_text, classes, batch, tolerance, seed, option_items, no_transfer, as_json) -> None:
    """Copy MODEL_A's weights into MODEL_B and compare their outputs on the same random input.

    Exit 0 when the largest absolute difference is <= --tolerance, 1 when it is larger or the
    weights cannot be paired tensor for tensor, 2 for bad input. Example: `hsframe equivalence
    td_conv2d conv3d_133` (a TimeDistributed Conv2D and a Conv3D with (1,3,3) kernels).
    """
    from hsframe.equivalence import WeightTransferError, check_equivalence
    from hsframe.registry import InputSpec

    c, d, h, w = parse_input(input_text, example=DEFAULT_INPUT)
    options = parse_options(option_items)
    plugins = plugins_reporting_problems()
    input_spec = InputSpec(c, d, h, w, classes)
    spec_a, net_a = _build(plugins, model_a, input_spec, options, seed)
    spec_b, net_b = _build(plugins, model_b, input_spec, options, seed)

    shape = (batch, c, d, h, w)
    report: dict[str, Any] = {
        "model_a": model_a, "package_a": spec_a.package, "model_b": model_b, "package_b": spec_b.package,
        "input_shape": list(shape), "num_classes": classes, "seed": seed, "tolerance": tolerance,
        "transfer": not no_transfer,
    }
    try:
        result = check_equivalence(net_a, net_b, shape, seed=seed, transfer=not no_transfer)
        error = None
    except WeightTransferError as exc:
        result, error = None, f"the weights of '{model_a}' cannot be copied into '{model_b}': {exc}"
    except ValueError as exc:  # outputs of different shapes: not the same function
        result, error = None, str(exc)
    except Exception as exc:  # a model that cannot run on this input is bad input, not a verdict
        raise HsframeError(f"running '{model_a}' and '{model_b}' on input {shape} (N, C, D, H, W) failed: "
                           f"{type(exc).__name__}: {exc}") from None

    equivalent = result is not None and result.within(tolerance)
    report.update({
        "equivalent": equivalent,
        "error": error,
        "max_abs_diff": result.max_abs_diff if result else None,
        "mean_abs_diff": result.mean_abs_diff if result else None,
        "n_params_a": result.n_params_a if result else sum(p.numel() for p in net_a.parameters()),
        "n_params_b": result.n_params_b if result else sum(p.numel() for p in net_b.parameters()),
        "copied": [{"source": src, "destination": dst, "source_shape": list(s), "destination_shape": list(d)}
                   for src, dst, s, d in result.mapping] if result else [],
    })
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_report(report, result)
    sys.exit(0 if equivalent else 1)


def _print_report(r: dict[str, Any], result) -> None:
    a, b = r["model_a"], r["model_b"]
    click.echo(f"{a} ({r['package_a']}, {r['n_params_a']:,} parameters) vs "
               f"{b} ({r['package_b']}, {r['n_params_b']:,} parameters)")
    click.echo(f"input (N, C, D, H, W) = {tuple(r['input_shape'])}, {r['num_classes']} classes, seed {r['seed']}")
    if r["error"]:
        click.echo(f"NOT EQUIVALENT: {r['error']}")
        return
    if r["transfer"]:
        reshaped = [m for m in result.mapping if m[2] != m[3]]
        click.echo(f"copied {len(result.mapping)} tensors (parameters and buffers) from {a} into {b}, "
                   f"{len(reshaped)} reshaped:")
        for src, dst, s_shape, d_shape in reshaped:
            click.echo(f"  {src} {s_shape} -> {dst} {d_shape}")
    else:
        click.echo("weights not copied: both models as initialised from the same seed")
    click.echo(f"max abs difference {r['max_abs_diff']:.3g}, mean {r['mean_abs_diff']:.3g} "
               f"(tolerance {r['tolerance']:g})")
    if r["equivalent"]:
        click.echo(f"EQUIVALENT: {a} and {b} give the same outputs within {r['tolerance']:g}.")
    else:
        click.echo(f"NOT EQUIVALENT: the outputs differ by up to {r['max_abs_diff']:.3g}, "
                   f"more than the tolerance {r['tolerance']:g}.")
