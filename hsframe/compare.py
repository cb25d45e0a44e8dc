"""Compare recorded runs: one row per model x dataset x split, mean ± std over seeds.

Everything here returns plain data (dataclasses, lists, dicts); `hsframe compare` only formats it.
Kept free of torch: comparing runs never pays for the deep-learning stack.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from hsframe.errors import HsframeError
from hsframe.recording.base import PARENT_TAG

DEFAULT_METRIC = "test_oa"
GROUP_BY = ("model", "dataset", "split")
PARENT_RUN_ID = "mlflow.parentRunId"


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (ddof=1) of one metric over the runs of a group."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return sum(self.values) / self.n if self.values else None

    @property
    def std(self) -> float | None:
        """Sample std; None for fewer than two runs (shown as '-': one run says nothing about spread)."""
        if self.n < 2:
            return None
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (self.n - 1))

    def format(self, digits: int = 4) -> str:
        if self.mean is None:
            return "-"
        std = "-" if self.std is None else f"{self.std:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {std}"


@dataclass
class CompareRow:
    """One group of runs: the same model, dataset and split recipe, over seeds."""

    key: dict[str, str]              # group-by param -> value, e.g. {"model": "hybridsn", ...}
    run_ids: list[str]
    seeds: list[str]
    stats: dict[str, Stat]           # metric -> Stat over the runs that logged it

    @property
    def n(self) -> int:
        return len(self.run_ids)

    def flat(self, metrics: Iterable[str]) -> dict[str, Any]:
        """A flat record (CSV, DataFrame): group keys, n, seeds, then ``<metric>_mean`` / ``_std``."""
        out: dict[str, Any] = dict(self.key)
        out["n"] = self.n
        out["seeds"] = " ".join(self.seeds)
        for m in metrics:
            stat = self.stats.get(m, Stat(()))
            out[f"{m}_mean"] = stat.mean
            out[f"{m}_std"] = stat.std
        out["run_ids"] = " ".join(self.run_ids)
        return out


@dataclass
class Comparison:
    experiment: str
    metric: str                      # the sort metric
    metrics: list[str]               # the metric columns, sort metric first
    group_by: list[str]
    rows: list[CompareRow]
    filter_string: str = ""
    skipped_parents: int = 0         # parent runs of --seeds, replaced by their children
    unfinished: int = 0              # matching runs left out because they are not FINISHED

    def records(self) -> list[dict[str, Any]]:
        return [r.flat(self.metrics) for r in self.rows]

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame(self.records())


def require_store(uri: str) -> None:
    """Refuse a sqlite store that does not exist: MLflow would silently create an empty one."""
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():
            raise HsframeError(
                f"no tracking store at {uri} ({db.resolve()} does not exist; relative paths are taken from the "
                f"current directory). Run `hsframe run` first, or point --tracking-uri / mlflow.yml at your store."
            )


def split_key(params: dict[str, str]) -> str:
    """The split recipe without the seed, so that the seeds of one recipe fall into one group.

    The logged ``split`` param describes one concrete split and names its seed (and, for blocks,
    seed-dependent counts), so the recipe comes from the ``cfg.split.*`` params instead.
    """
    def p(name: str) -> str | None:
        value = params.get(f"cfg.split.{name}")
        return None if value in (None, "None", "") else value

    method = p("method")
    if method is None:  # runs logged without the flattened config: strip the seed from the description
        text = params.get("split")
        return re.sub(r",?\s*seed -?\d+", "", text).strip() if text else "-"
    train = f"train {p('train_per_class')} px/class" if p("train_per_class") and method == "random" else f"train {p('train_fraction')}"
    parts = [method, train, f"val {p('val_fraction')}"]
    if method == "blocks":
        parts += [f"block {p('block_size')}", f"margin {p('margin') or 'patch/2'}"]
    elif method == "fixed":
        parts = [method, f"train map {Path(p('train_map') or '-').name}",
                 f"test map {Path(p('test_map')).name if p('test_map') else 'rest'}", f"val {p('val_fraction')}"]
    return ", ".join(parts)


def group_value(params: dict[str, str], name: str) -> str:
    if name == "split":
        return split_key(params)
    if name == "model" and "model" not in params:
        return params.get("plugin", "-")  # runs recorded before the param was named "model"
    return params.get(name, "-")


def _experiment(client: Any, name: str) -> Any:
    exp = client.get_experiment_by_name(name)
    if exp is None:
        names = sorted(e.name for e in client.search_experiments())
        listed = ", ".join(f"'{n}'" for n in names) if names else "none"
        raise HsframeError(f"unknown experiment '{name}'. Experiments in this store: {listed}. Pick one with --experiment NAME.")
    return exp


def _search(client: Any, experiment_id: str, filter_string: str) -> list[Any]:
    """Every run matching the filter (all pages)."""
    from mlflow.exceptions import MlflowException

    runs: list[Any] = []
    token = None
    while True:
        try:
            page = client.search_runs([experiment_id], filter_string=filter_string, max_results=1000, page_token=token)
        except MlflowException as exc:
            raise HsframeError(
                f"MLflow rejected the filter {filter_string!r}: {exc.message.strip()}. "
                f"Example of a valid filter: \"params.dataset = 'synthetic-pines' and metrics.test_oa > 0.9\"."
            ) from None
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def select_runs(client: Any, experiment_id: str, filter_string: str = "") -> tuple[list[Any], int, int]:
    """Matching FINISHED runs, with parents of ``--seeds`` replaced by their children.

    A parent logs only ``<metric>_mean`` / ``_std``; its children are the seeds, so a matching
    parent brings its children in (even when the filter names a param only the parent has, such
    as ``params.n_seeds``) and is itself left out: nothing is counted twice.
    Returns (runs, parents replaced, runs left out because they did not finish).
    """
    matched = _search(client, experiment_id, filter_string)
    parents = [r for r in matched if r.data.tags.get(PARENT_TAG) == "parent"]
    chosen = {r.info.run_id: r for r in matched if r.data.tags.get(PARENT_TAG) != "parent"}
    for parent in parents:
        for child in _search(client, experiment_id, f"tags.`{PARENT_RUN_ID}` = '{parent.info.run_id}'"):
            chosen.setdefault(child.info.run_id, child)
    finished = [r for r in chosen.values() if r.info.status == "FINISHED"]
    return finished, len(parents), len(chosen) - len(finished)


def _metric_names(runs: Iterable[Any]) -> list[str]:
    return sorted({m for r in runs for m in r.data.metrics})


def describe_metrics(names: list[str]) -> str:
    """Metric names for an error message, per-class families collapsed (``test_class_acc/* (16)``)."""
    plain = [n for n in names if "/" not in n]
    families: dict[str, int] = {}
    for n in names:
        if "/" in n:
            families[n.split("/")[0]] = families.get(n.split("/")[0], 0) + 1
    return ", ".join(plain + [f"{f}/* ({k})" for f, k in sorted(families.items())])


def headline_metric_keys() -> list[str]:
    """Shown next to the sort metric when the runs have them: the registry's headline metrics (OA, AA, kappa, ...)."""
    from hsframe import plugins
    from hsframe.metrics import headline

    return [m.key for m in headline(plugins.get_plugins().metrics)]


def compare_runs(
    tracking_uri: str,
    experiment: str,
    filter_string: str = "",
    metric: str = DEFAULT_METRIC,
    group_by: Iterable[str] = GROUP_BY,
) -> Comparison:
    """Group the FINISHED runs of ``experiment`` (optionally filtered, MLflow search syntax) by
    ``group_by`` params and summarise each group over its seeds, best ``metric`` first."""
    import mlflow

    require_store(tracking_uri)
    group_by = list(group_by)
    client = mlflow.MlflowClient(tracking_uri)
    exp = _experiment(client, experiment)
    runs, parents, unfinished = select_runs(client, exp.experiment_id, filter_string)
    if not runs:
        where = f"experiment '{experiment}'" + (f" with filter {filter_string!r}" if filter_string else "")
        extra = f" ({unfinished} matching run(s) did not finish)" if unfinished else ""
        raise HsframeError(f"no FINISHED runs in {where}{extra}. Loosen --filter, pick another --experiment, or record runs with `hsframe run`.")
    present = _metric_names(runs)
    if metric not in present:
        raise HsframeError(f"no run logged the metric '{metric}'. Metrics present: {describe_metrics(present)}. Choose one with --metric.")
    metrics = [metric] + [m for m in headline_metric_keys() if m != metric and m in present]

    groups: dict[tuple[str, ...], list[Any]] = {}
    for run in runs:
        groups.setdefault(tuple(group_value(run.data.params, g) for g in group_by), []).append(run)
    rows = []
    for key, members in groups.items():
        members.sort(key=lambda r: (_seed_order(r.data.params.get("seed")), r.info.start_time or 0))
        rows.append(CompareRow(
            key=dict(zip(group_by, key)),
            run_ids=[r.info.run_id for r in members],
            seeds=[r.data.params.get("seed", "?") for r in members],
            stats={m: Stat(tuple(r.data.metrics[m] for r in members if m in r.data.metrics)) for m in metrics},
        ))
    # Best first; groups without the metric last; ties in a stable, readable order.
    rows.sort(key=lambda r: (r.stats[metric].mean is None, -(r.stats[metric].mean or 0.0), tuple(r.key.values())))
    return Comparison(experiment=experiment, metric=metric, metrics=metrics, group_by=group_by, rows=rows,
                      filter_string=filter_string, skipped_parents=parents, unfinished=unfinished)


def _seed_order(seed: str | None) -> tuple[int, Any]:
    try:
        return (0, int(seed))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, str(seed))


def write_csv(comparison: Comparison, path: str | Path) -> Path:
    """One line per group: the group keys, n, seeds, ``<metric>_mean`` and ``_std`` (empty when undefined)."""
    import csv

    path = Path(path)
    records = comparison.records()
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(records[0]))
        writer.writeheader()
        for rec in records:
            writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in rec.items()})
    return path


def to_markdown(comparison: Comparison, digits: int = 4) -> str:
    """A GitHub markdown table, best group first; the best mean of each metric column in bold."""
    head = [*comparison.group_by, "runs", *comparison.metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(comparison.group_by) + ["---:"] * (1 + len(comparison.metrics))) + "|"]
    best = {m: max((r.stats[m].mean for r in comparison.rows if r.stats[m].mean is not None), default=None) for m in comparison.metrics}
    for r in comparison.rows:
        cells = [_md_escape(r.key[g]) for g in comparison.group_by] + [str(r.n)]
        for m in comparison.metrics:
            text = r.stats[m].format(digits)
            cells.append(f"**{text}**" if best[m] is not None and r.stats[m].mean == best[m] and len(comparison.rows) > 1 else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def plot(comparison: Comparison, path: str | Path, title: str | None = None) -> Path:
    """A bar chart of the sort metric per group: mean, with ± sample-std error bars where n > 1."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed (CI, servers)
    import matplotlib.pyplot as plt

    rows = [r for r in comparison.rows if r.stats[comparison.metric].mean is not None]
    means = [r.stats[comparison.metric].mean for r in rows]
    errs = [r.stats[comparison.metric].std or 0.0 for r in rows]
    # Extra group keys (--by) are not self-explanatory as bare values: label them name=value.
    labels = ["\n".join(_wrap(r.key[g] if g in GROUP_BY else f"{g}={r.key[g]}") for g in comparison.group_by)
              + f"\n(n={r.n})" for r in rows]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(rows) + 1.5), 5.0), layout="constrained")
    bars = ax.bar(range(len(rows)), means, color="#4c72b0")
    spread = [i for i, r in enumerate(rows) if r.stats[comparison.metric].std is not None]
    if spread:  # no bar for a single run: a zero-width error bar would claim a spread of 0
        ax.errorbar(spread, [means[i] for i in spread], yerr=[errs[i] for i in spread], fmt="none", capsize=6, ecolor="black")
    for bar, mean, err in zip(bars, means, errs):
        ax.annotate(f"{mean:.3f}", (bar.get_x() + bar.get_width() / 2, mean + err), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylabel(f"{comparison.metric} (mean ± sample std over seeds)")
    top = max(m + e for m, e in zip(means, errs))
    ax.set_ylim(0, 1.05 if top <= 1.0 else top * 1.08)  # accuracies: the whole [0, 1] scale, honest bars
    ax.set_title(title or f"{comparison.experiment}: {comparison.metric}")
    ax.grid(axis="y", alpha=0.3)
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _wrap(text: str, width: int = 18) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text
