"""Start the MLflow UI server on a tracking store, wait until it answers, and always stop it.

Used by `hsframe ui` (foreground until Ctrl-C) and by the browser test. Free of torch and mlflow
imports: the server runs in its own process.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from hsframe.errors import HsframeError
from hsframe.signals import signals_ignored

_ANY_HOST = {"0.0.0.0", "::", ""}
# MLflow's job runner serves GenAI evaluation jobs, which hsframe does not use: without it the server
# starts several times faster and leaves no huey workers or /dev/shm folders behind. The user's
# environment still wins.
_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@dataclass
class MlflowServer:
    """A running ``mlflow server``: its URL, process (own process group) and log file."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip().splitlines()[-lines:])


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (bound to port 0, then released for the server to take)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host if host not in _ANY_HOST else "", 0))
        return s.getsockname()[1]


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in _ANY_HOST else host  # a wildcard bind is reachable locally
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def server_command(uri: str, host: str, port: int, workers: int = 1, artifacts_destination: str | None = None) -> list[str]:
    """``mlflow server`` from this interpreter's environment (the venv hsframe runs in)."""
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", host,
           "--port", str(port), "--workers", str(workers)]
    if artifacts_destination:
        cmd += ["--artifacts-destination", artifacts_destination]
    return cmd


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the whole process group (uvicorn/gunicorn workers included), SIGKILL after ``grace``."""
    if os.name != "posix":
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return
    pgid = process.pid  # start_new_session=True: the server leads its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    # Workers can outlive their master for a moment; nothing of the group may be left behind.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def mlflow_server(
    uri: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    workers: int = 1,
    timeout: float = 120.0,
    artifacts_destination: str | None = None,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    log_dir: str | Path | None = None,
) -> Iterator[MlflowServer]:
    """Run ``mlflow server`` on ``uri`` and yield it once it answers HTTP; always stop it on exit.

    ``port`` 0 picks a free port. The server's output goes to a log file (in ``log_dir``, default
    the temp folder) whose tail is part of the error when the server dies or does not answer within
    ``timeout`` seconds; the log is kept then, and removed after a clean run. The server runs in a process
    group of its own, and the whole group is stopped however the block is left (an exception, Ctrl-C, or
    SIGTERM / SIGHUP when the caller turns them into exceptions with
    :func:`hsframe.signals.signals_as_interrupts`, as `hsframe ui` does).
    """
    port = port or free_port(host)
    url = _url(host, port)
    log = tempfile.NamedTemporaryFile("wb", prefix="hsframe-mlflow-server-", suffix=".log", delete=False, dir=log_dir)
    try:
        process = subprocess.Popen(
            server_command(uri, host, port, workers, artifacts_destination),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
            env={**_SERVER_ENV, **os.environ, **(env or {})},
            start_new_session=True,  # own process group: Ctrl-C reaches us only, and we stop all of it
        )
    except OSError as exc:
        log.close()
        os.unlink(log.name)
        raise HsframeError(f"cannot start the MLflow server ({sys.executable} -m mlflow server): {exc}") from None
    server = MlflowServer(url=url, process=process, log_path=Path(log.name))
    failed = False
    try:
        deadline = time.monotonic() + timeout
        while not _answers(url):
            if not server.alive():
                failed = True
                tail = server.log_tail()
                hint = (f"Port {port} on {host} is taken: pick another --port, or --port 0 for a free one."
                        if "address already in use" in tail.lower() else "Check the store and the log.")
                raise HsframeError(
                    f"the MLflow server on {uri} exited with code {process.returncode} before answering at {url}. "
                    f"Its output ends with:\n{tail}\nFull log: {server.log_path}. {hint}"
                )
            if time.monotonic() > deadline:
                failed = True
                raise HsframeError(
                    f"the MLflow server on {uri} did not answer at {url} within {timeout:.0f} s. "
                    f"Its output ends with:\n{server.log_tail()}\nFull log: {server.log_path}."
                )
            time.sleep(0.25)
        yield server
    finally:
        with signals_ignored():  # a second Ctrl-C must not cut the stop short
            _stop(process)
        log.close()
        if not failed:
            with contextlib.suppress(OSError):
                os.unlink(log.name)
