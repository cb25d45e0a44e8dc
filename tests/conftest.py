from __future__ import annotations

import contextlib
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"

# A fast HybridSN configuration for end-to-end tests (smallest sizes the architecture accepts).
FAST = ["--set", "train.epochs=4", "--set", "data.patch_size=9", "--set", "data.pca_components=13",
        "--set", "train.batch_size=32"]


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def runs_of(uri: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(uri)
    exps = client.search_experiments()
    return client.search_runs([e.experiment_id for e in exps]) if exps else []


def make_dist(root: Path, package: str, plugin: str, module_source: str, version: str = "0.1.0") -> None:
    """Write an importable module plus a ``*.dist-info`` with an ``hsframe`` entry point into ``root``.

    That is what pip leaves in site-packages, so ``importlib.metadata`` discovers it exactly as it
    discovers an installed third-party plugin, once ``root`` is on ``sys.path``.
    """
    module = package.replace("-", "_")
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{module}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[hsframe]\n{plugin} = {module}\n")


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.startswith("fake_")]:
        del sys.modules[name]


# --- A throwaway PostgreSQL server (tests/test_stores.py): initdb into a temporary folder, a free
# localhost port, the unix socket in that folder; no system service, no fixed port. ---

def _postgres_bindir() -> Path | None:
    """The folder with initdb, pg_ctl and postgres: `pg_config --bindir`, Debian's
    /usr/lib/postgresql/<version>/bin (newest first; off PATH), or wherever initdb is on PATH."""
    import os
    import shutil
    import subprocess

    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
            if out:
                candidates.append(Path(out))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1, reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres", "createdb")):
            return folder
    return None


def _postgres_missing(reason: str) -> None:
    """Skip on a workstation; under CI=true fail, since CI installs PostgreSQL (.ci/setup-postgres)."""
    import os

    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}; CI=true, so the PostgreSQL store tests must run: run `bash .ci/setup-postgres` first", pytrace=False)
    pytest.skip(f"{reason}; install PostgreSQL (`bash .ci/setup-postgres`) to run the PostgreSQL store tests")


def _server_account():
    """None when not root (the server runs as us); as root (initdb refuses root) Debian's ``postgres``
    account, or an ``hsframe-pg`` system account created for the purpose."""
    import os
    import pwd
    import subprocess

    if os.geteuid() != 0:
        return None
    for name in ("postgres", "hsframe-pg"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "hsframe-pg"],
                   check=True, capture_output=True)
    return pwd.getpwnam("hsframe-pg")


class PostgresServer:
    """A running throwaway server; ``new_database()`` gives each test a fresh, empty database."""

    user = "hsframe"

    def __init__(self, bindir: Path, root: Path, port: int, password: str) -> None:
        self.bindir, self.root, self.port, self.password = bindir, root, port, password
        self._count = 0

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "db") -> str:
        import os
        import subprocess

        self._count += 1
        name = f"{prefix}_{self._count}"
        env = {**os.environ, "PGPASSWORD": self.password}
        subprocess.run([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name],
                       check=True, capture_output=True, text=True, env=env, timeout=60)
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    import os
    import secrets
    import shutil
    import socket
    import subprocess
    import tempfile

    bindir = _postgres_bindir()
    if bindir is None:
        _postgres_missing("no PostgreSQL server binaries (initdb, pg_ctl, postgres) in `pg_config --bindir`, "
                          "/usr/lib/postgresql/*/bin or PATH")
    try:
        import psycopg2  # noqa: F401  (MLflow's PostgreSQL driver)
    except ImportError:
        _postgres_missing("psycopg2 is not installed (pip install -e '.[test]')")

    account = _server_account()
    # Not pytest's tmp_path: as root that lies in a folder only root may enter.
    root = Path(tempfile.mkdtemp(prefix="hsframe-pg-"))
    as_server: dict = {}
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
        as_server = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    password = secrets.token_hex(12)
    (root / "pwfile").write_text(password + "\n")
    (root / "sock").mkdir()
    for path in (root / "pwfile", root / "sock"):
        if account is not None:
            os.chown(path, account.pw_uid, account.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    data, log = root / "data", root / "server.log"

    def server_cmd(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=root, timeout=timeout, **as_server)

    def log_tail() -> str:
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no server log)"

    out = server_cmd(bindir / "initdb", "-D", data, "-U", PostgresServer.user, "--pwfile", root / "pwfile",
                     "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
    if out.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed ({bindir / 'initdb'}):\n{out.stdout}\n{out.stderr}", pytrace=False)
    options = (f"-p {port} -k {root / 'sock'} -c listen_addresses=127.0.0.1 -c max_connections=200 "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    out = server_cmd(bindir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
    if out.returncode != 0:
        tail = log_tail()
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed on port {port}:\n{out.stdout}\n{out.stderr}\n{tail}", pytrace=False)
    try:
        yield PostgresServer(bindir, root, port, password)
    finally:
        server_cmd(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "60", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql://user:password@127.0.0.1:<port>/<fresh database>`` on the throwaway server."""
    return postgres_server.new_database("mlflow")


def server_answers(url: str, timeout: float = 3) -> bool:
    """Whether an MLflow server answers ``url``/health (the `hsframe ui` tests)."""
    try:
        with urllib.request.urlopen(url + "/health", timeout=timeout):
            return True
    except OSError:
        return False


def live_commands() -> list[tuple[int, str]]:
    """``(pid, command line)`` of every live process, zombies left out: to prove a server left nothing behind."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if "State:\tZ" not in (proc / "status").read_text():
                    found.append((int(proc.name), cmd))
    return found
