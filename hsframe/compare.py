"""Compare recorded runs: one row per experimental condition, mean ± std over its seeds.

A *condition* is a resolved config up to the seed: two runs are repeats of one condition when every
``cfg.*`` param they logged (their flattened resolved config) is equal, except the keys in
:data:`hsframe.config.NOT_IN_FINGERPRINT` (seed, run name, experiment, device). Grouping reads the
``cfg.*`` params, which every run has, whether recorded before or after the
``hsframe.config_fingerprint`` tag existed; the tag is a cross-check: runs whose params agree but
whose tags differ are kept apart (and the comparison says so). Runs that logged no ``cfg.*`` params at
all (the oldest stores) fall back to model x dataset x split recipe.

Within a condition a seed counts once: the latest FINISHED run of that seed stands for it, the others
are reported as duplicates. ``by`` regroups by chosen keys instead (pooling conditions); the parent
run of ``--seeds`` and of a sweep stands for its child runs.

Everything here returns plain data (dataclasses, lists, dicts); `hsframe compare` only formats it.
Kept free of torch: comparing runs never pays for the deep-learning stack.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from hsframe.config import NOT_IN_FINGERPRINT, canonical_key, suggest_key
from hsframe.errors import HsframeError
from hsframe.recording.base import BEST_TRIAL_TAG, END_TAG, FINGERPRINT_TAG, PARENT_TAG, SWEEP_TAG, TRIAL_TAG

DEFAULT_METRIC = "test_oa"
GROUP_BY = ("model", "dataset", "split")   # the readable columns of a row (and the grouping of runs without cfg.* params)
PARENT_RUN_ID = "mlflow.parentRunId"
UNSET = "unset"                            # a config key a run did not log (another version, another split method)
# Run params that repeat a config key: a column of one of them is not repeated among the differing keys.
_PARAM_CONFIG_KEY = {"model": "model", "dataset": "data.dataset", "lr": "train.lr", "epochs": "train.epochs",
                     "batch_size": "train.batch_size", "optimizer": "train.optimizer", "patch_size": "data.patch_size",
                     "pca_components": "data.pca_components", "pca_fit": "data.pca_fit"}


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
    """One group of runs: by default one condition (the same resolved config) over its seeds."""

    key: dict[str, str]              # column -> value: model, dataset, split (or the --by keys)
    run_ids: list[str]
    seeds: list[str]
    stats: dict[str, Stat]           # metric -> Stat over the runs that logged it
    config: dict[str, str] = field(default_factory=dict)   # config key -> value ("{a|b}" when the runs differ)
    differs: dict[str, str] = field(default_factory=dict)  # the config keys whose values differ between groups

    @property
    def n(self) -> int:
        return len(self.run_ids)

    @property
    def label(self) -> str:
        """The group in words, for notes: its columns, then its differing keys."""
        parts = [v if k in GROUP_BY else f"{k}={v}" for k, v in self.key.items()]
        return " / ".join(parts) + (f" ({format_differs(self.differs)})" if self.differs else "")

    def flat(self, metrics: Iterable[str], differing: Iterable[str] = ()) -> dict[str, Any]:
        """A flat record (CSV, DataFrame): columns, ``cfg.<key>`` per differing key, n, seeds,
        then ``<metric>_mean`` / ``_std`` and the run ids."""
        out: dict[str, Any] = dict(self.key)
        for k in differing:
            out[f"cfg.{k}"] = self.differs.get(k, self.config.get(k, UNSET))
        out["n"] = self.n
        out["seeds"] = " ".join(self.seeds)
        for m in metrics:
            stat = self.stats.get(m, Stat(()))
            out[f"{m}_mean"] = stat.mean
            out[f"{m}_std"] = stat.std
        out["run_ids"] = " ".join(self.run_ids)
        return out


@dataclass(frozen=True)
class Duplicate:
    """Runs of one seed in one condition: ``kept`` (the latest FINISHED) counts, ``ignored`` do not."""

    seed: str
    kept: str
    ignored: tuple[str, ...]
    group: str = ""                  # the row label of the group the kept run is in


@dataclass
class Comparison:
    experiment: str
    metric: str                      # the sort metric
    metrics: list[str]               # the metric columns, sort metric first
    group_by: list[str]              # the key columns of the rows
    rows: list[CompareRow]
    filter_string: str = ""
    skipped_parents: int = 0         # parent runs of --seeds, replaced by their children
    unfinished: int = 0              # matching runs left out because they are not FINISHED (pruned trials apart)
    by: list[str] | None = None      # the --by keys; None: one group per condition
    differing: list[str] = field(default_factory=list)   # config keys whose values differ between groups
    duplicates: list[Duplicate] = field(default_factory=list)
    sweeps: int = 0                  # sweep parent runs, replaced by their trials
    pruned: int = 0                  # KILLED sweep trials that were pruned
    best: bool = False               # only the best trial's group per sweep
    warnings: list[str] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [r.flat(self.metrics, self.differing) for r in self.rows]

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame(self.records())

    def notes(self) -> list[str]:
        """What the table leaves out or merges, one line each (the CLI prints them under the table)."""
        notes = []
        if self.filter_string:
            notes.append(f"filter: {self.filter_string}")
        if self.by:
            notes.append(f"grouped by {', '.join(self.by)}: runs of different configs are pooled")
        if self.skipped_parents:
            notes.append(f"{self.skipped_parents} parent run(s) of --seeds shown through their seeds")
        if self.sweeps:
            what = "best trial's group" if self.best else "trials"
            notes.append(f"{self.sweeps} sweep parent run(s) shown through their {what}")
        if self.unfinished:
            notes.append(f"{self.unfinished} matching run(s) left out: not FINISHED")
        if self.pruned:
            notes.append(f"{self.pruned} pruned trial(s) not shown")
        if self.duplicates:
            n = sum(len(d.ignored) for d in self.duplicates)
            which = "; ".join(f"seed {d.seed} in group {d.group} (kept {d.kept[:8]}, ignored "
                              f"{', '.join(i[:8] for i in d.ignored)})" for d in self.duplicates)
            notes.append(f"{n} duplicate seed run(s) ignored: {which}")
        return notes + list(self.warnings)


def format_differs(differs: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in differs.items())


def split_key(params: dict[str, str]) -> str:
    """The split recipe without the seed, readable (the ``split`` column).

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
    """The value of one column (or --by key, given as its param name) for a run."""
    if name == "split":
        return split_key(params)
    if name == "model" and "model" not in params:
        return params.get("plugin", "-")  # runs recorded before the param was named "model"
    return params.get(name, "-")


def by_value(params: dict[str, str], name: str) -> str:
    """The value of a column or ``--by`` key (a param name, see :func:`resolve_by`): config keys as :func:`run_config` reads them."""
    if name.startswith("cfg."):
        return run_config(params).get(name[4:], params.get(name, UNSET))
    return group_value(params, name)


def run_config(params: dict[str, str]) -> dict[str, str]:
    """A run's resolved config from its ``cfg.*`` params, without the keys that do not change the condition.

    In today's spelling (runs logged before ``model`` / ``model_options``: ``cfg.plugin`` is the model,
    ``cfg.model.X`` its options), and with a mapping value (``data.dataset_options``) spread into one
    key per entry, so that its order does not matter and the differing entry can be named.
    Values stay the strings MLflow stored.
    """
    raw = {k[4:]: v for k, v in params.items() if k.startswith("cfg.")}
    if "plugin" in raw:
        if "model" in raw:
            raw["model_options"] = raw.pop("model")
        raw["model"] = raw.pop("plugin")
    out: dict[str, str] = {}
    for key, value in raw.items():
        key = canonical_key(key) if key.startswith("model.") else key
        if key in NOT_IN_FINGERPRINT:
            continue
        mapping = _mapping(value)
        if mapping is not None:  # an empty one ({}) is no key: the same as a run that did not log it
            for sub, v in mapping.items():
                out[f"{key}.{sub}"] = str(v)
        else:
            out[key] = value
    return out


def _mapping(value: str) -> dict[str, Any] | None:
    if not (isinstance(value, str) and value.startswith("{") and value.endswith("}")):
        return None
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def condition(run: Any) -> tuple:
    """What makes two runs repeats of one condition: their config (or, without ``cfg.*`` params, model x dataset x split)."""
    params = run.data.params
    cfg = run_config(params)
    if cfg:
        return ("cfg", tuple(sorted(cfg.items())))
    return ("legacy", *(group_value(params, g) for g in GROUP_BY))


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


@dataclass
class Selection:
    """The runs a comparison counts, and what was left out."""

    runs: list[Any]                  # FINISHED runs, each with a seed of its own
    seed_parents: int = 0            # parents of --seeds replaced by their children
    sweeps: dict[str, Any] = field(default_factory=dict)  # sweep parent run id -> run, replaced by its trials
    unfinished: int = 0              # not FINISHED (pruned trials apart)
    pruned: int = 0                  # KILLED trials pruned by a sweep


def is_pruned(run: Any) -> bool:
    return run.info.status == "KILLED" and run.data.tags.get(END_TAG, "").startswith("pruned")


def select_runs(client: Any, experiment_id: str, filter_string: str = "") -> Selection:
    """Matching FINISHED runs, with parents of ``--seeds`` and of sweeps replaced by their children.

    A parent logs only summaries (``<metric>_mean`` / ``_std``, the best trial); its children are the
    runs, so a matching parent brings its children in (even when the filter names a param only the
    parent has, such as ``params.n_seeds``) and is itself left out: nothing is counted twice. A child
    that is a parent in turn (a trial repeated over seeds) is replaced the same way.
    """
    queue = list(_search(client, experiment_id, filter_string))
    chosen: dict[str, Any] = {}
    seed_parents: set[str] = set()
    sweeps: dict[str, Any] = {}
    seen: set[str] = set()
    while queue:
        run = queue.pop(0)
        rid = run.info.run_id
        if rid in seen:
            continue
        seen.add(rid)
        tags = run.data.tags
        if tags.get(PARENT_TAG) == "parent" or tags.get(SWEEP_TAG) == "parent":
            if tags.get(SWEEP_TAG) == "parent":
                sweeps[rid] = run
            else:
                seed_parents.add(rid)
            queue.extend(_search(client, experiment_id, f"tags.`{PARENT_RUN_ID}` = '{rid}'"))
        else:
            chosen[rid] = run
    finished = [r for r in chosen.values() if r.info.status == "FINISHED"]
    pruned = sum(1 for r in chosen.values() if is_pruned(r))
    return Selection(finished, len(seed_parents), sweeps, len(chosen) - len(finished) - pruned, pruned)


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


def resolve_by(keys: Iterable[str], runs: list[Any], experiment: str) -> list[tuple[str, str]]:
    """``--by`` keys as (column label, param name): a run param (``lr``, ``model``, ``split``) or a config
    key, spelt ``train.lr`` or ``cfg.train.lr`` (also an entry of a mapping: ``data.dataset_options.purity_threshold``).
    A key no run logged is an HsframeError with the nearest valid one."""
    names = {p for r in runs for p in r.data.params}
    names |= {f"cfg.{k}" for r in runs for k in run_config(r.data.params)}
    cfg_keys = sorted({p[4:] for p in names if p.startswith("cfg.")})
    out: list[tuple[str, str]] = []
    for key in keys:
        key = key.strip()
        if key in GROUP_BY or (key in names and not key.startswith("cfg.")):
            resolved = (key, key)
        else:
            bare = canonical_key(key[4:] if key.startswith("cfg.") else key)
            if f"cfg.{bare}" not in names:
                valid = sorted({*GROUP_BY, *(p for p in names if not p.startswith("cfg.")), *cfg_keys})
                hint = suggest_key(bare, valid) or f" Valid keys include: {', '.join(valid[:12])}{', ...' if len(valid) > 12 else ''}."
                raise HsframeError(
                    f"unknown --by key '{key}': no FINISHED run in experiment '{experiment}' logged a param "
                    f"'{key}' or 'cfg.{bare}'.{hint} Give a run param (model, dataset, split, lr, ...) or a "
                    f"config key (train.lr, also spelt cfg.train.lr).")
            resolved = (bare, f"cfg.{bare}")
        if resolved not in out:
            out.append(resolved)
    return out


def compare_runs(
    tracking_uri: str,
    experiment: str,
    filter_string: str = "",
    metric: str = DEFAULT_METRIC,
    group_by: Iterable[str] | None = None,
    best: bool = False,
) -> Comparison:
    """Summarise the FINISHED runs of ``experiment`` (optionally filtered, MLflow search syntax) per
    condition (identical resolved config but for the seed), best ``metric`` first.

    ``group_by``: regroup by these keys instead (run params or config keys, see :func:`resolve_by`).
    ``best``: of each sweep, only the group of its best trial (with every run of that config).
    A seed repeated within a condition counts once (its latest run); see ``Comparison.duplicates``.
    """
    import mlflow

    from hsframe.stores import require_store

    require_store(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    exp = _experiment(client, experiment)
    sel = select_runs(client, exp.experiment_id, filter_string)
    runs = sel.runs
    if not runs:
        where = f"experiment '{experiment}'" + (f" with filter {filter_string!r}" if filter_string else "")
        left = sel.unfinished + sel.pruned
        extra = f" ({left} matching run(s) did not finish)" if left else ""
        raise HsframeError(f"no FINISHED runs in {where}{extra}. Loosen --filter, pick another --experiment, or record runs with `hsframe run`.")
    present = _metric_names(runs)
    if metric not in present:
        raise HsframeError(f"no run logged the metric '{metric}'. Metrics present: {describe_metrics(present)}. Choose one with --metric.")
    metrics = [metric] + [m for m in headline_metric_keys() if m != metric and m in present]
    by = resolve_by(group_by, runs, experiment) if group_by is not None else None

    cond, conflicts = _conditions(runs)
    warnings = [f"{conflicts} set(s) of runs with equal cfg.* params carry different {FINGERPRINT_TAG} tags: kept "
                f"apart by tag (their configs differ in a way the params do not show)"] if conflicts else []
    if best:
        runs, note = _best_trials(client, runs, cond, sel)
        warnings += note
    runs, duplicates = _dedupe(runs, cond)

    columns = [label for label, _ in by] if by else list(GROUP_BY)
    groups: dict[tuple, list[Any]] = {}
    for run in runs:
        gkey = tuple(by_value(run.data.params, p) for _, p in by) if by else cond[run.info.run_id]
        groups.setdefault(gkey, []).append(run)
    rows = []
    for members in groups.values():
        members.sort(key=lambda r: (_seed_order(r.data.params.get("seed")), r.info.start_time or 0))
        first = members[0].data.params  # every member has the same key values: they are what grouped them
        rows.append(CompareRow(
            key={label: by_value(first, p) for label, p in (by or [(g, g) for g in GROUP_BY])},
            run_ids=[r.info.run_id for r in members],
            seeds=[r.data.params.get("seed", "?") for r in members],
            stats={m: Stat(tuple(r.data.metrics[m] for r in members if m in r.data.metrics)) for m in metrics},
            config=_group_config([run_config(r.data.params) for r in members]),
        ))
    # Keys a column already shows are not repeated among the differing keys.
    hidden = {p[4:] if p.startswith("cfg.") else _PARAM_CONFIG_KEY.get(p, "") for _, p in (by or [(g, g) for g in GROUP_BY])}
    differing = _differing(rows, hidden)
    for row in rows:
        row.differs = {k: row.config.get(k, UNSET) for k in differing}
    # Best first; groups without the metric last; ties in a stable, readable order.
    rows.sort(key=lambda r: (r.stats[metric].mean is None, -(r.stats[metric].mean or 0.0),
                             tuple(r.key.values()), tuple(r.differs.values())))
    label_of = {rid: row.label for row in rows for rid in row.run_ids}
    duplicates = [Duplicate(d.seed, d.kept, d.ignored, label_of.get(d.kept, "")) for d in duplicates]
    return Comparison(experiment=experiment, metric=metric, metrics=metrics, group_by=columns, rows=rows,
                      filter_string=filter_string, skipped_parents=sel.seed_parents, unfinished=sel.unfinished,
                      by=[label for label, _ in by] if by else None, differing=differing, duplicates=duplicates,
                      sweeps=len(sel.sweeps), pruned=sel.pruned, best=best, warnings=warnings)


def _uniform(values: list[str]) -> str:
    distinct = sorted(set(values), key=str)
    return distinct[0] if len(distinct) == 1 else "{" + "|".join(distinct) + "}"


def _group_config(configs: list[dict[str, str]]) -> dict[str, str]:
    keys = sorted({k for c in configs for k in c})
    return {k: _uniform([c.get(k, UNSET) for c in configs]) for k in keys}


def _differing(rows: list[CompareRow], hidden: set[str]) -> list[str]:
    """The config keys whose value is not the same in every group (a key some groups lack counts as differing)."""
    keys = sorted({k for r in rows for k in r.config} - hidden)
    return [k for k in keys if len({r.config.get(k, UNSET) for r in rows}) > 1]


def _conditions(runs: list[Any]) -> tuple[dict[str, tuple], int]:
    """run id -> condition, and how many conditions the fingerprint tag split.

    The ``cfg.*`` params decide; the tag (:data:`FINGERPRINT_TAG`, absent on runs recorded before it)
    only cross-checks: runs whose params agree but whose tags differ are kept apart by tag (runs
    without the tag then form a part of their own).
    """
    cond = {r.info.run_id: condition(r) for r in runs}
    tags: dict[tuple, set[str]] = {}
    for r in runs:
        if FINGERPRINT_TAG in r.data.tags:
            tags.setdefault(cond[r.info.run_id], set()).add(r.data.tags[FINGERPRINT_TAG])
    conflicting = {c for c, t in tags.items() if len(t) > 1}
    for r in runs:
        c = cond[r.info.run_id]
        if c in conflicting:
            cond[r.info.run_id] = (*c, ("fingerprint", r.data.tags.get(FINGERPRINT_TAG, "-")))
    return cond, len(conflicting)


def _best_trials(client: Any, runs: list[Any], cond: dict[str, tuple], sel: Selection) -> tuple[list[Any], list[str]]:
    """Of each sweep, keep only the trials in the condition of its best trial (``BEST_TRIAL_TAG`` on the parent)."""
    sweeps = dict(sel.sweeps)
    for r in runs:  # trials matched by the filter without their parent
        parent = r.data.tags.get(PARENT_RUN_ID)
        if r.data.tags.get(SWEEP_TAG) == "trial" and parent and parent not in sweeps:
            from mlflow.exceptions import MlflowException

            try:
                sweeps[parent] = client.get_run(parent)
            except MlflowException:  # the parent was deleted: the trial is compared like any run
                continue
    if not sweeps:
        raise HsframeError("--best picks the best trial of each sweep, but no matching run belongs to a sweep "
                           f"(a sweep's parent run has tag {SWEEP_TAG}=parent). Run `hsframe sweep`, or drop --best.")
    by_id = {r.info.run_id: r for r in runs}
    notes, drop = [], set()
    for sid, parent in sweeps.items():
        trials = [r for r in runs if r.data.tags.get(PARENT_RUN_ID) == sid and r.data.tags.get(SWEEP_TAG) == "trial"]
        best_id = parent.data.tags.get(BEST_TRIAL_TAG)
        name = parent.info.run_name or sid[:8]
        if best_id not in by_id:
            why = "has no best trial yet" if not best_id else f"names best trial {best_id[:8]}, which is not a FINISHED run here"
            notes.append(f"sweep '{name}' {why} ({BEST_TRIAL_TAG}): its {len(trials)} trial(s) are all shown")
            continue
        best = cond[best_id]
        drop |= {r.info.run_id for r in trials if cond[r.info.run_id] != best}
        trial = by_id[best_id].data.tags.get(TRIAL_TAG, "?")
        notes.append(f"sweep '{name}': best trial {trial} (run {best_id[:8]}); {len({r.info.run_id for r in trials} & drop)} "
                     f"other trial run(s) hidden by --best")
    return [r for r in runs if r.info.run_id not in drop], notes


def _dedupe(runs: list[Any], cond: dict[str, tuple]) -> tuple[list[Any], list[Duplicate]]:
    """One run per seed and condition: the latest (by start time). Runs without a seed param are all kept."""
    by_seed: dict[tuple, list[Any]] = {}
    for r in runs:
        seed = r.data.params.get("seed")
        if seed is not None:
            by_seed.setdefault((cond[r.info.run_id], seed), []).append(r)
    ignored: set[str] = set()
    dups = []
    for (_, seed), same in by_seed.items():
        if len(same) > 1:
            same.sort(key=lambda r: (r.info.start_time or 0, r.info.run_id), reverse=True)
            dups.append(Duplicate(seed, same[0].info.run_id, tuple(r.info.run_id for r in same[1:])))
            ignored |= {r.info.run_id for r in same[1:]}
    dups.sort(key=lambda d: _seed_order(d.seed))
    return [r for r in runs if r.info.run_id not in ignored], dups


def _seed_order(seed: str | None) -> tuple[int, Any]:
    try:
        return (0, int(seed))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, str(seed))


def write_csv(comparison: Comparison, path: str | Path) -> Path:
    """One line per group: the key columns, ``cfg.<key>`` per differing key, n, seeds, ``<metric>_mean``
    and ``_std`` (empty when undefined), run ids."""
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
    """A GitHub markdown table, best group first; the best mean of each metric column in bold.

    Columns: the key columns, ``config`` (the differing keys, when groups differ in more than the
    columns show), n, seeds, then mean ± std per metric.
    """
    config = bool(comparison.differing)
    head = [*comparison.group_by, *(["config"] if config else []), "n", "seeds", *comparison.metrics]
    align = ["---"] * (len(comparison.group_by) + config) + ["---:", "---"] + ["---:"] * len(comparison.metrics)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    best = {m: max((r.stats[m].mean for r in comparison.rows if r.stats[m].mean is not None), default=None) for m in comparison.metrics}
    for r in comparison.rows:
        cells = [_md_escape(r.key[g]) for g in comparison.group_by]
        if config:
            cells.append(_md_escape(format_differs(r.differs)))
        cells += [str(r.n), ",".join(r.seeds)]
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
    # --by keys and differing config keys are not self-explanatory as bare values: label them name=value.
    labels = ["\n".join([_wrap(r.key[g] if g in GROUP_BY else f"{g}={r.key[g]}") for g in comparison.group_by]
                        + [_wrap(f"{k}={v}") for k, v in r.differs.items()])
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

    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text  # keys stay whole: key=value
