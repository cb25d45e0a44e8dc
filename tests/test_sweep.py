"""hsframe sweep: the search space, trials as child runs selected on validation, pruning, continuing, workers."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import runs_of

from hsframe.cli import cli
from hsframe.errors import HsframeError
from hsframe.recording import END_TAG, FINISHED, KILLED, SWEEP_TAG, TRIAL_TAG, MemoryRecorder
from hsframe.stores import _sqlite_is_current
from hsframe.study import parse_space
from hsframe.study.sweep import sweep

# The cheapest model the embedded scene trains: a few seconds a trial, in this process.
TINY = ("model=spectral_1x1", "data.patch_size=5", "data.pca_components=5", "eval.full_map=false", "train.batch_size=64")


# --- the search space -------------------------------------------------------------------------------------

def test_space_reads_every_kind_nested_or_dotted():
    space = parse_space({"train.lr": {"log_float": [1e-4, 1e-2]}, "data": {"patch_size": {"choice": [5, 7]}},
                         "train.batch_size": {"int": [16, 64, 16]}, "train.weight_decay": {"float": [0.0, 1e-3]},
                         "train.epochs": {"log_int": [1, 8]}, "plugin": {"choice": ["conv3d", "hybridsn"]}})
    assert space.keys == ["train.lr", "data.patch_size", "train.batch_size", "train.weight_decay", "train.epochs", "model"]
    import optuna

    trial = optuna.trial.FixedTrial({"train.lr": 1e-3, "data.patch_size": 7, "train.batch_size": 32,
                                     "train.weight_decay": 0.0, "train.epochs": 2, "model": "conv3d"})
    assert space.suggest(trial) == {"train.lr": 1e-3, "data.patch_size": 7, "train.batch_size": 32,
                                    "train.weight_decay": 0.0, "train.epochs": 2, "model": "conv3d"}


@pytest.mark.parametrize("tree, message", [
    ({"train.lrr": {"log_float": [1e-4, 1e-2]}}, "unknown config key 'train.lrr' (from the search space). Did you mean 'train.lr'?"),
    ({"data.patch_size": {"choice": []}}, "the choice list is empty"),
    ({"train.lr": {"float": [0.1, 0.01]}}, "low 0.1 > high 0.01"),
    ({"train.lr": {"log_float": [0.0, 0.01]}}, "a log range needs low > 0"),
    ({"train.epochs": {"int": [1.5, 3]}}, "needs whole numbers"),
    ({"train.lr": {"uniform": [0.1, 0.2]}}, "give one of float, log_float, int, log_int, choice"),
    ({"train.lr": 0.1}, "give one of float, log_float, int, log_int, choice"),
    ({}, "is empty"),
    ({"train.lr": {"float": [0.1, 0.2]}, "train": {"lr": {"float": [0.1, 0.3]}}}, "names train.lr twice"),
])
def test_bad_space_is_one_clear_message(tree, message):
    with pytest.raises(HsframeError) as info:
        parse_space(tree)
    assert message in str(info.value)


# --- bad input: exit 2, nothing left behind ----------------------------------------------------------------

@pytest.mark.parametrize("space, extra, message", [
    ("train.lrr: {log_float: [1.0e-4, 1.0e-2]}\n", [], "Did you mean 'train.lr'?"),
    ("data.patch_size: {choice: []}\n", [], "choice list is empty"),
    ("train.lr: {float: [0.1, 0.01]}\n", [], "low 0.1 > high 0.01"),
    ("train.lr: {log_float: [0, 0.01]}\n", [], "log range needs low > 0"),
    ("train.optimizer: {choice: [adam, rmsprop]}\n", [], "the value 'rmsprop' is not valid"),
    ("train.lr: {float: [0.001, 0.01]}\n", ["--set", "train.lr=0.1"], "both fixed with --set and searched"),
    ("train.lr: {float: [0.001, 0.01]}\n", ["--metric", "test_oa"], "would tune on the test split"),
    ("train.lr: {float: [0.001, 0.01]}\n", ["--storage", "postgresql://nobody@127.0.0.1:1/optuna"],
     "cannot open study storage postgresql://nobody@127.0.0.1:1/optuna"),
])
def test_bad_sweep_input_exits_2_and_leaves_no_run_or_study(tmp_path, space, extra, message):
    (tmp_path / "space.yaml").write_text(space)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    start = time.perf_counter()
    r = CliRunner().invoke(cli, ["sweep", "--space", str(tmp_path / "space.yaml"), "--trials", "2", "--tracking-uri", store, *extra])
    assert r.exit_code == 2, r.output
    assert message in " ".join(r.output.split())
    assert time.perf_counter() - start < 30  # an unreachable server is named at once, not after minutes of retries
    assert not (tmp_path / "optuna.db").exists()
    assert not (tmp_path / "mlflow.db").exists() or runs_of(store) == []


# --- trials are runs, selected on validation only -----------------------------------------------------------

def _trial_runs(rec: MemoryRecorder):
    return [r for r in rec.runs.values() if r.tags.get(SWEEP_TAG) == "trial"]


def test_sweep_trials_are_child_runs_and_the_best_is_chosen_on_validation(tmp_path):
    rec = MemoryRecorder()
    space = {"train.lr": {"log_float": [1e-3, 3e-2]}}
    s = sweep(space, trials=3, sets=TINY + ("train.epochs=2",), storage=f"sqlite:///{tmp_path}/optuna.db",
              recorder=rec, tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", quiet=True, pruner="none")
    parent = rec.runs[s.parent_run_id]
    trials = _trial_runs(rec)
    assert parent.tags[SWEEP_TAG] == "parent" and parent.status == FINISHED
    assert len(trials) == 3 and all(t.parent_id == parent.run_id and t.status == FINISHED for t in trials)
    assert sorted(int(t.tags[TRIAL_TAG]) for t in trials) == [0, 1, 2]
    # Each trial's objective is its best per-epoch val_oa: what it logged, never a test figure.
    by_number = {int(t.tags[TRIAL_TAG]): t for t in trials}
    for record in s.trials:
        run = by_number[record.number]
        assert record.value == max(v for _, v in run.metrics["val_oa"])
        assert record.run_id == run.run_id
    best = max(s.trials, key=lambda t: t.value)
    assert s.best.number == best.number
    assert s.best_test_metrics["test_oa"] == by_number[best.number].metric("test_oa")
    assert parent.metric("best_val_oa") == best.value and parent.metric("test_oa") == s.best_test_metrics["test_oa"]
    text = parent.artifacts["best_config.yaml"]
    import yaml

    config = yaml.safe_load(text)
    assert config["train"]["lr"] == s.best.params["train.lr"] and config["model"] == "spectral_1x1"
    assert "hsframe run --config best_config.yaml" in text
    (tmp_path / "best_config.yaml").write_text(text)
    import hsframe

    assert hsframe.load_config(tmp_path / "best_config.yaml").train.lr == s.best.params["train.lr"]


def test_a_pruned_trial_is_killed_with_its_reason_not_failed(tmp_path, monkeypatch):
    """The pruning path end to end, with a pruner that prunes every trial after the first at epoch 1."""
    import optuna

    class PruneAfterFirst(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number > 0

    monkeypatch.setattr("hsframe.study.sweep._pruner", lambda name: PruneAfterFirst())
    rec = MemoryRecorder()
    s = sweep({"train.lr": {"log_float": [1e-3, 3e-2]}}, trials=2, sets=TINY + ("train.epochs=3",),
              storage=f"sqlite:///{tmp_path}/optuna.db", recorder=rec, quiet=True)
    assert [t.state for t in s.trials] == ["COMPLETE", "PRUNED"]
    pruned = next(t for t in _trial_runs(rec) if t.tags[TRIAL_TAG] == "1")
    assert pruned.status == KILLED and pruned.tags[END_TAG].startswith("pruned at epoch 1 (val_oa")
    assert [step for step, _ in pruned.metrics["val_oa"]] == [1]  # stopped: no epoch 2, no test evaluation
    assert "test_oa" not in pruned.metrics
    assert rec.runs[s.parent_run_id].metric("n_pruned") == 1 and s.best.number == 0


def test_the_same_sweep_again_continues_the_study_under_the_same_parent(tmp_path):
    rec = MemoryRecorder()
    kwargs = dict(sets=TINY + ("train.epochs=1",), storage=f"sqlite:///{tmp_path}/optuna.db", recorder=rec, quiet=True)
    first = sweep({"train.lr": {"log_float": [1e-3, 3e-2]}}, trials=1, **kwargs)
    second = sweep({"train.lr": {"log_float": [1e-3, 3e-2]}}, trials=2, **kwargs)
    assert second.study == first.study and second.parent_run_id == first.parent_run_id
    assert [t.number for t in second.trials] == [0, 1] and len(_trial_runs(rec)) == 2
    # The continued study draws new values, not the seeded sequence again from its start.
    assert second.trials[1].params["train.lr"] != second.trials[0].params["train.lr"]
    again = sweep({"train.lr": {"log_float": [1e-3, 3e-2]}}, trials=2, **kwargs)  # nothing left to run
    assert len(_trial_runs(rec)) == 2 and len(again.trials) == 2
    assert rec.runs[first.parent_run_id].status == FINISHED


def _two_worker_sweep(tmp_path, store: str, *extra: str):
    (tmp_path / "space.yaml").write_text("train.lr: {log_float: [1.0e-3, 3.0e-2]}\n")
    args = ["sweep", "--space", str(tmp_path / "space.yaml"), "--trials", "2", "--workers", "2", "--tracking-uri", store,
            "--model", "spectral_1x1", *(x for s in TINY[1:] + ("train.epochs=1",) for x in ("--set", s)),
            "--summary-json", str(tmp_path / "sweep.json"), "--best-config", str(tmp_path / "best.yaml"), *extra]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output


def test_two_worker_processes_share_one_study_and_one_parent_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default artifact folder (./mlartifacts) of the spawned worker too
    store = f"sqlite:///{tmp_path}/mlflow.db"
    _two_worker_sweep(tmp_path, store)
    runs = runs_of(store)
    parent = [x for x in runs if x.data.tags.get(SWEEP_TAG) == "parent"]
    trials = [x for x in runs if x.data.tags.get(SWEEP_TAG) == "trial"]
    assert len(parent) == 1 and len(trials) == 2
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {parent[0].info.run_id}
    assert all(t.info.status == FINISHED and "test_oa" in t.data.metrics for t in trials)
    assert sorted(t.data.tags[TRIAL_TAG] for t in trials) == ["0", "1"]
    import json

    summary = json.loads(Path(tmp_path / "sweep.json").read_text())
    assert parent[0].data.tags["hsframe.sweep.best_run_id"] == summary["best"]["run_id"]
    assert (tmp_path / "optuna.db").is_file()  # the default storage sits beside the tracking store
    import hsframe

    best = hsframe.load_config(tmp_path / "best.yaml")
    assert best.train.lr == summary["best"]["params"]["train.lr"] and best.model == "spectral_1x1"


def test_ctrl_c_stops_the_sweep_cleanly_and_the_same_call_finishes_it(tmp_path, monkeypatch):
    from hsframe.engine import run as run_module

    rec = MemoryRecorder()
    kwargs = dict(sets=TINY + ("train.epochs=1",), storage=f"sqlite:///{tmp_path}/optuna.db", recorder=rec, quiet=True)
    real = run_module.run_one
    calls = []

    def interrupted_second_trial(cfg, *args, on_epoch=None, **kw):
        calls.append(cfg)

        def hook(epoch, record):
            if len(calls) == 2:
                raise KeyboardInterrupt  # what Ctrl-C raises, in the middle of trial 1's training
            on_epoch(epoch, record)

        return real(cfg, *args, on_epoch=hook, **kw)

    monkeypatch.setattr(run_module, "run_one", interrupted_second_trial)
    with pytest.raises(KeyboardInterrupt):
        sweep({"train.lr": {"log_float": [1e-3, 3e-2]}}, trials=2, **kwargs)
    parent = next(r for r in rec.runs.values() if r.tags.get(SWEEP_TAG) == "parent")
    assert parent.status == KILLED
    assert [t.status for t in _trial_runs(rec)] == [FINISHED, KILLED]
    monkeypatch.setattr(run_module, "run_one", real)
    done = sweep({"train.lr": {"log_float": [1e-3, 3e-2]}}, trials=2, **kwargs)
    assert done.parent_run_id == parent.run_id and rec.runs[parent.run_id].status == FINISHED
    assert [t.state for t in done.trials] == ["COMPLETE", "FAIL", "COMPLETE"]  # the interrupted one is re-run
    assert done.count("COMPLETE") == 2


def test_a_two_worker_sweep_into_postgresql_loses_nothing(postgres_server, tmp_path, monkeypatch):
    """MLflow and the Optuna study on one PostgreSQL server (two databases), as several machines would share them."""
    import optuna

    monkeypatch.chdir(tmp_path)
    store, storage = postgres_server.new_database("mlflow"), postgres_server.new_database("optuna")
    _two_worker_sweep(tmp_path, store, "--storage", storage, "--study", "pg-sweep")
    from hsframe.stores import normalize_uri

    runs = runs_of(normalize_uri(store))
    trials = [x for x in runs if x.data.tags.get(SWEEP_TAG) == "trial"]
    parent = [x for x in runs if x.data.tags.get(SWEEP_TAG) == "parent"]
    assert len(parent) == 1 and parent[0].info.status == FINISHED
    assert len(trials) == 2 and all(t.info.status == FINISHED and "test_oa" in t.data.metrics for t in trials)
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {parent[0].info.run_id}
    from hsframe.study.storage import open_storage

    study = optuna.load_study(study_name="pg-sweep", storage=open_storage(storage))
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert {t.user_attrs["run_id"] for t in study.trials} == {t.info.run_id for t in trials}


def test_a_second_command_joins_a_study_whose_parent_run_another_command_holds(tmp_path, monkeypatch):
    """What a second machine does: same study, same parent run (held RUNNING by the first), its own trials."""
    import mlflow

    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    kwargs = dict(sets=TINY + ("train.epochs=1",), tracking_uri=store, quiet=True, study="shared")
    first = sweep({"train.lr": {"log_float": [1e-3, 3e-2]}}, trials=1, **kwargs)
    client = mlflow.MlflowClient(store)
    client.update_run(first.parent_run_id, "RUNNING")  # as while the first command still works on the study
    joined = sweep({"train.lr": {"log_float": [1e-3, 3e-2]}}, trials=2, **kwargs)
    assert joined.joined and joined.parent_run_id == first.parent_run_id
    trials = [r for r in runs_of(store) if r.data.tags.get(SWEEP_TAG) == "trial"]
    assert sorted(t.data.tags[TRIAL_TAG] for t in trials) == ["0", "1"]
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {first.parent_run_id}
    assert client.get_run(first.parent_run_id).info.status == "RUNNING"  # the joiner leaves the parent to its holder


def test_the_median_pruner_never_stops_a_trial_at_its_first_epoch():
    import optuna

    from hsframe.study.sweep import _pruner

    study = optuna.create_study(direction="maximize", pruner=_pruner("median"))
    for value in (0.9, 0.8):  # two finished trials: past the pruner's start-up
        trial = study.ask()
        trial.report(value, 1)
        trial.report(value, 2)
        study.tell(trial, value)
    hopeless = study.ask()
    hopeless.report(0.0, 1)
    assert not hopeless.should_prune()  # epoch 1: warm-up
    hopeless.report(0.0, 2)
    assert hopeless.should_prune()      # epoch 2, below the median of the others at epoch 2


def test_a_trial_left_running_by_a_killed_worker_is_failed_and_run_again(tmp_path, monkeypatch):
    """kill -9 leaves an Optuna trial RUNNING; once its heartbeat is older than the grace period it is
    failed, and the study does not count it as running."""
    import optuna

    from hsframe.study import storage as storage_module
    from hsframe.study.sweep import SweepRequest, open_study

    monkeypatch.setattr(storage_module, "GRACE_SECONDS", 1)
    rec = MemoryRecorder()
    space = {"train.lr": {"log_float": [1e-3, 3e-2]}}
    url = f"sqlite:///{tmp_path}/optuna.db"
    kwargs = dict(sets=TINY + ("train.epochs=1",), storage=url, recorder=rec, quiet=True, study="killed")
    request = SweepRequest(parse_space(space), 1, sets=kwargs["sets"])
    study = open_study(request, "killed", url, 0)
    zombie = study.ask()  # the worker's trial, as it was when the worker died
    study._storage.record_heartbeat(zombie._trial_id)
    time.sleep(2.5)
    done = sweep(space, trials=1, **kwargs)
    assert [t.state for t in done.trials] == ["FAIL", "COMPLETE"]
    assert optuna.load_study(study_name="killed", storage=storage_module.open_storage(url)).trials[0].state.name == "FAIL"


def test_sigterm_to_the_main_process_alone_stops_every_worker(tmp_path):
    """`kill PID` reaches only the main process: it must stop its workers too, every trial ending KILLED."""
    import os
    import signal
    import subprocess
    import sys

    (tmp_path / "space.yaml").write_text("train.lr: {log_float: [1.0e-3, 3.0e-2]}\n")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    sets = [a for s in TINY[1:] + ("train.epochs=200",) for a in ("--set", s)]  # far longer than the test waits
    proc = subprocess.Popen([sys.executable, "-m", "hsframe", "sweep", "--model", "spectral_1x1", "--space", "space.yaml",
                             "--trials", "2", "--workers", "2", "--tracking-uri", store, *sets],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # until both trials train
        time.sleep(0.5)
        # The sweep creates and migrates the store under its lock; a plain MLflow client opened before that is
        # done would migrate it too, racing the sweep (`table _alembic_tmp_params already exists`, seen on CI).
        if not _sqlite_is_current(tmp_path / "mlflow.db"):
            continue
        try:  # the store may still be being migrated by the sweep
            trials = [r for r in runs_of(store) if r.data.tags.get(SWEEP_TAG) == "trial"]
        except Exception:
            continue
        if len(trials) == 2 and all("val_oa" in r.data.metrics for r in trials):
            break
    else:
        proc.kill()
        pytest.fail("the two trials did not start training within 120 s:\n" + proc.communicate()[0][-2000:])
    os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 128 + signal.SIGTERM, out[-2000:]
    left = time.time() + 20  # no worker left behind in the process group (helpers such as
    while time.time() < left:  # multiprocessing's resource tracker end a moment after the main process)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        pytest.fail("processes of the sweep are still alive 20 s after it ended")
    runs = runs_of(store)
    assert sorted(r.info.status for r in runs if r.data.tags.get(SWEEP_TAG) == "trial") == [KILLED, KILLED]
    assert [r.info.status for r in runs if r.data.tags.get(SWEEP_TAG) == "parent"] == [KILLED]
