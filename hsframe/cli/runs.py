"""`hsframe runs` (the runs of an experiment, stale ones flagged) and `hsframe runs cleanup` (end them KILLED).

The logic lives in hsframe.runs; no torch is imported. Errors are one message with exit code 2 (hsframe.cli.common.error_boundary).
"""
from __future__ import annotations

from typing import Any, Callable

import click
from rich.console import Console
from rich.table import Table

from hsframe.cli.common import Group
from hsframe.errors import HsframeError
from hsframe.runs import DEFAULT_STALE_AFTER, RunRow


def _store_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--experiment, --stale-after and --tracking-uri, on the group and on `cleanup` alike."""
    f = click.option("--tracking-uri", help="MLflow tracking store; default from mlflow.yml or MLFLOW_TRACKING_URI.")(f)
    f = click.option("--stale-after", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
                     help=f"A RUNNING run is stale when its last heartbeat (or, without one, its start) is older than "
                          f"this. Default {DEFAULT_STALE_AFTER:g}; choose more than your longest epoch.")(f)
    return click.option("--experiment", "-e", help="MLflow experiment. Default: `experiment` in mlflow.yml (hsframe).")(f)


def _rows(ctx: click.Context, experiment: str | None, tracking_uri: str | None,
          stale_after: float | None) -> tuple[str, str, float, list[RunRow]]:
    """``(tracking URI, experiment, stale-after seconds, rows)``; the subcommand's options fall back to the group's."""
    from hsframe.runs import list_runs
    from hsframe.tracking import load_settings

    group = ctx.obj or {}
    settings = load_settings(uri=tracking_uri or group.get("tracking_uri"))
    experiment = experiment or group.get("experiment") or settings.experiment
    after = stale_after if stale_after is not None else group.get("stale_after")
    after = DEFAULT_STALE_AFTER if after is None else after
    return settings.tracking_uri, experiment, after, list_runs(settings.tracking_uri, experiment, after)


def _table(title: str, rows: list[RunRow]) -> Table:
    from hsframe.runs import format_time

    table = Table(title=title)
    table.add_column("run id", no_wrap=True)  # whole, to paste into `hsframe run --resume`
    for col in ("name", "model", "dataset"):
        table.add_column(col, overflow="fold")
    table.add_column("status", no_wrap=True)
    for col in ("started (UTC)", "heartbeat (UTC)"):
        table.add_column(col, overflow="fold")
    for r in rows:
        status = f"{r.status} [bold red](stale)[/]" if r.stale else r.status
        table.add_row(r.run_id, r.name, r.model, r.dataset, status, format_time(r.start), format_time(r.heartbeat))
    return table


@click.group("runs", cls=Group, invoke_without_command=True)
@_store_options
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Newest runs shown; 0 shows all.")
@click.pass_context
def runs(ctx, experiment, stale_after, tracking_uri, limit) -> None:
    """List the runs of an experiment, newest first; RUNNING runs whose process is gone are marked stale.

    A run sets the hsframe.heartbeat tag when it starts and after every epoch. Resume a stale or
    killed run with `hsframe run --resume RUN_ID`, or end stale runs with `hsframe runs cleanup`.
    """
    ctx.obj = {"experiment": experiment, "tracking_uri": tracking_uri, "stale_after": stale_after}
    if ctx.invoked_subcommand is not None:
        return
    _, experiment, after, rows = _rows(ctx, None, None, None)
    shown = rows if limit == 0 else rows[:limit]
    console = Console()
    n_stale = sum(r.stale for r in rows)
    console.print(_table(f"{experiment}: {len(rows)} run(s), {n_stale} stale (no heartbeat for {after:g} s)", shown))
    if len(shown) < len(rows):
        console.print(f"{len(rows) - len(shown)} older run(s) not shown; --limit 0 shows all", highlight=False)
    if n_stale:
        console.print("End the stale runs with `hsframe runs cleanup`, or continue one with `hsframe run --resume RUN_ID`.",
                      highlight=False, markup=False)


@runs.command("cleanup")
@_store_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask before marking the stale runs KILLED.")
@click.option("--dry-run", is_flag=True, help="Only list the runs that would be marked KILLED.")
@click.pass_context
def cleanup_cmd(ctx, experiment, stale_after, tracking_uri, yes, dry_run) -> None:
    """Mark stale runs (RUNNING, no heartbeat for --stale-after seconds) KILLED, with the reason as tag hsframe.end.

    Their checkpoints stay: `hsframe run --resume RUN_ID` still continues one afterwards.
    """
    from hsframe.runs import cleanup

    if yes and dry_run:
        raise HsframeError("--yes and --dry-run contradict each other; pass one")
    uri, experiment, after, rows = _rows(ctx, experiment, tracking_uri, stale_after)
    stale = [r for r in rows if r.stale]
    console = Console()
    if not stale:
        console.print(f"{experiment}: no stale runs (RUNNING without a heartbeat for {after:g} s)", highlight=False)
        return
    console.print(_table(f"{experiment}: {len(stale)} stale run(s)", stale))
    if dry_run:
        console.print("dry run: nothing changed", highlight=False)
        return
    if not yes and not click.confirm(f"Mark {len(stale)} run(s) KILLED?", default=False):
        console.print("nothing changed", highlight=False)
        return
    cleanup(uri, stale)
    console.print(f"{len(stale)} run(s) marked KILLED", highlight=False)
