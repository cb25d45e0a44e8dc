"""`hsframe sweep`: an Optuna study over a YAML search space, each trial a child MLflow run of one parent."""
from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hsframe.cli.common import Command, plugins_reporting_problems
from hsframe.output_paths import check_output


def _interrupted(run_id: str | None) -> str:
    return "the running trials were marked KILLED (their Optuna trials FAIL). Run the same command again to continue the study."


def _crashed(run_id: str | None) -> str:
    return "[bold red]The sweep crashed[/]; run the same command again to continue the study."


@click.command(cls=Command, interrupted=_interrupted, crashed=_crashed, hold_warnings=False)
@click.option("--model", "-m", "--plugin", "-p", "model", help="Model to tune (see `hsframe plugins`). Default: hybridsn.")
@click.option("--space", "space_file", required=True, type=click.Path(dir_okay=False),
              help="YAML search space over config keys, e.g. `train.lr: {log_float: [1.0e-4, 1.0e-2]}`, "
                   "`data.patch_size: {choice: [9, 15, 25]}`; kinds: float, log_float, int, log_int, choice.")
@click.option("--trials", "-n", type=int, required=True, help="Finished trials (complete or pruned) the study should hold.")
@click.option("--dataset", "-d", help="Dataset name or path, as for `hsframe run`.")
@click.option("--preset", help="Named recipe the trials start from, e.g. 'paper'.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML config file the trials start from.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Fix a config key for every trial. Repeatable.")
@click.option("--metric", default="val_oa", show_default=True, help="Validation metric to optimize (per epoch): val_oa or train_loss.")
@click.option("--study", "study_name", help="Study name. Default: derived from the model, dataset, config and space, so the "
              "same command continues the same study.")
@click.option("--storage", help="Optuna storage URL shared by all workers, e.g. postgresql://USER:PASSWORD@HOST/optuna. "
              "Default: optuna.db beside a SQLite tracking store.")
@click.option("--workers", "-w", type=int, default=1, show_default=True, help="Local worker processes.")
@click.option("--sampler", type=click.Choice(["tpe", "random"]), default="tpe", show_default=True)
@click.option("--pruner", type=click.Choice(["median", "none"]), default="median", show_default=True,
              help="median: stop a trial whose validation metric is below the median of earlier trials at the same epoch.")
@click.option("--tracking-uri", help="MLflow tracking store; default from mlflow.yml or MLFLOW_TRACKING_URI.")
@click.option("--summary-json", type=click.Path(), metavar="FILE", help="Write the study's trials and best trial here as JSON.")
@click.option("--best-config", type=click.Path(), metavar="FILE", help="Write the best trial's config here as YAML "
              "(as the parent run's best_config.yaml artifact), to run with `hsframe run --config`.")
def sweep(model, space_file, trials, dataset, preset, config_file, sets, metric, study_name, storage, workers, sampler, pruner,
          tracking_uri, summary_json, best_config) -> None:
    """Tune hyperparameters on validation data: each trial is one run under one parent sweep run.

    Trials never see the test split for selection; the parent run records the best trial's config
    as best_config.yaml (run it with `hsframe run --config best_config.yaml`) and its test metrics.
    Ctrl-C stops cleanly; the same command again continues the study. Point --storage (and the
    tracking store) of several machines at one PostgreSQL server and they share the study.
    """
    from hsframe.study.sweep import best_config_text, trial_counts
    from hsframe.study.sweep import sweep as sweep_api

    sets = list(sets) + ([f"data.dataset={dataset}"] if dataset else [])
    console = Console()
    check_output("--summary-json", summary_json)  # now, not after hours of trials
    check_output("--best-config", best_config)
    summary = sweep_api(space_file, trials=trials, model=model, preset=preset, config=config_file, sets=sets, metric=metric,
                        study=study_name, storage=storage, workers=workers, sampler=sampler, pruner=pruner,
                        tracking_uri=tracking_uri, plugins=plugins_reporting_problems(), console=console)
    table = Table(title=f"study {summary.study}: {trial_counts(summary)}; {summary.metric} ({summary.direction})")
    for col in ("trial", "state", summary.metric, "values", "run id"):
        table.add_column(col, justify="right" if col in ("trial", summary.metric) else "left", overflow="fold")
    for t in summary.trials:
        best = summary.best is not None and t.number == summary.best.number
        table.add_row(str(t.number) + (" *" if best else ""), t.state.lower(), "-" if t.value is None else f"{t.value:.4f}",
                      ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items()),
                      t.run_id or t.note[:60])
    console.print(table)
    if summary.best is not None:
        tests = ", ".join(f"{k} {v:.4f}" for k, v in summary.best_test_metrics.items())
        console.print(f"best trial {summary.best.number}: {summary.metric} {summary.best.value:.4f}; its test figures: {tests}",
                      highlight=False)
    where = "joined; the parent run is held by another command" if summary.joined else "artifact best_config.yaml"
    console.print(f"parent run {summary.parent_run_id} ({where}); {summary.seconds:.1f}s", highlight=False)
    if summary_json:
        Path(summary_json).write_text(summary.to_json())
    if best_config and summary.best is not None:
        Path(best_config).write_text(best_config_text(summary))
        console.print(f"best config written to {best_config}", highlight=False)
