"""Tracking stores that many processes share: parallel `hsframe run`s into one SQLite file and into a
PostgreSQL server (a throwaway one, tests/conftest.py), fast failure on an unreachable server, and
the lock and the retry behind them."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import runs_of

from hsframe.errors import HsframeError
from hsframe.stores import _sqlite_is_current, display_uri, file_lock, normalize_uri, prepare_store, retry_locked
from hsframe.tracking import TrackingSettings, _experiment_id, check_store, load_settings

PARALLEL = 8
MANY = 16  # the second count: each process does to the store what a first run does, without the training
# The cheapest real run: one epoch, the smallest HybridSN sizes; one thread each so that eight share the cores.
RUN = ["run", "--set", "train.epochs=1", "--set", "data.patch_size=9", "--set", "data.pca_components=13",
       "--set", "train.batch_size=64"]
# A first run's store traffic through the recorder a run uses: check (create and migrate), experiment, a run with
# params, per-epoch and test metrics and an artifact, ended FINISHED. One process imports MLflow and hsframe, then
# forks the N processes that write (so that 16 do not each spend seconds importing on two cores).
RECORD = """
import os, sys, traceback
from hsframe.recording.mlflow_recorder import MLflowRecorder
from hsframe.tracking import TrackingSettings

def record(uri, seed, artifacts):
    recorder = MLflowRecorder(TrackingSettings(tracking_uri=uri, artifact_location=artifacts))
    recorder.check()
    with recorder.run(f"seed {seed}", {"model": "hybridsn"}):
        recorder.log_params({"seed": seed, "model": "hybridsn"})
        for epoch in range(3):
            recorder.log_metrics({"train_loss": 1.0 / (epoch + 1), "val_oa": 0.5 + epoch / 10}, step=epoch)
        recorder.log_metrics({"test_oa": 0.9})
        recorder.log_dict({"seed": seed}, "config/resolved_config.yaml")

uri, n, artifacts = sys.argv[1], int(sys.argv[2]), sys.argv[3]
children = []
for seed in range(n):
    pid = os.fork()
    if pid == 0:
        try:
            record(uri, str(seed), artifacts)
            code = 0
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
    children.append(pid)
failed = sum(os.waitpid(pid, 0)[1] != 0 for pid in children)
sys.exit(f"{failed}/{n} recordings failed" if failed else 0)
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _parallel_runs(uri: str, cwd: Path, n: int = PARALLEL) -> tuple[list[subprocess.CompletedProcess], float]:
    """``n`` real `hsframe run`s started at once into ``uri``; their results and the wall time."""
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "hsframe", *RUN, "--seed", str(i), "--tracking-uri", uri],
                              cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(n)]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out))
    return results, time.perf_counter() - started


def _check_all_finished(uri: str, results: list[subprocess.CompletedProcess], seconds: float, label: str, n: int = PARALLEL) -> None:
    failed = [r.stdout[-1500:] for r in results if r.returncode != 0]
    assert not failed, f"{len(failed)} of the processes failed; first:\n{failed[0]}"
    runs = runs_of(uri)
    assert len(runs) == n
    assert [r.info.status for r in runs] == ["FINISHED"] * n
    assert all("test_oa" in r.data.metrics and "val_oa" in r.data.metrics for r in runs)  # no metric lost
    assert sorted(r.data.params["seed"] for r in runs) == sorted(str(i) for i in range(n))
    import mlflow

    client = mlflow.MlflowClient(uri)
    assert sorted(e.name for e in client.search_experiments()) == ["Default", "hsframe"]  # created once
    assert all(any(a.path == "config" for a in client.list_artifacts(r.info.run_id)) for r in runs)  # no artifact lost
    print(f"{label}: {n}/{n} parallel runs FINISHED in {seconds:.1f} s")


def test_parallel_first_runs_into_a_fresh_sqlite_file(tmp_path):
    db = tmp_path / "fresh" / "mlflow.db"
    db.parent.mkdir()
    assert not db.exists()
    uri = f"sqlite:///{db}"
    results, seconds = _parallel_runs(uri, tmp_path)
    _check_all_finished(uri, results, seconds, "SQLite (fresh file)")
    assert (db.parent / "mlflow.db.lock").exists()  # created and migrated under this lock


def test_sixteen_parallel_first_recordings_into_a_fresh_sqlite_file(tmp_path):
    db = tmp_path / "fresh" / "mlflow.db"
    db.parent.mkdir()
    uri = f"sqlite:///{db}"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RECORD, uri, str(MANY), str(tmp_path / "mlartifacts")], cwd=tmp_path, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    _check_all_finished(uri, [done], time.perf_counter() - started, f"SQLite (fresh file, {MANY} forked recordings)", n=MANY)


def test_parallel_first_runs_into_postgresql(postgres_url, tmp_path):
    results, seconds = _parallel_runs(postgres_url, tmp_path)
    _check_all_finished(normalize_uri(postgres_url), results, seconds, "PostgreSQL (fresh database)")


def test_unreachable_postgresql_fails_fast_naming_it(tmp_path):
    url = "postgresql://hsframe:s3cret@localhost:1/mlflow"
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "hsframe", *RUN, "--tracking-uri", url], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - started
    assert out.returncode == 2, out.stdout + out.stderr
    assert seconds < 10, f"took {seconds:.1f} s"
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: cannot reach tracking store"), lines
    assert "hsframe:***@localhost:1/mlflow" in lines[0] and "s3cret" not in lines[0]
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written


def test_unreachable_http_tracking_server_fails_fast():
    started = time.perf_counter()
    with pytest.raises(HsframeError, match=r"cannot reach tracking server http://127\.0\.0\.1:1: .*start it"):
        check_store(TrackingSettings(tracking_uri="http://127.0.0.1:1"))
    assert time.perf_counter() - started < 10


def test_postgresql_uri_gets_the_installed_driver(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    pytest.importorskip("psycopg2")
    settings = load_settings("no-such-mlflow.yml", uri="postgresql://u:p@db:5432/mlflow")
    try:
        import psycopg  # noqa: F401  (SQLAlchemy 2.1's default PostgreSQL driver)
    except ImportError:
        assert settings.tracking_uri == "postgresql+psycopg2://u:p@db:5432/mlflow"
    else:
        assert settings.tracking_uri == "postgresql://u:p@db:5432/mlflow"
    assert display_uri(settings.tracking_uri).endswith("://u:***@db:5432/mlflow")
    assert normalize_uri("sqlite:///mlflow.db") == "sqlite:///mlflow.db"


def _locked() -> Exception:
    """What MLflow's SQLAlchemy store raises when SQLite stays locked: sqlite3's error, wrapped."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

    try:
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.OperationalError as e:
            raise MlflowException(message=str(e), error_code=TEMPORARILY_UNAVAILABLE) from e
    except MlflowException as wrapped:
        return wrapped


def test_retry_locked_retries_with_growing_sleeps_then_succeeds():
    calls, sleeps = [], []

    def flaky(x, y=0):
        calls.append((x, y))
        if len(calls) <= 2:
            raise _locked()
        return x + y

    assert retry_locked(flaky, 40, y=2, sleep=sleeps.append, first_delay_s=0.1) == 42
    assert calls == [(40, 2)] * 3
    assert len(sleeps) == 2 and 0.05 <= sleeps[0] <= 0.1 and 0.1 <= sleeps[1] <= 0.2  # doubling, jittered down


def test_retry_locked_gives_up_after_the_bound_with_a_clear_message():
    calls, sleeps = [], []

    def always_locked():
        calls.append(1)
        raise _locked()

    with pytest.raises(HsframeError) as info:
        retry_locked(always_locked, what="MLflow log metrics", store="sqlite:///runs/mlflow.db", attempts=5,
                     first_delay_s=0.5, max_delay_s=1.0, sleep=sleeps.append)
    assert len(calls) == 5 and len(sleeps) == 4 and max(sleeps) <= 1.0
    message = str(info.value)
    assert message.startswith("MLflow log metrics: the tracking store sqlite:///runs/mlflow.db was still locked after 5 tries")
    assert "PostgreSQL" in message and "fewer parallel runs" in message
    assert isinstance(info.value.__cause__.__cause__, sqlite3.OperationalError)


def test_retry_locked_passes_other_errors_through_at_once():
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("no such table: runs")

    with pytest.raises(ValueError, match="no such table"):
        retry_locked(broken, sleep=lambda s: pytest.fail("slept on an error that is not a lock"))
    assert calls == [1]


def test_recorder_retries_a_locked_write(monkeypatch, store):
    import mlflow

    from hsframe.recording.mlflow_recorder import MLflowRecorder

    logged, sleeps = [], []

    def log_params(params):
        if len(logged) < 2:
            logged.append(None)
            raise _locked()
        logged.append(params)

    monkeypatch.setattr(mlflow, "log_params", log_params)
    monkeypatch.setattr("hsframe.stores.time.sleep", sleeps.append)
    MLflowRecorder(TrackingSettings(tracking_uri=store)).log_params({"lr": 0.1})
    assert logged == [None, None, {"lr": 0.1}] and len(sleeps) == 2


def test_file_lock_excludes_a_second_holder_until_released(tmp_path):
    lock = tmp_path / "mlflow.db.lock"
    with file_lock(lock, "the tracking store x"):
        started = time.perf_counter()
        with pytest.raises(HsframeError, match=r"waited 0.3 s for .*mlflow\.db\.lock: another process is still creating"):
            with file_lock(lock, "the tracking store x", wait_s=0.3):
                pass
        assert time.perf_counter() - started >= 0.3
    with file_lock(lock, "the tracking store x", wait_s=0.3):  # free again
        pass


def test_prepare_store_creates_a_fresh_sqlite_store_once(tmp_path):
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    assert not _sqlite_is_current(db)
    prepare_store(uri)
    assert _sqlite_is_current(db) and (tmp_path / "mlflow.db.lock").exists()
    prepare_store(uri)  # a second time finds it complete and opens it without the lock
    other = tmp_path / "other.db"
    other.write_bytes(b"not a database")
    assert not _sqlite_is_current(other)
    import mlflow

    assert [e.name for e in mlflow.MlflowClient(uri).search_experiments()] == ["Default"]


def test_experiment_created_meanwhile_by_another_process_is_reused(store, monkeypatch, tmp_path):
    import mlflow

    settings = TrackingSettings(tracking_uri=store, artifact_location=str(tmp_path / "art"))
    check_store(settings)
    existing = mlflow.MlflowClient(store).create_experiment("race", artifact_location=(tmp_path / "art").as_uri())
    real = mlflow.MlflowClient.get_experiment_by_name
    seen = []

    def first_misses(self, name):  # this process looked before the other one created it
        seen.append(name)
        return None if len(seen) == 1 else real(self, name)

    monkeypatch.setattr(mlflow.MlflowClient, "get_experiment_by_name", first_misses)
    assert _experiment_id(settings, "race") == existing
    assert seen == ["race", "race"]


def test_wrong_postgresql_password_is_one_line_without_the_password(postgres_url):
    user_part, host_part = postgres_url.split("@")
    wrong = f"{user_part.rsplit(':', 1)[0]}:not-the-password@{host_part}"
    with pytest.raises(HsframeError) as info:
        check_store(load_settings("no-such-mlflow.yml", uri=wrong))
    message = str(info.value)
    assert message.startswith("cannot reach tracking store postgresql") and "password authentication failed" in message
    assert f"hsframe:***@{host_part}" in message and "not-the-password" not in message and "\n" not in message


def test_a_sqlite_path_that_is_no_database_fails_at_once(tmp_path):
    (tmp_path / "adir.db").mkdir()
    (tmp_path / "notes.db").write_text("not a database, just text " * 100)
    started = time.perf_counter()
    with pytest.raises(HsframeError, match=r"cannot open tracking store .*adir\.db: .*adir\.db is a folder; .*adir\.db/mlflow\.db"):
        check_store(TrackingSettings(tracking_uri=f"sqlite:///{tmp_path / 'adir.db'}"))
    with pytest.raises(HsframeError, match=r"cannot open tracking store .*notes\.db: file is not a database; is .* an SQLite database"):
        check_store(TrackingSettings(tracking_uri=f"sqlite:///{tmp_path / 'notes.db'}"))
    assert time.perf_counter() - started < 10  # MLflow alone retries such files for about 100 s


# A store left half-migrated: what parallel starts without the lock (or an interrupted upgrade) leave behind.

def _store_with_a_run(tmp_path: Path) -> tuple[Path, str]:
    """A complete store holding one FINISHED run, copied to a path no MLflow client has opened yet in this process."""
    import shutil

    import mlflow

    made = tmp_path / "made.db"
    made_uri = f"sqlite:///{made}"
    prepare_store(made_uri)
    client = mlflow.MlflowClient(made_uri)
    run = client.create_run(client.create_experiment("kept", artifact_location=(tmp_path / "art").as_uri()))
    client.log_metric(run.info.run_id, "test_oa", 0.9)
    client.set_terminated(run.info.run_id, "FINISHED")
    db = tmp_path / "mlflow.db"
    shutil.copy(made, db)
    return db, run.info.run_id


def _migrated_to(db: Path, revision: str) -> None:
    """A fresh store created and migrated with alembic up to ``revision`` only (an older MLflow's store)."""
    import sqlalchemy
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase

    uri = f"sqlite:///{db}"
    engine = sqlalchemy.create_engine(uri)
    InitialBase.metadata.create_all(engine)
    config = _get_alembic_config(uri)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


def _refused(db: Path) -> str:
    """check_store's one-line message for ``db``, which it must leave unchanged."""
    before = db.read_bytes()
    with pytest.raises(HsframeError) as info:
        check_store(TrackingSettings(tracking_uri=f"sqlite:///{db}"))
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"tracking store sqlite:///{db} is half-migrated"), message
    assert db.read_bytes() == before  # nothing migrated, even in part
    return message


@pytest.mark.parametrize("damage", [
    "DELETE FROM alembic_version",
    "DROP TABLE alembic_version",
    # two starts each recorded a revision: alembic's "Online migration expected to match one row"
    "INSERT INTO alembic_version VALUES ('1a0cddfcaa16')",
])
def test_a_complete_store_without_its_revision_is_refused_with_the_repair_that_keeps_its_runs(tmp_path, damage):
    import re

    import mlflow

    db, run_id = _store_with_a_run(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute(damage)
    conn.close()
    message = _refused(db)
    assert "`mlflow db upgrade` cannot repair" in message and f"back up {db}" in message
    repair = re.search(rf'sqlite3 {re.escape(str(db))} "([^"]+)"', message).group(1)
    with sqlite3.connect(db) as conn:
        conn.executescript(repair)
    conn.close()
    check_store(TrackingSettings(tracking_uri=f"sqlite:///{db}"))
    assert _sqlite_is_current(db)
    assert mlflow.MlflowClient(f"sqlite:///{db}").get_run(run_id).info.status == "FINISHED"  # the old run kept


def test_an_older_store_with_a_later_migrations_table_is_refused_with_its_repair(tmp_path):
    import re

    db = tmp_path / "mlflow.db"
    _migrated_to(db, "1a0cddfcaa16")  # the next migration, 534353b11cbc, creates the scorers table
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE scorers (experiment_id INTEGER NOT NULL, scorer_name VARCHAR(256) NOT NULL, "
                     "scorer_id VARCHAR(36) NOT NULL PRIMARY KEY)")
    conn.close()
    message = _refused(db)
    assert "(recorded schema revision: 1a0cddfcaa16;" in message and "empty table scorers exists too early" in message
    drop, upgrade = re.search(rf'sqlite3 {re.escape(str(db))} "([^"]+)" && (mlflow db upgrade \S+)$', message).groups()
    assert drop == "DROP TABLE scorers" and upgrade == f"mlflow db upgrade sqlite:///{db}"
    with sqlite3.connect(db) as conn:
        conn.execute(drop)
    conn.close()
    done = subprocess.run([sys.executable, "-m", "mlflow", *upgrade.split()[1:]], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    check_store(TrackingSettings(tracking_uri=f"sqlite:///{db}"))
    assert _sqlite_is_current(db)


def test_a_store_whose_upgrade_cannot_succeed_is_told_to_restore_a_backup_or_start_anew(tmp_path):
    db = tmp_path / "mlflow.db"
    _migrated_to(db, "451aebb31d03")  # the first migration, which adds metrics.step ...
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM alembic_version")  # ... done, but not recorded: the next start adds it again
    conn.close()
    message = _refused(db)
    assert "(recorded schema revision: none;" in message and "duplicate column name: step" in message
    assert f"restore a backup of {db}, or move it aside (mv {db} {db}.broken) and rerun to start a new store" in message


def test_an_older_consistent_store_is_upgraded_as_before(tmp_path):
    db = tmp_path / "mlflow.db"
    _migrated_to(db, "1a0cddfcaa16")
    check_store(TrackingSettings(tracking_uri=f"sqlite:///{db}"))
    assert _sqlite_is_current(db)


def test_hsframe_run_on_a_half_migrated_store_is_one_line_and_no_run(tmp_path):
    db, run_id = _store_with_a_run(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM alembic_version")
    conn.close()
    out = subprocess.run([sys.executable, "-m", "hsframe", *RUN, "--tracking-uri", f"sqlite:///{db}"], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: tracking store sqlite:///{db} is half-migrated"), lines
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT run_uuid FROM runs").fetchall() == [(run_id,)]
    conn.close()
