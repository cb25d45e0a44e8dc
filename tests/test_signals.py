"""SIGTERM / SIGHUP end a run KILLED, as Ctrl-C does, with the checkpoint kept for --resume."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from conftest import make_dist, runs_of

from hsframe.recording import END_TAG
from hsframe.signals import Terminated, interruption, signals_as_interrupts

TERMINATOR = """
import os
import signal

from hsframe import hookimpl


@hookimpl
def epoch_finished(run_id, epoch, metrics):
    if epoch == 1:
        os.kill(os.getpid(), getattr(signal, os.environ["HSFRAME_TEST_SIGNAL"]))  # what a scheduler sends
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_terminated_run_ends_killed_with_the_signal_named_and_can_be_resumed(tmp_path, name):
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "fake-terminator", "terminator", TERMINATOR)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]), "HSFRAME_TEST_SIGNAL": name}
    sets = ["train.epochs=3", "data.patch_size=5", "data.pca_components=5", "eval.full_map=false"]
    proc = subprocess.run([sys.executable, "-m", "hsframe", "run", "--model", "spectral_1x1", *(a for s in sets for a in ("--set", s)),
                           "--tracking-uri", store], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    signum = getattr(signal, name)
    assert proc.returncode == 128 + signum, proc.stdout + proc.stderr
    assert f"Interrupted ({name})" in proc.stderr and "--resume" in proc.stderr
    (run,) = runs_of(store)
    assert run.info.status == "KILLED" and run.data.tags[END_TAG] == f"interrupted ({name})"
    assert (tmp_path / "checkpoints" / run.info.run_id / "last.pt").is_file()  # resumable


def test_signals_raise_terminated_inside_the_block_only():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as info, signals_as_interrupts():
        os.kill(os.getpid(), signal.SIGTERM)
    assert interruption(info.value) == "SIGTERM" and info.value.exit_code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
    assert interruption(KeyboardInterrupt()) == "Ctrl-C"
