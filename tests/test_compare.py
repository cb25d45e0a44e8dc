"""`hsframe compare` on real runs in a temporary store, checked against MLflow directly.

The runs are real `hsframe run`s: HybridSN once (FAST, one epoch) and a tiny model plugin
registered in-process (a linear layer on the patch's mean spectrum: it trains in a blink) over
seeds 0,1 (a parent with two children), once more with seed 2 as a plain run (same config: it
joins that group), and once with another split. A FAILED and a RUNNING run with a fake test_oa
must be left out; a second experiment holds one run of its own.

The grouping cases (configs that differ in one key, repeated seeds, --by, sweeps) are runs logged
straight through MLflow the way `hsframe run` logs them (``cfg.*`` params of a resolved RunConfig,
the fingerprint tag), in a store of their own: no training needed.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import types
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import FAST, REPO

from hsframe import ModelSpec, hookimpl
from hsframe.cli import cli
from hsframe.cli.compare import compare

# Tiny plugins: the pipeline is the real one, only the model is small (OA about 0.6-0.75 in 1-2 s).
TINY = ["--set", "train.epochs=3", "--set", "train.lr=0.03", "--set", "data.patch_size=3",
        "--set", "data.pca_components=8", "--set", "train.batch_size=64", "--set", "eval.full_map=false"]


def _tiny_model(kind: str):
    import torch.nn as nn

    class Tiny(nn.Module):
        """Logits from a linear layer on the patch's mean (``mean``) or centre (``center``) spectrum."""

        def __init__(self, depth: int, num_classes: int):
            super().__init__()
            self.fc = nn.Linear(depth, num_classes)

        def forward(self, x):
            h, w = x.shape[-2:]
            feats = x.mean(dim=(1, 3, 4)) if kind == "mean" else x[:, 0, :, h // 2, w // 2]
            return self.fc(feats)

    Tiny.__qualname__ = Tiny.__name__ = f"Tiny_{kind}"
    return Tiny


def tiny_plugins():
    """Plugins with the built-ins, hybridsn and two tiny models: ``meanspec`` and ``centerpix``."""
    from hsframe.plugins import load_plugins

    mod = types.SimpleNamespace()

    def register_models(register):
        for name, kind in (("meanspec", "mean"), ("centerpix", "center")):
            cls = _tiny_model(kind)
            register(ModelSpec(name=name, build=lambda spec, cls=cls: cls(spec.depth, spec.num_classes)))

    mod.register_models = hookimpl(register_models)
    return load_plugins(extra={"tinymodels": mod})


def hsframe_run(store: str, *args: str) -> None:
    """`hsframe run ... --tracking-uri store` through the CLI, as a user runs it."""
    r = CliRunner().invoke(cli, ["run", *args, "--tracking-uri", store])
    assert r.exit_code == 0, r.output


def fake_run(store: str, status: str, test_oa: float, experiment: str = "hsframe", plugin: str = "meanspec") -> str:
    """A run shaped like an hsframe run, logged straight through MLflow (unfinished ones, another experiment)."""
    import mlflow

    client = mlflow.MlflowClient(store)
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
    run = client.create_run(exp_id, run_name=f"{plugin}-synthetic-pines-{status.lower()}",
                            tags={"model": plugin, "dataset": "synthetic-pines"})
    rid = run.info.run_id
    for key, value in {"model": plugin, "dataset": "synthetic-pines", "seed": "9", "cfg.split.method": "random",
                       "cfg.split.train_fraction": "0.1", "cfg.split.val_fraction": "0.1",
                       "cfg.split.train_per_class": "None"}.items():
        client.log_param(rid, key, value)
    client.log_metric(rid, "test_oa", test_oa)
    if status != "RUNNING":
        client.set_terminated(rid, status)
    return rid


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        plugins = tiny_plugins()
        mp.setattr("hsframe.plugins.get_plugins", lambda: plugins)
        hsframe_run(store, "--plugin", "meanspec", *TINY, "--seeds", "0,1")
        hsframe_run(store, "--plugin", "meanspec", *TINY, "--seed", "2")
        hsframe_run(store, "--plugin", "meanspec", *TINY, "--seed", "5", "--set", "split.train_fraction=0.2")
        hsframe_run(store, "--plugin", "hybridsn", *FAST, "--set", "train.epochs=1", "--set", "eval.full_map=false")
    fake_run(store, "FAILED", 0.0)
    fake_run(store, "RUNNING", 0.0)
    fake_run(store, "FINISHED", 0.5, experiment="other", plugin="centerpix")
    return store, tmp


def expected_groups(store: str, experiment: str = "hsframe") -> dict[tuple[str, str], list]:
    """FINISHED runs with a test_oa, straight from MLflow, by (plugin, train fraction)."""
    import mlflow

    client = mlflow.MlflowClient(store)
    exp = client.get_experiment_by_name(experiment)
    groups = defaultdict(list)
    for r in client.search_runs([exp.experiment_id]):
        if r.info.status == "FINISHED" and "test_oa" in r.data.metrics:
            groups[(r.data.params["model"], r.data.params["cfg.split.train_fraction"])].append(r)
    return groups


def invoke(store: str, *args: str):
    return CliRunner().invoke(compare, [*args, "--tracking-uri", store])


def test_groups_match_mlflow(runs):
    from hsframe.compare import compare_runs

    store, _ = runs
    result = compare_runs(store, "hsframe")
    expected = expected_groups(store)
    assert sorted(len(v) for v in expected.values()) == [1, 1, 3]  # sanity: the fixture made what we think
    assert len(result.rows) == len(expected) == 3
    assert result.skipped_parents == 1 and result.unfinished == 2
    for row in result.rows:
        assert row.key["dataset"] == "synthetic-pines"
        fraction = row.key["split"].split("train ")[1].split(",")[0]
        members = expected[(row.key["model"], fraction)]
        oa = np.array([r.data.metrics["test_oa"] for r in members])
        assert row.n == len(members)  # the parent is not a run of its own, the unfinished runs are out
        assert sorted(row.run_ids) == sorted(r.info.run_id for r in members)
        assert row.stats["test_oa"].mean == pytest.approx(oa.mean(), abs=1e-12)
        if len(oa) > 1:
            assert row.stats["test_oa"].std == pytest.approx(oa.std(ddof=1), abs=1e-12)
        else:
            assert row.stats["test_oa"].std is None
        for key in ("test_kappa", "test_macro_f1"):  # every headline metric, macro F1 among them
            values = np.array([r.data.metrics[key] for r in members])
            assert row.stats[key].mean == pytest.approx(values.mean(), abs=1e-12)
    means = [r.stats["test_oa"].mean for r in result.rows]
    assert means == sorted(means, reverse=True)
    seeds = {(r.key["model"], r.n): r.seeds for r in result.rows}
    assert seeds[("meanspec", 3)] == ["0", "1", "2"] and seeds[("hybridsn", 1)] == ["0"]
    # The parent's own summary agrees with its children's values as compare reads them.
    import mlflow

    client = mlflow.MlflowClient(store)
    [parent] = [r for r in client.search_runs([client.get_experiment_by_name("hsframe").experiment_id],
                                              "tags.`hsframe.seeds` = 'parent' and params.model = 'meanspec'")]
    [row] = compare_runs(store, "hsframe", f"attributes.run_id = '{parent.info.run_id}'").rows
    assert row.n == 2 and row.seeds == ["0", "1"]
    assert row.stats["test_oa"].mean == pytest.approx(parent.data.metrics["test_oa_mean"])
    assert row.stats["test_oa"].std == pytest.approx(parent.data.metrics["test_oa_std"])


def test_table_in_the_terminal(runs):
    from hsframe.compare import compare_runs

    store, _ = runs
    r = CliRunner().invoke(compare, ["--tracking-uri", store], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    rows = compare_runs(store, "hsframe").rows
    for row in rows:
        assert row.stats["test_oa"].format() in r.output
    single = [row for row in rows if row.n == 1]
    assert single and all(row.stats["test_oa"].format().endswith(" ± -") for row in single)
    positions = [r.output.index(row.stats["test_oa"].format()) for row in rows]
    assert positions == sorted(positions)  # best first
    assert "5 finished run(s) in 3 group(s)" in r.output and "1 parent run(s)" in r.output
    assert "2 matching run(s) left out: not FINISHED" in r.output


def test_metric_option_sorts_by_that_metric(runs):
    from hsframe.compare import compare_runs

    store, _ = runs
    result = compare_runs(store, "hsframe", metric="test_kappa")
    assert result.metrics == ["test_kappa", "test_oa", "test_aa", "test_macro_f1"]
    kappas = [r.stats["test_kappa"].mean for r in result.rows]
    assert kappas == sorted(kappas, reverse=True)


def test_filter(runs):
    from hsframe.compare import compare_runs

    store, _ = runs
    only = compare_runs(store, "hsframe", "params.model = 'meanspec'")
    assert {r.key["model"] for r in only.rows} == {"meanspec"} and sorted(r.n for r in only.rows) == [1, 3]
    # A param only the parent has: the parent brings its seeds (not the plain seed-2 run), counted once.
    seeded = compare_runs(store, "hsframe", "params.n_seeds = '2'")
    assert [(r.key["model"], r.n, r.seeds) for r in seeded.rows] == [("meanspec", 2, ["0", "1"])]
    everything = compare_runs(store, "hsframe", "params.dataset = 'synthetic-pines'")
    assert sum(r.n for r in everything.rows) == 5  # every finished run with a seed of its own, no parent
    r = invoke(store, "--filter", "params.model = 'hybridsn'")
    assert r.exit_code == 0 and "hybridsn" in r.output and "meanspec" not in r.output


def test_group_by_other_keys(runs, tmp_path):
    from hsframe.compare import GROUP_BY, compare_runs

    store, _ = runs
    per_seed = compare_runs(store, "hsframe", group_by=(*GROUP_BY, "seed"))
    assert len(per_seed.rows) == 5 and all(r.n == 1 for r in per_seed.rows)
    r = invoke(store, "--by", "patch_size", "--markdown", "--csv", str(tmp_path / "t.csv"))
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "| patch_size | config | n | seeds | test_oa | test_aa | test_kappa | test_macro_f1 |"
    # --by pools: both meanspec splits (patch 3) are one group; the config column says what was pooled.
    [tiny] = [line for line in lines if line.startswith("| 3 |")]
    assert "split.train_fraction={0.1\\|0.2}" in tiny and "| 4 | 0,1,2,5 |" in tiny and "model=meanspec" in tiny
    assert any(line.startswith("| 9 |") and "model=hybridsn" in line and "| 1 | 0 |" in line for line in lines)
    assert "CSV written to" not in r.stdout  # stdout stays a clean table to redirect into a paper
    assert "grouped by patch_size: runs of different configs are pooled" in r.stderr


def test_other_experiment(runs):
    from hsframe.compare import compare_runs

    store, _ = runs
    result = compare_runs(store, "other")
    assert [(r.key["model"], r.n) for r in result.rows] == [("centerpix", 1)]
    r = invoke(store, "--experiment", "other", "--markdown")
    assert r.exit_code == 0 and r.output.count("centerpix") == 1


def test_csv(runs, tmp_path):
    store, _ = runs
    out = tmp_path / "table.csv"
    r = invoke(store, "--csv", str(out))
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    columns = list(rows[0])
    assert columns[:3] == ["model", "dataset", "split"]
    differing = columns[3:columns.index("n")]  # one column per config key that differs between the groups
    assert {"cfg.split.train_fraction", "cfg.train.lr", "cfg.train.epochs"} <= set(differing)
    assert "cfg.model" not in differing and "cfg.seed" not in differing and "cfg.data.dataset" not in differing
    assert columns[columns.index("n"):columns.index("n") + 3] == ["n", "seeds", "test_oa_mean"]
    expected = expected_groups(store)
    assert len(rows) == len(expected)
    for row in rows:
        members = expected[(row["model"], row["split"].split("train ")[1].split(",")[0])]
        oa = np.array([m.data.metrics["test_oa"] for m in members])
        assert int(row["n"]) == len(members)
        assert float(row["test_oa_mean"]) == pytest.approx(oa.mean(), abs=1e-12)  # full precision
        if len(oa) == 1:
            assert row["test_oa_std"] == ""  # undefined for one run: an empty cell, not 0
        else:
            assert float(row["test_oa_std"]) == pytest.approx(oa.std(ddof=1), abs=1e-12)
        assert set(row["run_ids"].split()) == {m.info.run_id for m in members}
        assert row["cfg.split.train_fraction"] == members[0].data.params["cfg.split.train_fraction"]
        assert sorted(row["seeds"].split()) == sorted(m.data.params["seed"] for m in members)
    assert [float(x["test_oa_mean"]) for x in rows] == sorted((float(x["test_oa_mean"]) for x in rows), reverse=True)


def test_markdown(runs):
    from hsframe.compare import compare_runs

    store, _ = runs
    r = invoke(store, "--markdown")
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "| model | dataset | split | config | n | seeds | test_oa | test_aa | test_kappa | test_macro_f1 |"
    assert lines[1] == "|---|---|---|---|---:|---|---:|---:|---:|---:|"
    assert len(lines) == 2 + 3 and all(line.startswith("| ") and line.endswith(" |") for line in lines[2:])
    result = compare_runs(store, "hsframe")
    best = lines[2].split(" | ")
    assert best[0] == f"| {result.rows[0].key['model']}" and best[6] == f"**{result.rows[0].stats['test_oa'].format()}**"
    cells = [line.strip("| ").split(" | ") for line in lines[2:]]
    assert [c[4] for c in cells] == [str(row.n) for row in result.rows]
    assert [c[5] for c in cells] == [",".join(row.seeds) for row in result.rows]
    assert sorted(c[5] for c in cells) == ["0", "0,1,2", "5"]
    assert all("split.train_fraction=" in c[3] and "train.lr=" in c[3] for c in cells)
    assert all("seed" not in c[3] and "device" not in c[3] for c in cells)  # not a difference between conditions
    assert all(len(c) == 10 for c in cells)  # 6 key columns, 4 headline metrics
    assert "1 parent run(s) of --seeds" in r.stderr  # the notes go to stderr


def test_plot_writes_a_png(runs, tmp_path):
    import matplotlib.image as mpimg

    store, _ = runs
    out = tmp_path / "oa.png"
    r = invoke(store, "--plot", str(out), "--metric", "test_oa")
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(out)
    assert img.shape[0] > 300 and img.shape[1] > 300 and img.std() > 0.05  # a picture, not a blank canvas
    if os.environ.get("HSFRAME_TEST_ARTIFACTS"):
        Path(os.environ["HSFRAME_TEST_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
        (Path(os.environ["HSFRAME_TEST_ARTIFACTS"]) / "compare_test_oa.png").write_bytes(out.read_bytes())


@pytest.mark.parametrize("args,message", [
    (["--experiment", "nope"], "unknown experiment 'nope'. Experiments in this store: 'Default', 'hsframe', 'other'"),
    (["--filter", "params.model == "], "MLflow rejected the filter 'params.model == '"),
    (["--filter", "params.model = 'nothing'"], "no FINISHED runs in experiment 'hsframe' with filter"),
    (["--filter", "attributes.run_name LIKE '%running%'"], "(1 matching run(s) did not finish)"),
    (["--metric", "test_oaa"], "no run logged the metric 'test_oaa'. Metrics present: "),
])
def test_errors_are_one_message(runs, args, message):
    store, _ = runs
    r = invoke(store, *args)
    assert r.exit_code == 2, r.output
    assert message in r.output and r.output.count("Error:") == 1
    assert "Traceback" not in r.output
    if "--metric" in args:
        assert "test_oa," in r.output and "test_class_acc/* (16)" in r.output


def test_missing_store_is_not_created(tmp_path):
    db = tmp_path / "nothing.db"
    r = invoke(f"sqlite:///{db}")
    assert r.exit_code == 2 and "no tracking store at" in r.output
    assert not db.exists()


def test_compare_and_ui_keep_torch_out(runs):
    store, _ = runs
    code = (
        "import sys\n"
        "from hsframe.cli.compare import compare, ui\n"
        "import hsframe.ui\n"
        "from hsframe.compare import compare_runs, to_markdown\n"
        f"print(to_markdown(compare_runs({store!r}, 'hsframe')))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "| meanspec |" in out.stdout


def test_runs_recorded_before_the_model_param_group_by_their_plugin_param(tmp_path):
    """Stores written by hsframe 0.1.0 name the model in params.plugin; they still group by model."""
    import mlflow

    from hsframe.compare import compare_runs

    store = f"sqlite:///{tmp_path / 'old.db'}"
    client = mlflow.MlflowClient(store)
    exp = client.create_experiment("hsframe")
    for oa in (0.5, 0.7):
        rid = client.create_run(exp).info.run_id
        for key, value in {"plugin": "oldnet", "dataset": "synthetic-pines", "cfg.split.method": "random"}.items():
            client.log_param(rid, key, value)
        client.log_metric(rid, "test_oa", oa)
        client.set_terminated(rid, "FINISHED")
    (row,) = compare_runs(store, "hsframe").rows
    assert row.key["model"] == "oldnet" and row.n == 2 and row.stats["test_oa"].mean == pytest.approx(0.6)


def test_groups_agree_with_the_fingerprint_tag(runs):
    """Grouping reads the cfg.* params; on real runs it makes exactly the partition the fingerprint tag makes."""
    import mlflow

    from hsframe.compare import compare_runs
    from hsframe.recording.base import FINGERPRINT_TAG

    store, _ = runs
    client = mlflow.MlflowClient(store)
    by_id = {r.info.run_id: r for r in client.search_runs([client.get_experiment_by_name("hsframe").experiment_id])}
    rows = compare_runs(store, "hsframe").rows
    tags = [{by_id[rid].data.tags[FINGERPRINT_TAG] for rid in row.run_ids} for row in rows]
    assert all(len(t) == 1 for t in tags)                # one fingerprint per group
    assert len({t.pop() for t in tags}) == len(rows)    # and a different one for each group


# ----------------------------------------------------------------------------------------------------
# Grouping cases on runs logged straight through MLflow, shaped like `hsframe run`'s (no training).

SAMSON = {"model": "hybridsn", "data.dataset": "samson", "split.method": "random", "split.train_fraction": 0.1,
          "split.val_fraction": 0.1}


class Store:
    """A tmp sqlite store; ``run(...)`` logs one run the way hsframe.engine.run does."""

    def __init__(self, tmp_path: Path, experiment: str = "hsframe"):
        import mlflow

        self.uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
        self.client = mlflow.MlflowClient(self.uri)
        self.exp = self.client.create_experiment(experiment)
        self.clock = 1_700_000_000_000

    def run(self, oa: float | None, seed: int = 0, status: str = "FINISHED", tags: dict | None = None,
            parent: str | None = None, fingerprint_tag: bool = True, **config) -> str:
        from hsframe.config import RunConfig, fingerprint, flatten
        from hsframe.recording.base import FINGERPRINT_TAG

        tree: dict = {}
        for key, value in {**SAMSON, **config, "seed": seed}.items():
            node = tree
            *path, last = key.split(".")
            for part in path:
                node = node.setdefault(part, {})
            node[last] = value
        cfg = RunConfig.model_validate(tree)
        all_tags = {"model": cfg.model, "dataset": cfg.data.dataset, **(tags or {})}
        if fingerprint_tag:
            all_tags[FINGERPRINT_TAG] = fingerprint(cfg)
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        self.clock += 1000  # each run starts a second after the one before
        rid = self.client.create_run(self.exp, start_time=self.clock, tags=all_tags,
                                     run_name=f"{cfg.model}-{cfg.data.dataset}-s{seed}").info.run_id
        params = {f"cfg.{k}": v for k, v in flatten(cfg.model_dump()).items()}
        params.update({"model": cfg.model, "dataset": cfg.data.dataset, "seed": seed, "lr": cfg.train.lr,
                       "epochs": cfg.train.epochs, "split": f"random, train 0.1, val 0.1, seed {seed}"})
        self.params(rid, params)
        if oa is not None:
            self.client.log_metric(rid, "test_oa", oa)
        if status != "RUNNING":
            self.client.set_terminated(rid, status, end_time=self.clock + 500)
        return rid

    def params(self, rid: str, params: dict) -> None:
        from mlflow.entities import Param

        self.client.log_batch(rid, params=[Param(k, str(v)) for k, v in params.items()])

    def parent(self, tags: dict) -> str:
        self.clock += 1000
        rid = self.client.create_run(self.exp, start_time=self.clock, tags=tags, run_name="sweep-lr").info.run_id
        self.params(rid, {"model": "hybridsn", "dataset": "samson"})
        return rid


@pytest.mark.parametrize("tagged", [True, False], ids=["fingerprint-tag", "recorded-before-the-tag"])
def test_two_configs_with_one_seed_are_two_rows(tmp_path, tagged):
    """The Samson case of issue #11: 2 epochs without a purity threshold vs 1 epoch with 0.6, both seed 0.
    Runs recorded before the fingerprint tag existed group the same way, from their cfg.* params."""
    from hsframe.compare import compare_runs

    st = Store(tmp_path)
    a = st.run(0.84, seed=0, fingerprint_tag=tagged, **{"train.epochs": 2})
    b = st.run(0.40, seed=0, fingerprint_tag=tagged, **{"train.epochs": 1, "data.dataset_options": {"purity_threshold": 0.6}})
    result = compare_runs(st.uri, "hsframe")
    assert [(r.run_ids, r.n, r.seeds) for r in result.rows] == [([a], 1, ["0"]), ([b], 1, ["0"])]
    assert [r.stats["test_oa"].mean for r in result.rows] == [0.84, 0.40]
    assert all(r.stats["test_oa"].std is None for r in result.rows)
    assert result.differing == ["data.dataset_options.purity_threshold", "train.epochs"]
    assert [r.differs for r in result.rows] == [
        {"data.dataset_options.purity_threshold": "unset", "train.epochs": "2"},
        {"data.dataset_options.purity_threshold": "0.6", "train.epochs": "1"}]
    assert [r.key for r in result.rows] == [{"model": "hybridsn", "dataset": "samson", "split": "random, train 0.1, val 0.1"}] * 2
    rec = result.records()
    assert rec[0]["cfg.train.epochs"] == "2" and rec[1]["cfg.data.dataset_options.purity_threshold"] == "0.6"
    assert rec[0]["n"] == 1 and rec[0]["seeds"] == "0" and rec[0]["test_oa_std"] is None
    assert "cfg.train.lr" not in rec[0]  # equal in every group: not shown
    by_entry = compare_runs(st.uri, "hsframe", group_by=["data.dataset_options.purity_threshold"])
    assert [(r.key, r.run_ids) for r in by_entry.rows] == [
        ({"data.dataset_options.purity_threshold": "unset"}, [a]), ({"data.dataset_options.purity_threshold": "0.6"}, [b])]

    md = invoke(st.uri, "--markdown")
    assert md.exit_code == 0, md.output
    lines = md.stdout.splitlines()
    assert lines[0] == "| model | dataset | split | config | n | seeds | test_oa |"
    assert lines[2] == ("| hybridsn | samson | random, train 0.1, val 0.1 | data.dataset_options.purity_threshold=unset, "
                        "train.epochs=2 | 1 | 0 | **0.8400 ± -** |")
    assert lines[3] == ("| hybridsn | samson | random, train 0.1, val 0.1 | data.dataset_options.purity_threshold=0.6, "
                        "train.epochs=1 | 1 | 0 | 0.4000 ± - |")
    table = CliRunner().invoke(compare, ["--tracking-uri", st.uri], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "2 finished run(s) in 2 group(s)" in table.output and "0.6216" not in table.output
    assert "train.epochs=1" in table.output and "purity_threshold=0.6" in table.output


def test_a_repeated_seed_counts_once(tmp_path):
    from hsframe.compare import compare_runs

    st = Store(tmp_path)
    old = st.run(0.70, seed=0)
    st.run(0.90, seed=1)
    new = st.run(0.80, seed=0)              # the same seed again: the latest FINISHED one stands for seed 0
    st.run(0.10, seed=0, status="FAILED")   # later still, but not FINISHED: it does not replace it
    other = st.run(0.50, seed=0, **{"train.lr": 0.01})  # seed 0 of another config is no duplicate
    result = compare_runs(st.uri, "hsframe")
    [row] = [r for r in result.rows if other not in r.run_ids]
    assert row.n == 2 and row.seeds == ["0", "1"] and old not in row.run_ids and new in row.run_ids
    assert row.stats["test_oa"].mean == pytest.approx(0.85) and row.stats["test_oa"].std == pytest.approx(0.1 / 2 ** 0.5)
    assert [(d.seed, d.kept, d.ignored) for d in result.duplicates] == [("0", new, (old,))]
    assert result.unfinished == 1
    r = CliRunner().invoke(compare, ["--tracking-uri", st.uri], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "1 duplicate seed run(s) ignored: seed 0 in group hybridsn / samson / random, train 0.1, val 0.1 (train.lr=0.001)" in r.output
    assert f"kept {new[:8]}, ignored {old[:8]}" in r.output
    assert "4 finished run(s) in 2 group(s)" not in r.output and "3 finished run(s) in 2 group(s)" in r.output
    md = invoke(st.uri, "--markdown")
    assert "1 duplicate seed run(s) ignored: seed 0" in md.stderr and "duplicate" not in md.stdout


def test_fingerprint_tags_that_disagree_with_the_params_keep_runs_apart(tmp_path):
    from hsframe.compare import compare_runs
    from hsframe.recording.base import FINGERPRINT_TAG

    st = Store(tmp_path)
    a = st.run(0.7, seed=0)
    b = st.run(0.8, seed=1)
    st.client.set_tag(b, FINGERPRINT_TAG, "0123456789abcdef")  # a config the params cannot tell apart
    untagged = st.run(0.6, seed=2, fingerprint_tag=False)       # recorded before the tag: grouped by its params
    result = compare_runs(st.uri, "hsframe")
    assert sorted(sorted(r.run_ids) for r in result.rows) == sorted([[a], [b], [untagged]])
    assert any(FINGERPRINT_TAG in w and "kept apart" in w for w in result.notes())
    st.client.set_tag(b, FINGERPRINT_TAG, st.client.get_run(a).data.tags[FINGERPRINT_TAG])
    [row] = compare_runs(st.uri, "hsframe").rows  # agreeing tags, and an untagged run with the same params: one group
    assert sorted(row.run_ids) == sorted([a, b, untagged]) and row.seeds == ["0", "1", "2"]


def test_by_regroups_and_unknown_keys_are_an_error(tmp_path):
    from hsframe.compare import compare_runs

    st = Store(tmp_path)
    st.run(0.80, seed=0, **{"train.lr": 0.001, "train.epochs": 2})
    st.run(0.60, seed=0, **{"train.lr": 0.001, "train.epochs": 1})
    st.run(0.40, seed=0, **{"train.lr": 0.1, "train.epochs": 2})
    assert len(compare_runs(st.uri, "hsframe").rows) == 3
    for spelling in ("train.lr", "cfg.train.lr"):
        result = compare_runs(st.uri, "hsframe", group_by=[spelling])
        assert result.group_by == ["train.lr"] and result.by == ["train.lr"]
        assert [(r.key, r.n, r.seeds) for r in result.rows] == [({"train.lr": "0.001"}, 2, ["0", "0"]),
                                                                 ({"train.lr": "0.1"}, 1, ["0"])]
        assert result.rows[0].stats["test_oa"].mean == pytest.approx(0.7)
        assert result.differing == ["train.epochs"] and [r.differs for r in result.rows] == [
            {"train.epochs": "{1|2}"}, {"train.epochs": "2"}]
        assert not result.duplicates  # seed 0 of two configs: pooled, not a duplicate
    assert [r.key for r in compare_runs(st.uri, "hsframe", group_by=["lr"]).rows] == [{"lr": "0.001"}, {"lr": "0.1"}]
    r = invoke(st.uri, "--by", "train.lr", "--markdown")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "| train.lr | config | n | seeds | test_oa |"
    assert r.stdout.splitlines()[2] == "| 0.001 | train.epochs={1\\|2} | 2 | 0,0 | **0.7000 ± 0.1414** |"

    for key, hint in (("nonsense", None), ("train.lrr", "Did you mean 'train.lr'?"), ("cfg.train.epoch", "Did you mean 'train.epochs'?")):
        r = invoke(st.uri, "--by", key)
        assert r.exit_code == 2, r.output
        assert f"unknown --by key '{key}'" in r.output and r.output.count("Error:") == 1 and "Traceback" not in r.output
        assert ("Did you mean '" in r.output or "Valid keys include" in r.output) if hint is None else hint in r.output


def sweep_store(tmp_path: Path) -> tuple[Store, dict[str, str]]:
    """A sweep over train.lr: three finished trials (the best is lr 0.01), one pruned; a re-run of the
    best config with seed 1 outside the sweep; and a run of another model."""
    from hsframe.recording.base import BEST_TRIAL_TAG, END_TAG, SWEEP_TAG, TRIAL_TAG

    st = Store(tmp_path)
    parent = st.parent({SWEEP_TAG: "parent"})
    ids = {"parent": parent}
    for n, (lr, oa) in enumerate(((0.1, 0.5), (0.01, 0.9), (0.001, 0.7))):
        ids[f"lr{lr}"] = st.run(oa, seed=0, parent=parent, tags={SWEEP_TAG: "trial", TRIAL_TAG: str(n)}, **{"train.lr": lr})
    ids["pruned"] = st.run(0.2, seed=0, parent=parent, status="KILLED", **{"train.lr": 0.3},
                           tags={SWEEP_TAG: "trial", TRIAL_TAG: "3", END_TAG: "pruned at epoch 2"})
    st.client.set_tag(parent, BEST_TRIAL_TAG, ids["lr0.01"])
    st.client.set_terminated(parent, "FINISHED")
    ids["rerun"] = st.run(0.8, seed=1, **{"train.lr": 0.01})
    ids["other"] = st.run(0.6, seed=0, model="nin")
    return st, ids


def test_a_sweep_parent_is_replaced_by_its_trials(tmp_path):
    from hsframe.compare import compare_runs
    from hsframe.recording.base import SWEEP_TAG

    st, ids = sweep_store(tmp_path)
    only = compare_runs(st.uri, "hsframe", f"tags.`{SWEEP_TAG}` = 'parent'")  # the parent brings its trials
    assert only.sweeps == 1 and only.pruned == 1 and only.unfinished == 0
    assert [(r.differs, r.n) for r in only.rows] == [({"train.lr": "0.01"}, 1), ({"train.lr": "0.001"}, 1),
                                                    ({"train.lr": "0.1"}, 1)]
    assert ids["parent"] not in {rid for r in only.rows for rid in r.run_ids}
    everything = compare_runs(st.uri, "hsframe")  # trials matched directly and through their parent: counted once
    assert sorted(rid for r in everything.rows for rid in r.run_ids) == sorted(
        ids[k] for k in ("lr0.1", "lr0.01", "lr0.001", "rerun", "other"))
    [best] = [r for r in everything.rows if ids["lr0.01"] in r.run_ids]
    assert sorted(best.run_ids) == sorted([ids["lr0.01"], ids["rerun"]]) and best.seeds == ["0", "1"]
    r = CliRunner().invoke(compare, ["--tracking-uri", st.uri], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "1 pruned trial(s) not shown" in r.output and "1 sweep parent run(s) shown through their trials" in r.output
    assert "not FINISHED" not in r.output  # the pruned trial is counted apart, not as an unfinished run


def test_best_shows_the_best_trials_group_per_sweep(tmp_path):
    from hsframe.compare import compare_runs

    st, ids = sweep_store(tmp_path)
    result = compare_runs(st.uri, "hsframe", best=True)
    shown = sorted(sorted(r.run_ids) for r in result.rows)
    assert shown == sorted([sorted([ids["lr0.01"], ids["rerun"]]), [ids["other"]]])  # runs outside sweeps stay
    assert result.rows[0].stats["test_oa"].mean == pytest.approx(0.85)
    assert any("best trial 1" in note and "2 other trial run(s) hidden by --best" in note for note in result.notes())
    r = invoke(st.uri, "--best", "--markdown")
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 2 + 2 and "0,1" in r.stdout.splitlines()[2]
    # A sweep without a best trial yet: its trials are all shown, and the note says why.
    st.client.delete_tag(ids["parent"], "hsframe.sweep.best_run_id")
    result = compare_runs(st.uri, "hsframe", best=True)
    assert len(result.rows) == 4 and any("has no best trial yet" in n for n in result.notes())
    # No sweep among the matching runs: --best has nothing to pick from.
    r = invoke(st.uri, "--best", "--filter", "params.model = 'nin'")
    assert r.exit_code == 2 and "no matching run belongs to a sweep" in r.output and "drop --best" in r.output
