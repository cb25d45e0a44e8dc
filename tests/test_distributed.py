"""Data-parallel training (hsframe.distributed): 2 gloo processes on the CPU, started by torchrun as a user would.

The step equality is checked on `train()` itself: a model without dropout or batch norm, the same global
batch, one epoch on two ranks against one process, for plain and weighted losses, with micro-batches and a
last batch that does not divide evenly. The CLI tests check that `hsframe run --nproc-per-node 2`, and two
"nodes" on this host (--nnodes 2 --rdzv-endpoint), end with exactly one MLflow run, recorded by rank 0, and
that a rank killed mid-step ends every rank and leaves the run FAILED.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
import pytest
import torch
from conftest import make_dist

from hsframe.distributed import World, strip_options
from hsframe.errors import HsframeError

REPO = Path(__file__).resolve().parents[1]

# One epoch of train() on a fixed toy scene; run as a script (one process) or under torchrun (two ranks).
TRAIN_SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    import torch
    from rich.console import Console
    from hsframe.config import TrainConfig
    from hsframe.data.patches import PatchSource
    from hsframe.distributed import World, leave
    from hsframe.progress import TrainingProgress
    from hsframe.training import train

    out, loss, micro = sys.argv[1], sys.argv[2], None if sys.argv[3] == "none" else int(sys.argv[3])
    world = World.from_env()
    world.join(torch.device("cpu"))
    torch.manual_seed(0)
    features = torch.randn(5, 9, 8)
    targets = np.arange(72) % 3
    model = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 3, 3))
    cfg = TrainConfig(epochs=1, batch_size=8, lr=0.05, optimizer="sgd", loss=loss, micro_batch_size=micro, amp=False)
    train_index = np.arange(0, 61)  # 61 = 7 global batches of 8 and one of 5: unequal shares on the ranks
    progress = TrainingProgress(Console(quiet=True), 1, 8)
    train(model, PatchSource(features, 3), targets, train_index, np.arange(61, 72), cfg, torch.device("cpu"),
          torch.Generator().manual_seed(1), progress, world=world)
    if world.main:
        torch.save(model.state_dict(), out)
    leave()
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    return {**clean, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("loss, micro", [("cross_entropy", "none"), ("weighted_cross_entropy", "3")])
def test_two_ranks_take_the_single_process_step(tmp_path, loss, micro):
    script = tmp_path / "one_epoch.py"
    script.write_text(TRAIN_SCRIPT)
    single, parallel = tmp_path / "single.pt", tmp_path / "parallel.pt"
    r = subprocess.run([sys.executable, str(script), str(single), loss, micro], env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
                        str(script), str(parallel), loss, micro], env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = torch.load(single), torch.load(parallel)
    torch.manual_seed(0)  # the script's weights before training: same seed, same draws
    torch.randn(5, 9, 8)
    start = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(12, 3))
    assert any((a[k] - v).abs().max() > 1e-3 for k, v in start.state_dict().items())  # the epoch moved the weights
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-5


# The fast end-to-end settings: the embedded scene, one epoch, the smallest HybridSN.
QUICK = ["--set", "train.epochs=1", "--set", "data.patch_size=9", "--set", "data.pca_components=13", "--set", "eval.full_map=false"]


def _runs(store: str) -> list:
    client = mlflow.MlflowClient(store)
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def test_hsframe_run_on_two_ranks_records_one_run(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    r = subprocess.run([sys.executable, "-m", "hsframe", "run", "--model", "hybridsn", "--nproc-per-node", "2", *QUICK,
                        "--set", f"train.checkpoint_dir={tmp_path / 'ckpt'}", "--tracking-uri", store],
                       env=_env(), capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = _runs(store)
    assert [(run.info.status, run.data.tags.get("world_size")) for run in runs] == [("FINISHED", "2")]
    assert "test_oa" in runs[0].data.metrics and r.stdout.count("MLflow run id") == 1  # rank 0 alone reports


def test_two_nodes_meet_at_the_rendezvous_and_record_one_run(tmp_path):
    """The documented multi-node command, one process per "node", both nodes on this host."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [sys.executable, "-m", "hsframe", "run", "--model", "hybridsn", "--nproc-per-node", "1", "--nnodes", "2",
               "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", *QUICK, "--set", f"train.checkpoint_dir={tmp_path / 'ckpt'}",
               "--tracking-uri", store]
    nodes = [subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for _ in range(2)]
    try:
        outs = [node.communicate(timeout=300) for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(err[-2000:] for _, err in outs)
    runs = _runs(store)
    assert [(run.info.status, run.data.tags.get("world_size")) for run in runs] == [("FINISHED", "2")]
    assert sum(out.count("MLflow run id") for out, _ in outs) == 1  # global rank 0 alone reports, on one of the nodes


# A model plugin whose rank 1 is killed (as the kernel kills a process out of memory) at its third training
# batch, while rank 0 goes on into that step's gradient all-reduce: gloo fails rank 0's collective at once, and
# torchrun's SIGTERM to rank 0 follows within its 0.1 s monitor interval, while rank 0 is ending the run
# (in its run_finished hook).
FLAKY = """
import os
import signal
import signal
import time
from pathlib import Path

from hsframe import ModelSpec, hookimpl


def build(spec, **options):
    import torch

    Path(os.environ["FLAKY_PIDS"], os.environ["RANK"]).write_text(str(os.getpid()))

    class Flaky(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(spec.channels * spec.depth * spec.height * spec.width, spec.num_classes)
            self.calls = 0

        def forward(self, x):
            self.calls += self.training
            if self.training and self.calls == 3 and os.environ["RANK"] == "1":
                if os.environ.get("FLAKY_STALL"):  # stall: rank 0 waits in the step's all-reduce
                    Path(os.environ["FLAKY_PIDS"], "stalled").write_text("")
                    time.sleep(600)
                os.kill(os.getpid(), signal.SIGKILL)
            return self.fc(x.flatten(1))

    return Flaky()


@hookimpl
def register_models(register):
    register(ModelSpec(name="flaky", build=build))


@hookimpl
def run_finished(run_id, config, metrics, status):
    import time

    time.sleep(1)  # a hook with work to do (a report to send): rank 0 is still ending the run when torchrun's SIGTERM comes
"""


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "Z"  # a zombie has ended
    except FileNotFoundError:
        return True


def _flaky_run(tmp_path: Path, **env: str) -> tuple[list[str], dict[str, str], Path, str]:
    """``hsframe run --model flaky --nproc-per-node 2``: its command, environment (the flaky plugin installed,
    its pid folder), the pid folder and the MLflow store."""
    site, pids = tmp_path / "site", tmp_path / "pids"
    site.mkdir(), pids.mkdir()
    make_dist(site, "fake-flaky", "flaky", FLAKY)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    environ = {**_env(), "FLAKY_PIDS": str(pids), **env}
    environ["PYTHONPATH"] = os.pathsep.join([str(site), environ["PYTHONPATH"]])
    command = [sys.executable, "-m", "hsframe", "run", "--model", "flaky", "--nproc-per-node", "2", *QUICK,
               "--set", "train.batch_size=16", "--set", f"train.checkpoint_dir={tmp_path / 'ckpt'}", "--tracking-uri", store]
    return command, environ, pids, store


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the ranks' states from /proc")
def test_a_stopped_launcher_stops_every_rank_and_the_run_failed(tmp_path):
    """A scheduler's SIGTERM to `hsframe run --nproc-per-node` must reach the ranks (torchrun starts them in sessions of their own)."""
    command, env, pids, store = _flaky_run(tmp_path, FLAKY_STALL="1")
    launcher = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 150
        while not (pids / "stalled").exists():  # both ranks are in the third training step
            assert launcher.poll() is None and time.monotonic() < deadline, launcher.communicate()[1][-3000:]
            time.sleep(0.2)
        launcher.send_signal(signal.SIGTERM)
        _, err = launcher.communicate(timeout=120)
    finally:
        launcher.kill()
    assert launcher.returncode != 0, err[-3000:]
    ranks = {p.name: int(p.read_text()) for p in pids.iterdir() if p.name != "stalled"}
    assert sorted(ranks) == ["0", "1"] and all(_gone(pid) for pid in ranks.values()), err[-3000:]
    assert "rank 0 of 2 was stopped by torchrun (SIGTERM)" in err  # not resumable: FAILED, not KILLED
    assert [run.info.status for run in _runs(store)] == ["FAILED"], err[-3000:]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the ranks' states from /proc")
def test_a_rank_that_dies_ends_every_rank_and_the_run_failed(tmp_path):
    command, env, pids, store = _flaky_run(tmp_path)
    # The collective timeout is 300 s (HSFRAME_DIST_TIMEOUT): ending long before it is the group ending, not a timeout.
    r = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 1 and "Signal 9 (SIGKILL) received by PID" in r.stderr, r.stderr[-3000:]  # torchrun names the dead rank
    ranks = {p.name: int(p.read_text()) for p in pids.iterdir()}
    assert sorted(ranks) == ["0", "1"] and all(_gone(pid) for pid in ranks.values())
    runs = _runs(store)
    assert [(run.info.status, run.data.tags.get("world_size")) for run in runs] == [("FAILED", "2")], r.stderr[-3000:]


@pytest.mark.parametrize("args, says", [
    (["--nnodes", "2"], "--nnodes 2 needs --rdzv-endpoint HOST:PORT"),
    (["--resume", "abc"], "continues a run in one process"),
    (["--model", "svm_rbf"], "is fitted in one process"),
    (["--seeds", "0,1"], "--seeds runs seeds one at a time in one process"),
])
def test_what_cannot_run_data_parallel_is_refused_before_any_rank_starts(tmp_path, args, says):
    if "svm_rbf" in args:
        pytest.importorskip("hsframe_zoo", reason="the zoo plugin ships the svm_rbf estimator")
    r = subprocess.run([sys.executable, "-m", "hsframe", "run", "--nproc-per-node", "2", *args,
                        "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"], env=_env(), capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and says in lines[0], r.stderr[-2000:]
    assert "torch.distributed" not in r.stderr and not (tmp_path / "mlflow.db").exists()


def test_a_rank_that_cannot_reach_the_group_says_where_and_how_long(monkeypatch):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))  # nobody listens there
    monkeypatch.setattr("hsframe.distributed.TIMEOUT_S", 2)
    with pytest.raises(HsframeError, match=r"rank 1 of 2 could not join the gloo process group at 127.0.0.1:\d+ within 2 s"):
        World(rank=1, size=2).join(torch.device("cpu"))


def test_a_node_that_cannot_reach_the_rendezvous_says_where_and_how_long(monkeypatch):
    from hsframe.distributed import launch

    monkeypatch.setattr("hsframe.distributed.TIMEOUT_S", 1)
    monkeypatch.setattr("torch.distributed.elastic.rendezvous.utils._matches_machine_hostname", lambda host: False)  # another host
    monkeypatch.setattr("subprocess.Popen", lambda command: pytest.fail("torchrun started"))
    endpoint = f"127.0.0.1:{_free_port()}"  # nobody listens there
    with pytest.raises(HsframeError, match=rf"this node could not reach the rendezvous {endpoint} within 1 s \(HSFRAME_DIST_TIMEOUT\)"):
        launch(1, 2, endpoint, ["run"])
    with pytest.raises(HsframeError, match="--rdzv-endpoint 'node0:x' is not HOST:PORT"):
        launch(1, 2, "node0:x", ["run"])


def test_a_node_that_reaches_the_rendezvous_leaves_it_working(monkeypatch):
    """The reachability check connects and leaves: torchrun's store on the host still serves the nodes."""
    from datetime import timedelta

    from hsframe.distributed import reach

    monkeypatch.setattr("torch.distributed.elastic.rendezvous.utils._matches_machine_hostname", lambda host: False)
    port = _free_port()
    server = torch.distributed.TCPStore("127.0.0.1", port, is_master=True, wait_for_workers=False, timeout=timedelta(seconds=10))
    reach(f"127.0.0.1:{port}")
    client = torch.distributed.TCPStore("127.0.0.1", port, is_master=False, timeout=timedelta(seconds=10))
    client.set("k", "v")
    assert server.get("k") == b"v"


def test_launch_options_are_not_passed_to_the_ranks():
    argv = ["run", "--nproc-per-node", "2", "--model", "hybridsn", "--nnodes=1", "--rdzv-endpoint", "h:1", "--set", "a=1"]
    assert strip_options(argv, ("--nproc-per-node", "--nnodes", "--rdzv-endpoint")) == ["run", "--model", "hybridsn", "--set", "a=1"]


def test_a_single_process_is_no_world(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not World.from_env().parallel and World.from_env().main
    monkeypatch.setenv("WORLD_SIZE", "x")
    with pytest.raises(HsframeError, match="WORLD_SIZE, RANK and LOCAL_RANK must be integers"):
        World.from_env()


def test_a_rank_other_than_0_does_not_say_nothing_was_recorded(monkeypatch):
    """Rank 0 holds the group's run: a crash on another rank must not tell the user that nothing was recorded."""
    from hsframe.cli.run import _crashed, _interrupted

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert "nothing was recorded" in _crashed(None) and "nothing was recorded" in _interrupted(None)  # one process
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    for said in (_crashed(None), _interrupted(None)):
        assert "nothing was recorded" not in said and "rank 1 of 2 records nothing itself: rank 0 holds the group's one MLflow run" in said


def test_hsframe_leaves_only_a_group_it_joined(tmp_path):
    """A caller's own process group survives hsframe's end-of-run cleanup."""
    import torch.distributed as dist

    from hsframe.distributed import leave

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        leave()
        assert dist.is_initialized()
    finally:
        dist.destroy_process_group()


def test_more_ranks_than_gpus_is_refused_before_any_rank_starts(monkeypatch):
    from hsframe.distributed import launch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(HsframeError, match=r"--nproc-per-node 4 is more than this machine's 2 GPU\(s\)"):
        launch(4, 1, None, ["run"])
    monkeypatch.setattr("subprocess.call", lambda command: 0)  # on the CPU (gloo) any number of ranks may start
    assert launch(4, 1, None, ["run", "--device", "cpu"], device="cpu") == 0
