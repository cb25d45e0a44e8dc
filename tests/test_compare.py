"""`hsframe compare` on real runs in a temporary store, checked against MLflow directly.

The runs are real `hsframe run`s: HybridSN once (FAST, one epoch) and a tiny model plugin
registered in-process (a linear layer on the patch's mean spectrum: it trains in a blink) over
seeds 0,1 (a parent with two children), once more with seed 2 as a plain run (same recipe: it
joins that group), and once with another split. A FAILED and a RUNNING run with a fake test_oa
must be left out; a second experiment holds one run of its own.
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
        kappa = np.array([r.data.metrics["test_kappa"] for r in members])
        assert row.stats["test_kappa"].mean == pytest.approx(kappa.mean(), abs=1e-12)
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
    assert result.metrics == ["test_kappa", "test_oa", "test_aa"]
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


def test_group_by_more_params(runs, tmp_path):
    from hsframe.compare import GROUP_BY, compare_runs

    store, _ = runs
    per_seed = compare_runs(store, "hsframe", group_by=(*GROUP_BY, "seed"))
    assert len(per_seed.rows) == 5 and all(r.n == 1 for r in per_seed.rows)
    r = invoke(store, "--by", "patch_size", "--markdown", "--csv", str(tmp_path / "t.csv"))
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "| model | dataset | split | patch_size | runs | test_oa | test_aa | test_kappa |"
    assert "| hybridsn | synthetic-pines | random, train 0.1, val 0.1 | 9 | 1 |" in r.stdout
    assert "CSV written to" not in r.stdout  # stdout stays a clean table to redirect into a paper


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
    assert list(rows[0])[:6] == ["model", "dataset", "split", "n", "seeds", "test_oa_mean"]
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
    assert [float(x["test_oa_mean"]) for x in rows] == sorted((float(x["test_oa_mean"]) for x in rows), reverse=True)


def test_markdown(runs):
    from hsframe.compare import compare_runs

    store, _ = runs
    r = invoke(store, "--markdown")
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0] == "| model | dataset | split | runs | test_oa | test_aa | test_kappa |"
    assert lines[1] == "|---|---|---|---:|---:|---:|---:|"
    assert len(lines) == 2 + 3 and all(line.startswith("| ") and line.endswith(" |") for line in lines[2:])
    result = compare_runs(store, "hsframe")
    best = lines[2].split(" | ")
    assert best[0] == f"| {result.rows[0].key['model']}" and best[4] == f"**{result.rows[0].stats['test_oa'].format()}**"
    cells = [line.strip("| ").split(" | ") for line in lines[2:]]
    assert [c[3] for c in cells] == [str(row.n) for row in result.rows]
    assert all(len(c) == 7 for c in cells)


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
