"""`hsframe run`: one model trained, evaluated and recorded (or one run per seed), through the Python API's engine."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hsframe.cli.common import Command, plugins_reporting_problems
from hsframe.errors import HsframeError
from hsframe.output_paths import check_output


def _other_rank() -> str | None:
    """What a data-parallel rank other than 0 says of the record: it opens no MLflow run, rank 0 holds the group's one."""
    from hsframe.distributed import World

    world = World.from_env()
    if world.parallel and not world.main:
        return f"rank {world.rank} of {world.size} records nothing itself: rank 0 holds the group's one MLflow run, which ends FAILED."
    return None


def _interrupted(run_id: str | None) -> str:
    if run_id is None:
        return _other_rank() or "no MLflow run had started; nothing was recorded."
    return f"MLflow run {run_id} was marked KILLED; `hsframe run --resume RUN_ID` continues it from its last epoch."


def _crashed(run_id: str | None) -> str:
    if run_id is None:
        other = _other_rank()
        if other:
            return f"[bold red]This rank crashed[/]: {other}"
        return "[bold red]The run crashed[/] before an MLflow run was opened; nothing was recorded."
    return f"[bold red]The run crashed[/]: MLflow run {run_id} was marked FAILED, with this traceback as artifact error/traceback.txt."


@click.command(cls=Command, interrupted=_interrupted, crashed=_crashed, hold_warnings=False)
@click.option("--model", "-m", "--plugin", "-p", "model", help="Model to train (see `hsframe plugins`). Default: hybridsn. "
              "--plugin is an alias.")
@click.option("--dataset", "-d", help="Registered dataset name, or a data file / folder: a cube (.mat, ENVI, .h5, .npy/.npz, "
              "GeoTIFF), volumes, a label volume's image (NIfTI) or frames (see data.layout). Default: synthetic-pines.")
@click.option("--labels", type=click.Path(dir_okay=False), help="Label file (map, volume, per-frame) for a --dataset given as a path.")
@click.option("--preset", help="Named recipe, e.g. 'paper' (the published HybridSN recipe).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config key, e.g. --set train.epochs=5. Repeatable.")
@click.option("--seed", type=int, help="Seed for split, weights and shuffling (same as --set seed=N).")
@click.option("--seeds", help="Repeat over seeds, e.g. 0,1,2,3,4: one child MLflow run per seed under a parent with mean and std.")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps (same as --set train.device=...).")
@click.option("--strict-labels", is_flag=True, help="Refuse label ids other than 1..K instead of renumbering them "
              "(same as --set data.strict_labels=true).")
@click.option("--tracking-uri", help="MLflow tracking store; default from mlflow.yml or MLFLOW_TRACKING_URI.")
@click.option("--summary-json", type=click.Path(), metavar="FILE", help="Write run id, config and final metrics here as JSON.")
@click.option("--nproc-per-node", type=click.IntRange(min=1), help="Train data-parallel on N processes (torchrun): one per GPU "
              "(NCCL), or N gloo processes on the CPU. Rank 0 records the one MLflow run.")
@click.option("--nnodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="Nodes of a multi-node run; run the same command on each, with the same --rdzv-endpoint.")
@click.option("--rdzv-endpoint", metavar="HOST:PORT", help="Rendezvous of a multi-node run (torchrun's c10d), reachable from every node.")
@click.option("--resume", metavar="RUN_ID", help="Continue a run that did not finish (killed, crashed) after its last saved "
              "epoch, in the same MLflow run, with its logged config. See `hsframe runs`.")
def run(model, dataset, labels, preset, config_file, sets, seed, seeds, device, strict_labels, tracking_uri, summary_json,
        nproc_per_node, nnodes, rdzv_endpoint, resume) -> None:
    """Train a model, evaluate it on held-out samples (pixels, voxels, windows, volumes) and record the run in MLflow.

    Each epoch saves a checkpoint to ./checkpoints/RUN_ID/last.pt (train.checkpoint_dir), deleted when
    the run finishes; `hsframe run --resume RUN_ID` continues from it.
    """
    from hsframe.distributed import World, launch
    from hsframe.engine import api

    parallel = (nproc_per_node or 1) * nnodes > 1 and not World.from_env().parallel
    sets = list(sets)
    for given, key in ((dataset, "data.dataset"), (labels, "data.labels"), (seed, "seed"), (device, "train.device")):
        if given is not None and given != "":
            sets.append(f"{key}={given}")
    if strict_labels:
        sets.append("data.strict_labels=true")
    console = Console()
    check_output("--summary-json", summary_json)  # now, not after the training
    plugins = plugins_reporting_problems()
    if parallel:  # checked here, then the ranks start and each runs this command again
        _check_parallel(config_file, model, preset, sets, resume, seeds, plugins)
        raise SystemExit(launch(nproc_per_node or 1, nnodes, rdzv_endpoint, sys.argv[1:], device))
    summary = api.run(config_file, model=model, preset=preset, sets=sets, seeds=seed_list(seeds) if seeds else None,
                      tracking_uri=tracking_uri, plugins=plugins, console=console, resume=resume)
    if not World.from_env().main:  # rank 0 reports the run
        return
    headline = _headline(plugins)
    if seeds:
        _print_seeds(console, summary, headline)
    else:
        _print_summary(console, summary, headline)
    if summary_json:
        Path(summary_json).write_text(summary.to_json())


def _check_parallel(config_file, model, preset, sets, resume, seeds, plugins) -> None:
    """What would fail on every rank fails once, before torchrun starts any: a resume, seeds, an estimator model, a bad config."""
    from hsframe.engine import api

    if seeds:
        raise HsframeError("--seeds runs seeds one at a time in one process; start one data-parallel run per seed "
                           "(--seed N with --nproc-per-node) or drop --nproc-per-node")
    if resume:
        raise HsframeError(f"--resume {resume} continues a run in one process; drop --nproc-per-node to resume it")
    cfg = api.load_config(config_file, model=model, preset=preset, sets=sets, plugins=plugins)
    spec = plugins.model(cfg.model)
    if not spec.fitting().parallel:
        raise HsframeError(f"model '{spec.name}' is fitted in one process ({spec.package}); run it without --nproc-per-node")


def seed_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise HsframeError(f"--seeds takes integers separated by commas, e.g. 0,1,2; got '{text}'") from None


def _headline(plugins) -> list[tuple[str, str]]:
    """``(metric key, column title)`` of the registry's headline metrics: OA, AA, kappa and any a plugin adds."""
    from hsframe.metrics import headline

    return [(m.key, m.title) for m in headline(plugins.metrics)]


def _print_summary(console: Console, s, headline: list[tuple[str, str]]) -> None:
    unit = s.unit
    table = Table(title=f"{s.model} on {s.dataset}: test {unit} ({s.counts['test']})", show_lines=False)
    table.add_column("class", justify="right")
    table.add_column("name")
    table.add_column("test px" if unit == "pixels" else f"test {unit}", justify="right")
    for column in ("accuracy", "precision", "F1"):
        table.add_column(column, justify="right")
    for row in s.per_class:
        # NaN (undefined: no test samples, never predicted) shows as "-"
        table.add_row(str(row["class"]), row["name"], str(row["test_pixels"]),
                      *("-" if v != v else f"{v:.4f}" for v in (row["accuracy"], row["precision"], row["f1"])))
    table.add_section()
    for key, label in headline:
        table.add_row("", f"[bold]{label}[/]", "", f"[bold]{s.metrics[key]:.4f}[/]", "", "")
    console.print(table)
    console.print(f"wall time {s.seconds:.1f}s on {s.device}; best validation epoch {s.best_epoch}", highlight=False)
    console.print(f"MLflow run id: [bold]{s.run_id}[/] (store {s.tracking_uri})", highlight=False)
    console.print(f"Open the UI:   {s.ui_command}", highlight=False, soft_wrap=True)


def _print_seeds(console: Console, s, headline: list[tuple[str, str]]) -> None:
    table = Table(title=f"{s.runs[0].model} on {s.runs[0].dataset}: {len(s.runs)} seeds")
    for col in ("seed", "run id", *(label for _, label in headline)):
        table.add_column(col, justify="right")
    for r in s.runs:
        table.add_row(str(r.config["seed"]), r.run_id, *(f"{r.metrics[k]:.4f}" for k, _ in headline))
    table.add_section()
    table.add_row("mean ± std", "", *(f"{s.mean[k]:.4f} ± {s.std[k]:.4f}" for k, _ in headline))
    console.print(table)
    console.print(f"MLflow parent run id: [bold]{s.parent_run_id}[/] (store {s.runs[0].tracking_uri})", highlight=False)
    console.print(f"Open the UI:   {s.runs[0].ui_command}", highlight=False, soft_wrap=True)
