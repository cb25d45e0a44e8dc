"""`hsframe runs` and `hsframe runs cleanup`: stale RUNNING runs (no heartbeat) are found and ended KILLED."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from hsframe.cli import cli
from hsframe.recording import END_TAG, HEARTBEAT_TAG
from hsframe.runs import end_reason, list_runs

HOUR = 3600.0
WIDE = {"COLUMNS": "250"}  # the whole table on one line per run


@pytest.fixture
def store(tmp_path):
    """A store with one run of each kind, named by what `hsframe runs` should make of it."""
    import mlflow

    now = time.time()  # each test's store is made at its start: the ages below hold while it runs
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    exp = client.create_experiment("hsframe", artifact_location=(tmp_path / "art").as_uri())

    def make(name: str, started: float, beat: float | None = None, status: str = "RUNNING", parent: str | None = None) -> str:
        tags = {"model": "hybridsn", "dataset": "synthetic-pines"}
        if beat is not None:
            tags[HEARTBEAT_TAG] = str(int(beat))
        if parent:
            tags["mlflow.parentRunId"] = parent
        run = client.create_run(exp, start_time=int(started * 1000), tags=tags, run_name=name)
        if status != "RUNNING":
            client.set_terminated(run.info.run_id, status, end_time=int((beat or started) * 1000))
        return run.info.run_id

    ids = {
        "dead": make("dead", now - 3 * HOUR, now - 2 * HOUR),
        "alive": make("alive", now - 3 * HOUR, now - 300),
        "never-beat-old": make("never-beat-old", now - 2 * HOUR),
        "never-beat-new": make("never-beat-new", now - 300),
        "finished": make("finished", now - 3 * HOUR, now - 2 * HOUR, status="FINISHED"),
    }
    # A parent of seeds has no heartbeat of its own: it lives as long as a child does.
    ids["parent"] = make("parent", now - 3 * HOUR)
    ids["child"] = make("child", now - 30, now - 10, parent=ids["parent"])
    return uri, ids, now


def test_stale_is_running_without_a_recent_heartbeat(store):
    uri, ids, now = store
    rows = {r.name: r for r in list_runs(uri, "hsframe", stale_after=600, now=now)}
    assert {name for name, r in rows.items() if r.stale} == {"dead", "never-beat-old"}
    assert rows["dead"].heartbeat == int(now - 2 * HOUR) and rows["never-beat-old"].heartbeat is None
    assert rows["parent"].last_alive == int(now - 10)  # its child's heartbeat
    assert end_reason(rows["dead"]).startswith("stale: no heartbeat since ")
    # A longer patience keeps them; a shorter one flags the quiet-for-a-minute ones too.
    assert not any(r.stale for r in list_runs(uri, "hsframe", stale_after=3 * HOUR, now=now))
    assert {r.name for r in list_runs(uri, "hsframe", stale_after=120, now=now) if r.stale} == {
        "dead", "never-beat-old", "alive", "never-beat-new"}


def test_runs_lists_every_run_and_flags_the_stale(store):
    uri, ids, now = store
    out = CliRunner().invoke(cli, ["runs", "--tracking-uri", uri], env=WIDE)
    assert out.exit_code == 0, out.output
    assert "7 run(s), 2 stale" in out.output
    lines = {name: next(line for line in out.output.splitlines() if ids[name] in line) for name in ids}
    assert {name for name, line in lines.items() if "(stale)" in line} == {"dead", "never-beat-old"}
    assert "FINISHED" in lines["finished"] and "synthetic-pines" in lines["alive"]
    assert "hsframe runs cleanup" in out.output


def test_cleanup_marks_only_stale_runs_killed(store):
    import mlflow

    uri, ids, now = store
    client = mlflow.MlflowClient(uri)

    def status(name: str) -> str:
        return client.get_run(ids[name]).info.status

    dry = CliRunner().invoke(cli, ["runs", "cleanup", "--tracking-uri", uri, "--dry-run"], env=WIDE)
    assert dry.exit_code == 0 and "2 stale run(s)" in dry.output and "nothing changed" in dry.output
    declined = CliRunner().invoke(cli, ["runs", "cleanup", "--tracking-uri", uri], input="n\n", env=WIDE)
    assert declined.exit_code == 0 and "Mark 2 run(s) KILLED?" in declined.output
    assert status("dead") == status("never-beat-old") == "RUNNING"

    done = CliRunner().invoke(cli, ["runs", "cleanup", "--tracking-uri", uri, "--yes"], env=WIDE)
    assert done.exit_code == 0 and "2 run(s) marked KILLED" in done.output, done.output
    dead = client.get_run(ids["dead"])
    assert dead.info.status == "KILLED" and dead.data.tags[END_TAG].startswith("stale: no heartbeat since 20")
    assert dead.info.end_time == int(now - 2 * HOUR) * 1000  # ended when it was last alive
    assert status("never-beat-old") == "KILLED"
    assert {name: status(name) for name in ("alive", "never-beat-new", "parent", "child")} == dict.fromkeys(
        ("alive", "never-beat-new", "parent", "child"), "RUNNING")
    again = CliRunner().invoke(cli, ["runs", "cleanup", "--tracking-uri", uri, "--yes"])
    assert again.exit_code == 0 and "no stale runs" in again.output

    # --stale-after given to the group applies to cleanup too.
    short = CliRunner().invoke(cli, ["runs", "--tracking-uri", uri, "--stale-after", "120", "cleanup", "--dry-run"], env=WIDE)
    assert "2 stale run(s)" in short.output and ids["alive"] in short.output and ids["never-beat-new"] in short.output


def test_runs_refuses_unknown_store_and_experiment(tmp_path, store):
    uri, _, _ = store
    missing = CliRunner().invoke(cli, ["runs", "--tracking-uri", f"sqlite:///{tmp_path / 'nope.db'}"])
    assert missing.exit_code == 2 and "no tracking store" in missing.output
    assert not (tmp_path / "nope.db").exists()
    unknown = CliRunner().invoke(cli, ["runs", "--tracking-uri", uri, "-e", "hsfram"])
    assert unknown.exit_code == 2 and "unknown experiment 'hsfram'" in unknown.output and "'hsframe'" in unknown.output
    both = CliRunner().invoke(cli, ["runs", "cleanup", "--tracking-uri", uri, "--yes", "--dry-run"])
    assert both.exit_code == 2 and "contradict" in both.output


def test_runs_keeps_torch_out(store):
    uri, _, _ = store
    code = ("import sys\nfrom click.testing import CliRunner\nfrom hsframe.cli import cli\n"
            f"r = CliRunner().invoke(cli, ['runs', '--tracking-uri', {uri!r}])\n"
            "assert r.exit_code == 0, r.output\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
