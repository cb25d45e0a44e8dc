"""The `hsframe` command line. Heavy libraries (torch, mlflow) are imported inside commands only."""
from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hsframe import __version__
from hsframe.cli_common import err_console, fail, plugins_reporting_problems
from hsframe.errors import HsframeError



def _plugins(report_problems: bool = True):
    if report_problems:
        return plugins_reporting_problems()
    from hsframe.plugins import get_plugins

    return get_plugins()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hsframe")
def cli() -> None:
    """hsframe: train, evaluate and compare hyperspectral and volumetric models, tracked in MLflow."""


@cli.command()
@click.option("--plugin", "-p", help="Model to train (see `hsframe plugins`). Default: hybridsn.")
@click.option("--dataset", "-d", help="Registered dataset name, or a data file / folder: a cube (.mat, ENVI, .h5, .npy/.npz, "
              "GeoTIFF), volumes, a label volume's image (NIfTI) or frames (see data.layout). Default: synthetic-pines.")
@click.option("--labels", type=click.Path(dir_okay=False), help="Label file (map, volume, per-frame) for a --dataset given as a path.")
@click.option("--preset", help="Named recipe, e.g. 'paper' (the published HybridSN recipe).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config key, e.g. --set train.epochs=5. Repeatable.")
@click.option("--seed", type=int, help="Seed for split, weights and shuffling (same as --set seed=N).")
@click.option("--seeds", help="Repeat over seeds, e.g. 0,1,2,3,4: one child MLflow run per seed under a parent with mean and std.")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps (same as --set train.device=...).")
@click.option("--tracking-uri", help="MLflow tracking store; default from mlflow.yml or MLFLOW_TRACKING_URI.")
@click.option("--summary-json", type=click.Path(dir_okay=False), help="Write run id, config and final metrics here as JSON.")
def run(plugin, dataset, labels, preset, config_file, sets, seed, seeds, device, tracking_uri, summary_json) -> None:
    """Train a model plugin, evaluate it on held-out samples (pixels, voxels, windows, volumes) and record the run in MLflow."""
    from hsframe.runner import build_config, execute, execute_seeds
    from hsframe.tracking import load_settings

    sets = list(sets)
    if dataset:
        sets.append(f"data.dataset={dataset}")
    if labels:
        sets.append(f"data.labels={labels}")
    if seed is not None:
        sets.append(f"seed={seed}")
    if device:
        sets.append(f"train.device={device}")
    console = Console()
    try:
        plugins = _plugins()
        cfg = build_config(plugins, plugin, preset, config_file, sets)
        settings = load_settings(uri=tracking_uri)
        if seeds:
            summary = execute_seeds(cfg, _seed_list(seeds), plugins, settings, console)
        else:
            summary = execute(cfg, plugins, settings, console)
    except HsframeError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console.print("Interrupted: the MLflow run was marked KILLED.")
        sys.exit(130)
    except Exception:
        err_console.print(traceback.format_exc(), highlight=False, markup=False)
        err_console.print("[bold red]The run crashed[/]: it was marked FAILED in MLflow, with this traceback as artifact error/traceback.txt.")
        sys.exit(1)
    if seeds:
        _print_seeds(console, summary)
    else:
        _print_summary(console, summary)
    if summary_json:
        Path(summary_json).write_text(summary.to_json())


def _print_summary(console: Console, s) -> None:
    unit = s.extra.get("unit", "pixels")
    table = Table(title=f"{s.plugin} on {s.dataset}: test {unit} ({s.counts['test']})", show_lines=False)
    table.add_column("class", justify="right")
    table.add_column("name")
    table.add_column("test px" if unit == "pixels" else f"test {unit}", justify="right")
    table.add_column("accuracy", justify="right")
    for row in s.per_class:
        acc = "-" if row["accuracy"] != row["accuracy"] else f"{row['accuracy']:.4f}"
        table.add_row(str(row["class"]), row["name"], str(row["test_pixels"]), acc)
    table.add_section()
    for key, label in (("test_oa", "OA"), ("test_aa", "AA"), ("test_kappa", "kappa")):
        table.add_row("", f"[bold]{label}[/]", "", f"[bold]{s.metrics[key]:.4f}[/]")
    console.print(table)
    console.print(f"wall time {s.seconds:.1f}s on {s.device}; best validation epoch {s.extra['best_epoch']}", highlight=False)
    console.print(f"MLflow run id: [bold]{s.run_id}[/] (store {s.tracking_uri})", highlight=False)
    console.print(f"Open the UI:   {s.ui_command}", highlight=False, soft_wrap=True)


@cli.command()
@click.option("--run", "run_id", required=True, help="MLflow run id of a finished `hsframe run`.")
@click.option("--dataset", "-d", required=True, help="Registered dataset name, or a cube file.")
@click.option("--labels", type=click.Path(dir_okay=False), help="Label-map file to show beside the prediction.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder. Default: predictions/<run id>/<dataset>.")
@click.option("--log", "log_to_run", is_flag=True, help="Also log the map to the run's artifacts (predictions/<dataset>/).")
@click.option("--tracking-uri", help="MLflow tracking store; default from mlflow.yml or MLFLOW_TRACKING_URI.")
def predict(run_id, dataset, labels, out_dir, log_to_run, tracking_uri) -> None:
    """Classify every pixel of a scene with a logged run's model: PNG map with legend and .npy array."""
    from hsframe.predict import predict_run
    from hsframe.tracking import load_settings

    console = Console()
    out_dir = out_dir or str(Path("predictions") / run_id / Path(dataset).name)
    try:
        result = predict_run(run_id, dataset, labels, out_dir, _plugins(), load_settings(uri=tracking_uri), console, log_to_run)
    except HsframeError as exc:
        fail(str(exc))
    console.print(f"Predicted {result.dataset} with run {result.run_id} ({result.how}); pixels per class: {result.counts}", highlight=False)
    for f in result.files:
        console.print(f"wrote {f}", highlight=False)
    if log_to_run:
        console.print(f"logged to run {result.run_id} under predictions/{result.dataset}/", highlight=False)


def _seed_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise HsframeError(f"--seeds takes integers separated by commas, e.g. 0,1,2; got '{text}'") from None


def _print_seeds(console: Console, s) -> None:
    table = Table(title=f"{s.runs[0].plugin} on {s.runs[0].dataset}: {len(s.runs)} seeds")
    for col in ("seed", "run id", "OA", "AA", "kappa"):
        table.add_column(col, justify="right")
    for r in s.runs:
        table.add_row(str(r.config["seed"]), r.run_id, *(f"{r.metrics[m]:.4f}" for m in ("test_oa", "test_aa", "test_kappa")))
    table.add_section()
    table.add_row("mean ± std", "", *(f"{s.mean[m]:.4f} ± {s.std[m]:.4f}" for m in ("test_oa", "test_aa", "test_kappa")))
    console.print(table)
    console.print(f"MLflow parent run id: [bold]{s.parent_run_id}[/] (store {s.runs[0].tracking_uri})", highlight=False)
    console.print(f"Open the UI:   {s.runs[0].ui_command}", highlight=False, soft_wrap=True)


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: name, package, version, models, hooks, errors.")
def plugins_cmd(as_json: bool) -> None:
    """List installed plugins, the models and datasets they register, and any that failed to load."""
    try:
        plugins = _plugins(report_problems=False)
    except HsframeError as exc:
        fail(str(exc))
    if as_json:
        out = {
            "plugins": [
                {"name": i.name, "package": i.package, "version": i.version, "models": i.models,
                 "datasets": i.datasets, "hooks": i.hooks}
                for i in plugins.info.values()
            ],
            "errors": [{"plugin": p.plugin, "package": p.package, "error": p.message} for p in plugins.problems],
        }
        click.echo(json.dumps(out, indent=2))
        return
    console = Console()
    table = Table(title="hsframe plugins")
    for col in ("plugin", "package", "version", "models", "datasets", "hooks"):
        table.add_column(col)
    for i in plugins.info.values():
        table.add_row(i.name, i.package, i.version, ", ".join(i.models) or "-", ", ".join(i.datasets) or "-", ", ".join(i.hooks))
    console.print(table)
    for p in plugins.problems:
        console.print(f"[red]error[/] {p}", highlight=False)


# Command groups that live in modules of their own.
from hsframe.cli_compare import compare, ui  # noqa: E402
from hsframe.cli_datasets import datasets  # noqa: E402
from hsframe.cli_equivalence import equivalence  # noqa: E402
from hsframe.cli_inspect import inspect  # noqa: E402
from hsframe.cli_plugin import plugin  # noqa: E402

for command in (compare, datasets, equivalence, inspect, plugin, ui):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="hsframe")
