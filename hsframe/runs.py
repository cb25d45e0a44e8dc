"""`hsframe runs`: the runs of an experiment, and which RUNNING ones were left by a dead process.

A run sets the ``HEARTBEAT_TAG`` tag (seconds since the epoch) when it starts and after every
epoch. A process killed hard (SIGKILL, power loss, a cluster's time limit) cannot end its run, which
then stays RUNNING forever; such a run is *stale* once its last sign of life is older than
``stale_after`` seconds. A run's last sign of life is the newest of its heartbeat (its start time
when it has none) and the heartbeats and end times of its child runs: the parent of repeated seeds
or of a sweep trains nothing itself and is alive while its children are.

No torch here: listing and cleaning up is fast.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from hsframe.errors import HsframeError
from hsframe.recording.base import END_TAG, HEARTBEAT_TAG, KILLED

DEFAULT_STALE_AFTER = 600.0
RUNNING = "RUNNING"


@dataclass
class RunRow:
    """One run as listed; times are seconds since the epoch (UTC), ``heartbeat`` None when never set."""

    run_id: str
    name: str
    model: str
    dataset: str
    status: str
    start: float
    heartbeat: float | None
    parent_id: str | None
    last_alive: float  # the newest sign of life, its children's included
    stale: bool


def is_stale(status: str, last_alive: float, now: float, stale_after: float) -> bool:
    """A RUNNING run whose last sign of life is more than ``stale_after`` seconds old."""
    return status == RUNNING and now - last_alive > stale_after


def format_time(seconds: float | None) -> str:
    """``2026-01-31 12:00:00`` (UTC), or ``-``."""
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def list_runs(tracking_uri: str, experiment: str, stale_after: float = DEFAULT_STALE_AFTER,
              now: float | None = None) -> list[RunRow]:
    """Every run of ``experiment``, newest first, each marked stale or not as of ``now`` (default: now)."""
    import mlflow

    from hsframe.stores import require_store

    if stale_after < 0:
        raise HsframeError(f"--stale-after must be a number of seconds >= 0, got {stale_after:g}")
    require_store(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments())
        listed = ", ".join(f"'{n}'" for n in names) if names else "none"
        raise HsframeError(f"unknown experiment '{experiment}'. Experiments in this store: {listed}. "
                           f"Pick one with --experiment NAME.")
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs([exp.experiment_id], max_results=1000, page_token=token, order_by=["attributes.start_time DESC"])
        runs.extend(page)
        token = page.token
        if not token:
            break
    return rows(runs, stale_after, time.time() if now is None else now)


def rows(runs: list[Any], stale_after: float, now: float) -> list[RunRow]:
    """MLflow ``Run`` objects as :class:`RunRow`; a parent's life includes its children's (any depth)."""
    own: dict[str, float] = {}
    parent: dict[str, str | None] = {}
    for r in runs:
        beat = _heartbeat(r)
        alive = beat if beat is not None else r.info.start_time / 1000
        if r.info.end_time and r.info.status != RUNNING:
            alive = max(alive, r.info.end_time / 1000)
        own[r.info.run_id] = alive
        parent[r.info.run_id] = r.data.tags.get("mlflow.parentRunId")
    alive = dict(own)
    for run_id, value in own.items():  # push each run's life up to all its ancestors
        seen, up = {run_id}, parent[run_id]
        while up is not None and up in alive and up not in seen:
            alive[up] = max(alive[up], value)
            seen.add(up)
            up = parent[up]
    out = []
    for r in runs:
        i, tags, params = r.info, r.data.tags, r.data.params
        out.append(RunRow(
            run_id=i.run_id, name=i.run_name or "", model=tags.get("model") or params.get("model", "-"),
            dataset=tags.get("dataset") or params.get("dataset", "-"), status=i.status, start=i.start_time / 1000,
            heartbeat=_heartbeat(r), parent_id=parent[i.run_id], last_alive=alive[i.run_id],
            stale=is_stale(i.status, alive[i.run_id], now, stale_after)))
    return out


def _heartbeat(run: Any) -> float | None:
    value = run.data.tags.get(HEARTBEAT_TAG)
    try:
        return float(value) if value is not None else None
    except ValueError:  # a hand-edited tag: fall back to the start time
        return None


def end_reason(row: RunRow) -> str:
    """The ``END_TAG`` a stale run is marked KILLED with."""
    since = f"{format_time(row.last_alive)} UTC"
    return f"stale: no heartbeat since {since}" if row.heartbeat is not None else f"stale: no heartbeat since it started ({since})"


def cleanup(tracking_uri: str, stale: list[RunRow]) -> None:
    """Mark each of the ``stale`` runs KILLED, ended at its last sign of life, with the reason as ``END_TAG``."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    for row in stale:
        client.set_tag(row.run_id, END_TAG, end_reason(row))
        client.set_terminated(row.run_id, KILLED, end_time=int(row.last_alive * 1000))
