"""`hsframe inspect`: every layer of a model with its output shape, parameters and MACs.

Torch and the plugins are imported inside the command, so `hsframe --help` stays fast. Errors are
one message with exit code 2 (hsframe.cli.common.error_boundary).
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hsframe.cli.common import Command, err_console, parse_input, plugins_reporting_problems
from hsframe.errors import HsframeError

if TYPE_CHECKING:
    from hsframe.inspect_model import ModelSummary


MACS_CAPTION = (
    "MACs per sample (batch of 1): Conv = output elements x in_channels/groups x kernel elements, "
    "Linear = in_features x out_features (x leading dims); bias, BatchNorm/normalization, "
    "activations, pooling and dropout count 0."
)
FOOTNOTE = (
    "Computations in forward() outside leaf modules (reshapes, residual additions, F.conv2d and "
    "other functional calls) are not counted. Total parameters come from model.parameters(), "
    "each tensor once, so they are exact even when a module is reused."
)


def model_options(sets: tuple[str, ...]) -> dict[str, Any]:
    """``("model_options.dropout=0.2",)`` -> ``{"dropout": 0.2}``; values and keys are read like ``hsframe run --set``."""
    from hsframe.config import canonical_key, parse_set

    options: dict[str, Any] = {}
    for key, value in parse_set(list(sets)).items():
        prefix, _, name = canonical_key(key).partition(".")
        if prefix != "model_options" or not name or "." in name:
            raise HsframeError(
                "inspect only takes model options, as --set model_options.KEY=VALUE (e.g. --set model_options.dropout=0.2); "
                f"got '{key}'"
            )
        options[name] = value
    return options


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "[" + ", ".join(str(s) for s in shape) + "]"


def _macs(value: int, counted: bool) -> str:
    if counted:
        return f"{value:,}"
    return "?" if value == 0 else f">= {value:,}"


def _print_table(console: Console, title: str, summary: "ModelSummary") -> None:
    table = Table(title=title, caption=MACS_CAPTION, caption_justify="left")
    table.add_column("layer")
    table.add_column("type")
    table.add_column("output shape")
    table.add_column("params", justify="right")
    table.add_column("MACs", justify="right")
    for row in summary.rows:
        name = escape(row.name or "(model)") + (f" (call {row.call})" if row.call > 1 else "")
        table.add_row(name, escape(row.type), _shape(row.output_shape), f"{row.params:,}", _macs(row.macs, row.macs_counted))
    table.add_section()
    complete = not summary.uncounted_types
    table.add_row("[bold]total[/]", "", _shape(summary.output_shape), f"[bold]{summary.total_params:,}[/]",
                  f"[bold]{_macs(summary.total_macs, complete)}[/]")
    console.print(table)
    console.print(
        f"Total parameters: {summary.total_params:,} (trainable {summary.trainable_params:,}, "
        f"non-trainable {summary.total_params - summary.trainable_params:,}); "
        f"MACs per sample: {_macs(summary.total_macs, complete)}",
        highlight=False, soft_wrap=True,
    )
    notes = [FOOTNOTE]
    if summary.unattributed_params:
        notes.append(f"{summary.unattributed_params:,} parameters belong to no leaf module that ran "
                     "(parameters held by a container, or modules forward() did not call); they are in the total.")
    if summary.uncounted_types:
        notes.append(f"MACs not counted for layer types {', '.join(summary.uncounted_types)} (shown as ?).")
    if any(r.call > 1 for r in summary.rows):
        notes.append("A module called again shows 0 params on its later calls: its parameters count once.")
    for note in notes:
        console.print(f"[dim]Note: {escape(note)}[/]", highlight=False)


@click.command("inspect", cls=Command)
@click.option("--model", "-m", "--plugin", "-p", "model_name", required=True,
              help="Model to inspect (see `hsframe plugins`), e.g. hybridsn. --plugin is an alias.")
@click.option("--input", "input_text", required=True, metavar="C,D,H,W",
              help="Shape of one sample: channels, depth (bands), height, width, e.g. 1,30,25,25.")
@click.option("--classes", type=click.IntRange(min=1), default=16, show_default=True, help="Number of classes K.")
@click.option("--set", "sets", multiple=True, metavar="model_options.KEY=VALUE",
              help="Model option passed to the model's build, e.g. --set model_options.dropout=0.2. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: rows and totals as JSON.")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Merge layers nested deeper than N levels (e.g. 1: one row per top-level block). Default: every leaf.")
def inspect(model_name: str, input_text: str, classes: int, sets: tuple[str, ...], as_json: bool, depth: int | None) -> None:
    """Show every layer of a model: output shape, parameters and multiply-accumulates (MACs).

    Builds the model for the given input, runs one forward pass on a zero batch of 1 with hooks on
    every leaf module, and tabulates the layers in execution order with totals.
    """
    from hsframe.inspect_model import summarize
    from hsframe.registry import InputSpec

    shape = parse_input(input_text)
    options = model_options(sets)
    plugins = plugins_reporting_problems()
    spec = plugins.model(model_name)
    input_spec = InputSpec(*shape, num_classes=classes)
    fitting = spec.fitting()
    if not fitting.per_layer:  # an estimator has no layers to tabulate: say what it is and what the run searches
        _print_estimator(spec.name, shape, classes, options, fitting.describe(spec, input_spec, options), as_json)
        return
    model = spec.create(input_spec, options)
    try:
        summary = summarize(model, shape, depth=depth)
    except Exception as exc:  # the model's own error: report it as the user's input problem
        raise HsframeError(f"model '{spec.name}' (package {spec.package}): the forward pass fails on a batch of "
                           f"shape {(1, *shape)} (N, C, D, H, W): {type(exc).__name__}: {exc}") from None

    if summary.output_shape != (1, classes):
        err_console.print(f"[yellow]Warning:[/] model '{spec.name}' returns {summary.output_shape} for one sample; "
                          f"the contract is (N, num_classes) = (1, {classes}).", highlight=False)
    if as_json:
        out = {"model": spec.name, "package": spec.package, "input": list(shape), "classes": classes,
               "options": options, "depth": depth, **summary.to_dict()}
        click.echo(json.dumps(out, indent=2))
        return
    title = f"{spec.name}: input (C, D, H, W) = {shape}, {classes} classes" + (f", options {options}" if options else "")
    _print_table(Console(), escape(title), summary)


def _print_estimator(name: str, shape: tuple[int, ...], classes: int, options: dict[str, Any], described: dict[str, Any],
                     as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"model": name, "input": list(shape), "classes": classes, "options": options, **described}, indent=2))
        return
    table = Table(title=escape(f"{name}: input (C, D, H, W) = {shape}, {classes} classes"), show_header=False)
    table.add_row("estimator", escape(described["estimator"]))
    table.add_row("input features", f"{described['input_features']:,} (each sample flattened: C x D x H x W)")
    search = described["search"]
    table.add_row("chosen on validation", escape("; ".join(f"{k} in {v}" for k, v in search.items())) if search else "nothing (one fit)")
    table.add_row("fits per run", str(described["combinations"]))
    table.add_row("as built", escape(described["repr"]))
    Console().print(table)
