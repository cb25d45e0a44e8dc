"""`hsframe compare` (a results table from the tracking store) and `hsframe ui` (the MLflow UI).

The logic lives in hsframe.compare and hsframe.ui; these commands only format and report. Neither
imports torch. Errors are one message with exit code 2 (hsframe.cli.common.error_boundary).
"""
from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hsframe.cli.common import Command, err_console
from hsframe.errors import HsframeError
from hsframe.output_paths import check_output


@click.command("compare", cls=Command)
@click.option("--experiment", "-e", help="MLflow experiment to compare. Default: `experiment` in mlflow.yml (hsframe).")
@click.option("--filter", "filter_string", default="", metavar="EXPR",
              help="MLflow search filter, e.g. \"params.dataset = 'synthetic-pines' and metrics.test_oa > 0.9\".")
@click.option("--metric", "-m", default="test_oa", show_default=True, help="Metric to sort by (best first) and plot.")
@click.option("--by", "by_keys", multiple=True, metavar="KEY",
              help="Group by these keys instead of by config: a run param (model, dataset, split, lr, patch_size) or a "
                   "config key (train.lr or cfg.train.lr). Repeatable. Pools runs of different configs.")
@click.option("--best", is_flag=True, help="Of each sweep, show only the group of its best trial (every run of that config).")
@click.option("--plot", "plot_path", type=click.Path(), metavar="FILE", help="Write a bar chart (mean ± std) to this PNG/PDF/SVG file.")
@click.option("--csv", "csv_path", type=click.Path(), metavar="FILE", help="Write the table as CSV to this file.")
@click.option("--markdown", is_flag=True, help="Print a GitHub markdown table (for papers and READMEs) instead of the rich table.")
@click.option("--tracking-uri", help="MLflow tracking store; default from mlflow.yml or MLFLOW_TRACKING_URI.")
def compare(experiment, filter_string, metric, by_keys, best, plot_path, csv_path, markdown, tracking_uri) -> None:
    """Compare recorded runs: one row per config, mean ± std over its seeds.

    A group is every run whose resolved config (its cfg.* params) is identical except for the seed,
    run name, experiment and device. The `config` column shows the config keys that differ between
    groups; keys equal in every group are not shown. A seed run twice in one config counts once (its
    latest run; the note names the others). --by KEY regroups by the given keys instead.

    Only FINISHED runs count; pruned sweep trials are counted apart. The parent run of
    `hsframe run --seeds` stands for its child runs (one per seed), a sweep's parent for its trials,
    so nothing is counted twice. std is the sample std (ddof=1); '-' for one run.
    """
    from hsframe.compare import compare_runs, format_differs, plot, to_markdown, write_csv
    from hsframe.tracking import load_settings

    check_output("--csv", csv_path)
    check_output("--plot", plot_path, suffixes=_plot_suffixes() if plot_path else ())
    settings = load_settings(uri=tracking_uri)
    experiment = experiment or settings.experiment
    result = compare_runs(settings.tracking_uri, experiment, filter_string, metric, list(by_keys) if by_keys else None, best=best)
    written = []
    if csv_path:
        written.append(("CSV", write_csv(result, csv_path)))
    if plot_path:
        written.append(("plot", plot(result, plot_path)))
    if markdown:
        click.echo(to_markdown(result), nl=False)
        # stderr: stdout stays a clean markdown table to paste or redirect
        for note in result.notes():
            err_console.print(note, highlight=False, markup=False)
        for what, path in written:
            err_console.print(f"{what} written to {path}", highlight=False)
        return
    console = Console()
    n_runs = sum(r.n for r in result.rows)
    how = f"by {', '.join(result.by)}" if result.by else "one per config"
    title = (f"{result.experiment}: {n_runs} finished run(s) in {len(result.rows)} group(s) ({how}), "
             f"mean ± sample std over seeds, best {result.metric} first")
    table = Table(title=title)
    for key in result.group_by:
        table.add_column(key, overflow="fold", min_width=7)  # narrow terminals: fold text, keep it legible
    if result.differing:
        table.add_column("config", overflow="fold", min_width=10)
    table.add_column("n", justify="right")
    table.add_column("seeds", justify="right", overflow="fold")
    for m in result.metrics:
        table.add_column(m, justify="right", min_width=8)
    for row in result.rows:
        config = [format_differs(row.differs)] if result.differing else []
        table.add_row(*(escape(row.key[k]) for k in result.group_by), *map(escape, config), str(row.n), ",".join(row.seeds),
                      *(row.stats[m].format() for m in result.metrics))  # values such as [0, 1] are text, not markup
    console.print(table)
    for note in result.notes():
        console.print(note, highlight=False, markup=False, soft_wrap=True)
    for what, path in written:
        console.print(f"{what} written to {path}", highlight=False, markup=False)


@click.command("ui", cls=Command, hold_warnings=False)  # runs until Ctrl-C
@click.option("--port", type=int, default=0, show_default=True, help="Port to listen on; 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind. The default is reachable from this machine only; 0.0.0.0 exposes the UI to the network.")
@click.option("--tracking-uri", help="MLflow tracking store; default from mlflow.yml or MLFLOW_TRACKING_URI.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds to wait for the server to answer.")
def ui(port, host, tracking_uri, timeout) -> None:
    """Open the MLflow UI on the tracking store in mlflow.yml; runs until Ctrl-C (or SIGTERM / SIGHUP).

    Runs of every model line up in it: select runs in the experiment's table and press Compare.
    """
    from pathlib import Path

    from hsframe.signals import interruption, signals_as_interrupts
    from hsframe.stores import require_store
    from hsframe.tracking import load_settings
    from hsframe.ui import mlflow_server

    console = Console()
    try:
        # SIGTERM and SIGHUP raise as Ctrl-C does, so that leaving mlflow_server stops the server's process
        # group; by default they would end this process at once and leave the server serving.
        with signals_as_interrupts():
            settings = load_settings(uri=tracking_uri)
            require_store(settings.tracking_uri)
            location = settings.artifact_location
            artifacts = location if "://" in location else str(Path(location).resolve())
            with mlflow_server(settings.tracking_uri, host, port, timeout=timeout, artifacts_destination=artifacts) as server:
                console.print(f"MLflow UI: [bold]{server.url}[/]  (store {settings.tracking_uri})", highlight=False, soft_wrap=True)
                runs_page = _runs_page(settings.tracking_uri, settings.experiment, server.url)
                if runs_page:
                    console.print(f"Runs of experiment '{settings.experiment}': {runs_page}", highlight=False, soft_wrap=True)
                console.print("Press Ctrl-C to stop the server.", highlight=False)
                server.process.wait()  # returns only if the server dies on its own
                raise HsframeError(f"the MLflow server stopped by itself (exit code {server.process.returncode}). "
                                   f"Its output ends with:\n{server.log_tail()}")
    except KeyboardInterrupt as exc:
        # mlflow_server has already stopped the server (its whole process group). Being stopped is how a
        # server ends, hence exit code 0 for a signal too.
        console.print(f"MLflow UI stopped ({interruption(exc)}).", highlight=False)


def _plot_suffixes() -> set[str]:
    """The file types matplotlib writes (.png, .pdf, .svg, ...), which it picks by the name's suffix."""
    from matplotlib.backend_bases import FigureCanvasBase

    return {f".{ext}" for ext in FigureCanvasBase.get_supported_filetypes()}


def _runs_page(uri: str, experiment: str, url: str) -> str | None:
    """The experiment's training-runs page: MLflow 3's UI otherwise opens on its GenAI overview."""
    import contextlib

    with contextlib.suppress(Exception):  # a convenience link only; the UI itself is already up
        import mlflow

        exp = mlflow.MlflowClient(uri).get_experiment_by_name(experiment)
        if exp is not None:
            return f"{url}/#/experiments/{exp.experiment_id}/runs?workflowType=machine_learning"
    return None
