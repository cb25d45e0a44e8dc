"""Resumable runs: per-epoch checkpoints, `hsframe run --resume RUN_ID`, the same weights and metrics as never stopping."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import REPO, make_dist, runs_of
from rich.console import Console

import hsframe
from hsframe.checkpoint import TrainState, checkpoint_path, load_checkpoint, save_checkpoint
from hsframe.cli import cli
from hsframe.config import TrainConfig
from hsframe.data.patches import PatchSource
from hsframe.engine.reporter import Reporter
from hsframe.engine.run import run_one
from hsframe.errors import HsframeError
from hsframe.plugins import get_plugins
from hsframe.progress import TrainingProgress
from hsframe.recording import HEARTBEAT_TAG, KILLED, MemoryRecorder, RunStopped
from hsframe.training import train

EPOCHS = 3
# Small and fast, HybridSN (which has dropout: the global torch RNG matters) on the embedded scene.
SETS = [f"train.epochs={EPOCHS}", "data.patch_size=9", "data.pca_components=13", "train.batch_size=32",
        "eval.full_map=false"]
COMPARED = ("best_val_oa", "best_epoch", "test_oa", "test_aa", "test_kappa")


# --- the training loop --------------------------------------------------------------------------

# Imbalance-aware training resumes exactly too: the schedule's state is in the checkpoint, the balanced
# sampler draws from the checkpointed generator, and the early-stopping counter is epoch - best_epoch.
IMBALANCE = {"loss": "weighted_cross_entropy", "sampler": "balanced", "scheduler": "cosine", "min_lr": 0.001,
             "early_stopping_patience": 3}


def _problem(seed: int):
    torch.manual_seed(seed)
    feats = torch.randn(4, 12, 12, generator=torch.Generator().manual_seed(0))
    i = np.arange(144)
    targets = np.where(i % 8 == 0, 2, np.where(i % 3 == 0, 1, 0)).astype(np.int64)  # 18 / 42 / 84 samples
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 16), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                                torch.nn.Linear(16, 3))
    return PatchSource(feats, 3), targets, model


def _train(tmp: Path, seed: int, start: TrainState | None = None, keep: dict[int, Path] | None = None, **options):
    """Train 4 epochs; every epoch's checkpoint is saved under ``tmp`` (the paths in ``keep``)."""
    source, targets, model = _problem(seed)
    cfg = TrainConfig(epochs=4, batch_size=16, lr=0.05, amp=False, **options)
    generator = torch.Generator().manual_seed(seed)

    def save(state: TrainState) -> None:
        path = save_checkpoint(tmp / f"epoch{state.epoch}" / "last.pt", state, "r1")
        if keep is not None:
            keep[state.epoch] = path

    result = train(model, source, targets, np.arange(100), np.arange(100, 144), cfg, torch.device("cpu"), generator,
                   TrainingProgress(Console(quiet=True), 4, 7), start=start, on_checkpoint=save)
    return model, result


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("options", [{}, IMBALANCE], ids=["default", "imbalance"])
def test_resumed_training_equals_uninterrupted(tmp_path, options):
    saved: dict[int, Path] = {}
    model, full = _train(tmp_path / "full", 0, keep=saved, **options)
    last = load_checkpoint(saved[4], "r1")
    state = load_checkpoint(saved[2], "r1")
    assert state.epoch == 2 and len(state.history) == 2 and state.best_state is not None
    # Another seed everywhere: whatever matches comes from the checkpoint.
    resumed, part = _train(tmp_path / "resumed", 7, start=state, **options)
    assert _same(resumed.state_dict(), model.state_dict())  # the best epoch's weights
    assert _same(load_checkpoint(tmp_path / "resumed" / "epoch4" / "last.pt", "r1").model, last.model)  # the last epoch's
    assert part.history == full.history and (part.best_epoch, part.best_val_oa) == (full.best_epoch, full.best_val_oa)
    assert not (tmp_path / "resumed" / "epoch1").exists() and not (tmp_path / "resumed" / "epoch2").exists()

    # Controls: without the shuffling generator's state, or the global (dropout) one, the weights differ.
    for rng_key in ("generator", "torch"):
        broken = load_checkpoint(saved[2], "r1")
        broken.rng[rng_key] = torch.Generator().manual_seed(99).get_state()
        other, _ = _train(tmp_path / f"broken-{rng_key}", 7, start=broken, **options)
        assert not _same(load_checkpoint(tmp_path / f"broken-{rng_key}" / "epoch4" / "last.pt", "r1").model, last.model), rng_key
    if options:  # and without the schedule's state the schedule starts over
        assert state.scheduler is not None and state.scheduler["last_epoch"] == 2
        state.scheduler = None
        _, restarted = _train(tmp_path / "no-schedule", 7, start=state, **options)
        assert restarted.history[3]["lr"] != full.history[3]["lr"]  # epoch 3 trains at the LR the optimizer saved
        assert not _same(load_checkpoint(tmp_path / "no-schedule" / "epoch4" / "last.pt", "r1").model, last.model)


def test_checkpoint_is_atomic_weights_only_and_checked(tmp_path):
    saved: dict[int, Path] = {}
    _train(tmp_path, 0, keep=saved)
    path = saved[1]
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary file left behind
    data = torch.load(path, weights_only=True)  # only tensors, numbers, lists and dicts inside
    assert data["epoch"] == 1 and data["run_id"] == "r1" and set(data["rng"]) == {"generator", "torch", "cuda", "numpy", "python"}

    with pytest.raises(HsframeError, match="belongs to run r1, not r2"):
        load_checkpoint(path, "r2")
    with pytest.raises(HsframeError, match="has no checkpoint at .*missing"):
        load_checkpoint(tmp_path / "missing" / "last.pt", "r1")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(HsframeError, match=f"checkpoint {path} is truncated/corrupt"):
        load_checkpoint(path, "r1")


# --- runs, in memory ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run: its metrics and final weights."""
    ckpt = tmp_path_factory.mktemp("ref") / "ckpt"
    rec = MemoryRecorder()
    summary = hsframe.run(sets=[*SETS, f"train.checkpoint_dir={ckpt}"], recorder=rec, quiet=True)
    run = rec.runs[summary.run_id]
    assert not ckpt.exists(), "a FINISHED run's checkpoint (and the emptied folder) must be deleted"
    return {k: run.metric(k) for k in COMPARED}, run.model.state_dict()


def test_memory_run_killed_after_epoch_2_resumes_to_the_same_result(tmp_path, reference):
    ref_metrics, ref_weights = reference
    rec = MemoryRecorder()
    events: list[tuple[str, object]] = []
    log_metrics, set_tags = rec.log_metrics, rec.set_tags
    rec.log_metrics = lambda m, step=None: (events.append(("step", step)) if "val_oa" in m else None, log_metrics(m, step))[1]
    rec.set_tags = lambda t: (events.append(("beat", t[HEARTBEAT_TAG])) if HEARTBEAT_TAG in t else None, set_tags(t))[1]

    def stop_at_2(epoch: int, record: dict[str, float]) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    ckpt = tmp_path / "ckpt"
    cfg = hsframe.load_config(sets=[*SETS, f"train.checkpoint_dir={ckpt}"])
    with pytest.raises(KeyboardInterrupt):
        run_one(cfg, get_plugins(), rec, Reporter(quiet=True), on_epoch=stop_at_2)
    (run_id, run), = rec.runs.items()
    assert run.status == KILLED and load_checkpoint(checkpoint_path(ckpt, run_id), run_id).epoch == 2
    # The heartbeat is set when the run starts and after each epoch's metrics.
    assert [e[0] for e in events] == ["beat", "step", "beat", "step", "beat"]
    assert abs(int(events[0][1]) - time.time()) < 120
    params = dict(run.params)

    # As if killed between saving epoch 2's checkpoint and logging its metrics: the resume logs them.
    for key in ("val_oa", "train_loss"):
        run.metrics[key] = run.metrics[key][:1]
    summary = hsframe.run(resume=run_id, recorder=rec, quiet=True)
    assert summary.run_id == run_id and list(rec.runs) == [run_id] and run.status == "FINISHED"
    assert [step for step, _ in run.metrics["val_oa"]] == [1, 2, 3]
    assert [step for step, _ in run.metrics["train_loss"]] == [1, 2, 3]
    assert run.params == params  # nothing re-logged (MemoryRecorder refuses a changed param, as MLflow does)
    assert {k: run.metric(k) for k in COMPARED} == ref_metrics
    assert _same(run.model.state_dict(), ref_weights)
    assert not ckpt.exists()


@pytest.mark.parametrize("stop, status, kept", [(RuntimeError("boom"), "FAILED", True), (RunStopped("pruned at epoch 1"), KILLED, False)])
def test_a_crash_keeps_the_checkpoint_a_deliberate_stop_drops_it(tmp_path, stop, status, kept):
    rec = MemoryRecorder()

    def stop_at_1(epoch: int, record: dict[str, float]) -> None:
        raise stop

    cfg = hsframe.load_config(sets=[*SETS, "train.epochs=2", f"train.checkpoint_dir={tmp_path / 'ckpt'}"])
    with pytest.raises(type(stop)):
        run_one(cfg, get_plugins(), rec, Reporter(quiet=True), on_epoch=stop_at_1)
    (run_id, run), = rec.runs.items()
    assert run.status == status and checkpoint_path(tmp_path / "ckpt", run_id).exists() == kept


def test_resume_refuses_what_it_cannot_continue(tmp_path):
    rec = MemoryRecorder()
    with pytest.raises(HsframeError, match="no run 'run9'"):
        hsframe.run(resume="run9", recorder=rec, quiet=True)
    with pytest.raises(HsframeError, match="with its logged config; drop model"):
        hsframe.run(resume="run9", model="hybridsn", recorder=rec, quiet=True)
    with pytest.raises(HsframeError, match="'train.epochs=9' would change it"):
        hsframe.run(resume="run9", sets=["train.epochs=9"], recorder=rec, quiet=True)
    with rec.run("empty", {}) as run_id:
        pass
    rec.runs[run_id].status = KILLED
    with pytest.raises(HsframeError, match="no logged config"):
        hsframe.run(resume=run_id, recorder=rec, quiet=True)


# --- end to end: a real process SIGKILLed after epoch 2, resumed by `hsframe run --resume` ------------

KILLER = """
import os
import signal

from hsframe import hookimpl


@hookimpl
def epoch_finished(run_id, epoch, metrics):
    if epoch == int(os.environ.get("HSFRAME_TEST_KILL_AT", "0")):
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup at all: the run stays RUNNING
"""


def test_sigkilled_cli_run_resumes_in_the_same_mlflow_run(tmp_path, monkeypatch, reference):
    import mlflow

    ref_metrics, _ = reference
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "fake-killer", "killer", KILLER)  # an installed plugin, in the child process only
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "HSFRAME_TEST_KILL_AT": "2"}
    args = [a for s in SETS for a in ("--set", s)]
    proc = subprocess.run([sys.executable, "-m", "hsframe", "run", "--dataset", "synthetic-pines", *args, "--tracking-uri", store],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    (killed,) = runs_of(store)
    run_id = killed.info.run_id
    assert killed.info.status == "RUNNING" and HEARTBEAT_TAG in killed.data.tags
    ckpt = tmp_path / "checkpoints" / run_id / "last.pt"  # the default folder, under the run's cwd
    assert load_checkpoint(ckpt, run_id).epoch == 2

    monkeypatch.chdir(tmp_path)
    stale = CliRunner().invoke(cli, ["runs", "--tracking-uri", store, "--stale-after", "0"], env={"COLUMNS": "200"})
    assert stale.exit_code == 0 and run_id in stale.output and "(stale)" in stale.output, stale.output

    def resume(*extra):
        return CliRunner().invoke(cli, ["run", "--resume", run_id, "--tracking-uri", store, *extra])

    good = ckpt.read_bytes()
    ckpt.write_bytes(good[:1000])
    out = resume()
    assert out.exit_code == 2 and "truncated/corrupt" in out.output and "last.pt" in out.output, out.output
    ckpt.unlink()
    out = resume()
    assert out.exit_code == 2 and "has no checkpoint at" in out.output, out.output
    assert resume("--model", "nin").exit_code == 2
    unknown = CliRunner().invoke(cli, ["run", "--resume", "0" * 32, "--tracking-uri", store])
    assert unknown.exit_code == 2 and "no run '" in unknown.output
    assert [r.info.run_id for r in runs_of(store)] == [run_id] and runs_of(store)[0].info.status == "RUNNING"

    ckpt.write_bytes(good)
    out = resume()
    assert out.exit_code == 0, out.output
    assert f"resuming run {run_id} after epoch 2/3" in out.output
    assert re.findall(r"^epoch (\d)/3", out.output, re.M) == ["3"]  # only the epoch left is trained
    client = mlflow.MlflowClient(store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and len(runs_of(store)) == 1
    for key in ("val_oa", "train_loss"):
        assert sorted(m.step for m in client.get_metric_history(run_id, key)) == [1, 2, 3], key
    assert {k: run.data.metrics[k] for k in COMPARED} == ref_metrics
    assert run.data.tags["hsframe.resumed_after_epoch"] == "2"
    assert not (tmp_path / "checkpoints").exists()  # FINISHED: deleted

    again = resume()
    assert again.exit_code == 2 and "is FINISHED" in again.output


def test_repository_ignores_the_checkpoint_folder():
    assert "/checkpoints/" in (REPO / ".gitignore").read_text().split()
