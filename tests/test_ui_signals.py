"""`hsframe ui` leaves nothing running: SIGTERM or SIGINT to the hsframe process alone stops the MLflow
server's whole process group (uvicorn workers included), and the port stops answering.

A real `python -m hsframe ui --port 0` on an empty, migrated store; the signal goes to its pid only, as a
scheduler or `kill PID` sends it (the server runs in a process group of its own, so it never sees it).
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import live_commands, server_answers

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="finds the server's processes through /proc")

SERVER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """An empty store, migrated once here so that each server starts fast."""
    import mlflow

    uri = f"sqlite:///{tmp_path_factory.mktemp('ui-signals') / 'mlflow.db'}"
    mlflow.MlflowClient(uri).search_experiments()
    return uri


def _groups_serving(port: str) -> set[int]:
    """Process groups of live processes whose command line names ``--port PORT``."""
    groups = set()
    for pid, cmd in live_commands():
        if f"--port {port}" in cmd:
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(pid))
    return groups


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs. Like ``os.killpg(pgid, 0)``, but a zombie (exited,
    waiting for a parent or init to reap it) does not count: where init reaps lazily, killpg would see it."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()  # after "pid (comm)"
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return True
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_hsframe_ui_stops_the_servers_whole_process_group(store, tmp_path, signum):
    proc = subprocess.Popen(
        [sys.executable, "-m", "hsframe", "ui", "--tracking-uri", store, "--port", "0", "--timeout", "60"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **SERVER_ENV},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    groups: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        url = None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"MLflow UI: (http://127\.0\.0\.1:\d+)", "".join(lines))
            url = found.group(1) if found and "Press Ctrl-C" in "".join(lines) else None
            time.sleep(0.2)
        assert url, f"no URL printed: {''.join(lines)}"
        assert server_answers(url)
        groups = _groups_serving(url.rsplit(":", 1)[1])
        assert groups and os.getpgid(proc.pid) not in groups  # the server leads a group of its own

        proc.send_signal(signum)  # to the hsframe process only
        assert proc.wait(30) == 0, "".join(lines)
        reader.join(10)
        assert f"MLflow UI stopped ({'Ctrl-C' if signum == signal.SIGINT else 'SIGTERM'})." in "".join(lines)
        deadline = time.monotonic() + 10  # workers may outlive their master for a moment
        while any(_group_alive(g) for g in groups) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [g for g in groups if _group_alive(g)] == [], "part of the server's process group is still running"
        assert not server_answers(url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pgid in groups:  # whatever a failing run left behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
