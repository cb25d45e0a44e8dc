"""MLflow tracking stores that many processes share.

* SQLite: created and migrated once, under a file lock beside the database (``<db>.lock``), before any
  run writes: MLflow creates its tables and runs its migrations in whichever process opens a fresh file
  first, and parallel first runs used to race there (``table ... already exists``). A write that still
  finds the file locked is retried with a bounded exponential backoff (:func:`retry_locked`).
  A store that holds MLflow's tables but not a schema MLflow can open or upgrade (left half-migrated by
  parallel starts without the lock, or by an interrupted upgrade) is refused before any run, with the
  repair that works for it (:func:`check_sqlite_schema`).
* PostgreSQL (and other SQLAlchemy servers): probed with a short connect timeout, so an unreachable
  server fails in seconds with one line; created and migrated under a PostgreSQL advisory lock, so
  parallel first runs against a fresh database do not race MLflow's migrations either.
* HTTP tracking servers: probed with a short timeout before MLflow's own (long) retries.
"""
from __future__ import annotations

import contextlib
import importlib.util
import random
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from hsframe.errors import HsframeError, one_line

T = TypeVar("T")

PROBE_TIMEOUT_S = 5  # connecting to a server / an HTTP tracking server
LOCK_WAIT_S = 300  # waiting for another process that creates or migrates the store
RETRY_ATTEMPTS = 8  # tries of one call that finds SQLite locked: sleeps of about 0.1 .. 4 s, 10 s at most
RETRY_FIRST_DELAY_S = 0.1
RETRY_MAX_DELAY_S = 4.0
_LOCKED = ("database is locked", "database table is locked")
_SERVERS = {"postgresql", "mysql", "mssql"}
_ADVISORY_KEY = 0x68736672616D65  # "hsframe": the PostgreSQL advisory lock that creating the store takes
MANY_WORKERS = "for many parallel workers use a PostgreSQL store (README, 'Many machines')"


def normalize_uri(uri: str) -> str:
    """``postgresql://`` (or ``postgres://``) with the driver that is installed.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; ``pip install -e '.[postgres]'``
    installs psycopg2, so without psycopg 3 the URI names psycopg2 explicitly.
    """
    scheme, sep, rest = uri.partition("://")
    if sep and scheme in {"postgresql", "postgres"}:
        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            return f"postgresql+psycopg2://{rest}"
        return f"postgresql://{rest}"
    return uri


def display_uri(uri: str) -> str:
    """The URI for messages: a server URI's password as ``***``."""
    if _backend(uri) in _SERVERS:
        with contextlib.suppress(Exception):
            from sqlalchemy.engine import make_url

            return make_url(uri).render_as_string(hide_password=True)
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working folder), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def is_locked_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: MLflow wraps sqlite3's OperationalError) is SQLite's
    "database is locked"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).lower()
        if any(marker in text for marker in _LOCKED):
            return True
        current = current.__cause__ or current.__context__
    return False


def retry_locked(fn: Callable[..., T], *args: Any, what: str = "MLflow call", store: str | None = None,
                 attempts: int = RETRY_ATTEMPTS, first_delay_s: float = RETRY_FIRST_DELAY_S,
                 max_delay_s: float = RETRY_MAX_DELAY_S, sleep: Callable[[float], None] | None = None, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, tried again while it fails with "database is locked".

    MLflow already waits up to 20 s for a lock (SQLite's busy_timeout), but SQLite answers "locked" at
    once when waiting could deadlock, so the call is repeated after a growing, jittered sleep (the
    jitter keeps waiting processes from retrying in step). A failed call was rolled back, so repeating
    it writes nothing twice. Other errors pass through; after ``attempts`` tries an HsframeError says
    what stayed locked and what to do.
    """
    started = time.monotonic()
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_locked_error(exc):
                raise
            if attempt == attempts:
                where = f"the tracking store {display_uri(store)}" if store else "the tracking store"
                raise HsframeError(
                    f"{what}: {where} was still locked after {attempts} tries over {time.monotonic() - started:.1f} s "
                    f"(other processes are writing to it); rerun with fewer parallel runs, or {MANY_WORKERS}"
                ) from exc
            (sleep or time.sleep)(delay * random.uniform(0.5, 1.0))
            delay = min(2 * delay, max_delay_s)
    raise AssertionError("unreachable")  # the loop returns or raises


@contextlib.contextmanager
def file_lock(path: Path, what: str, wait_s: float = LOCK_WAIT_S, poll_s: float = 0.05) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing), released when the block ends or the
    holder dies. Without ``fcntl`` (Windows) no lock is taken."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        handle = open(path, "a")
    except OSError as exc:
        raise HsframeError(f"cannot create the lock file {path} for {what}: {exc.strerror}; make its folder writable") from None
    with handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise HsframeError(
                        f"waited {wait_s:g} s for {path}: another process is still creating or upgrading {what}; "
                        f"wait for it to finish (or stop it) and rerun"
                    ) from None
                time.sleep(poll_s)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_store(uri: str) -> None:
    """Open the MLflow store at ``uri`` once, creating and migrating it if new, so that every run after
    this finds it complete; many processes may call this at once. Raises HsframeError, naming the store,
    when it cannot be reached or opened."""
    import mlflow  # noqa: F401  (imported before any lock is taken: the lock is held only while opening)

    backend = _backend(uri)
    if backend == "sqlite":
        path = sqlite_path(uri)
        if path is not None:
            _probe_sqlite(uri, path)
        if path is None or _sqlite_is_current(path):  # complete already: no lock needed to open it
            _open(uri)
        else:
            with file_lock(path.with_name(path.name + ".lock"), f"the tracking store {uri}"):
                if not _sqlite_is_current(path):  # not created meanwhile by the process that held the lock
                    check_sqlite_schema(uri, path)
                _open(uri)
    elif backend in _SERVERS:
        with _server_lock(uri):
            _open(uri)
    else:
        if backend in {"http", "https"}:
            _probe_http(uri)
        _open(uri)


def require_store(uri: str) -> None:
    """For commands that only read a store (compare, runs, ui, predict, resume): refuse a sqlite store that
    does not exist (MLflow would silently create an empty one) and a server that does not answer (MLflow
    would retry it for minutes)."""
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():
            raise HsframeError(
                f"no tracking store at {uri} ({db.resolve()} does not exist; relative paths are taken from the "
                f"current directory). Run `hsframe run` first, or point --tracking-uri / mlflow.yml at your store."
            )
    elif _backend(uri) in {"http", "https"}:
        _probe_http(uri)


def _backend(uri: str) -> str:
    return uri.partition("://")[0].split("+", 1)[0].lower()


def _probe_sqlite(uri: str, path: Path) -> None:
    """Fail at once on a file SQLite cannot open (MLflow would retry it for about 100 s first)."""
    import sqlite3

    if path.is_dir():
        raise HsframeError(f"cannot open tracking store {uri}: {path} is a folder; point tracking_uri at a database file, "
                           f"e.g. sqlite:///{path / 'mlflow.db'}")
    if not path.exists():
        return  # MLflow creates it
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if not is_locked_error(exc):
            raise HsframeError(f"cannot open tracking store {uri}: {exc}; is {path} an SQLite database? "
                               f"Point tracking_uri in mlflow.yml at another file") from None


def _sqlite_is_current(path: Path) -> bool:
    """Whether MLflow has created ``path`` and migrated it to the schema this MLflow expects (read-only)."""
    import sqlite3

    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        from mlflow.store.db.utils import _get_latest_schema_revision

        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            conn.close()
        return rows == [(_get_latest_schema_revision(),)]  # one row: two are what racing migrations leave
    except Exception:  # no such table, a locked or foreign file, another MLflow: let the locked path decide
        return False


def check_sqlite_schema(uri: str, path: Path) -> None:
    """Refuse, with the repair that works, an SQLite store that holds MLflow tables MLflow cannot open.

    What MLflow would do to the store (create the missing tables and migrate, or ``mlflow db upgrade``)
    is first tried on a copy, so a half-migrated store is neither changed nor half-upgraded further. A
    store that opens or upgrades cleanly on the copy passes (MLflow upgrades it as it opens it); a broken
    one gets the repair that keeps
    its runs where there is one (record the revision, or drop the empty tables a later migration
    created too early), else a backup or a new store.
    """
    import sqlalchemy
    from mlflow.store.db.utils import _all_tables_exist, _get_latest_schema_revision

    if not path.is_file() or path.stat().st_size == 0:
        return
    head = _get_latest_schema_revision()
    revisions = _recorded_revisions(path)
    with _scratch_copy(path) as copy:
        engine = sqlalchemy.create_engine(f"sqlite:///{copy}")
        try:
            tables = _schema(engine)
            if not tables:
                return  # an empty database: MLflow creates its tables
            complete = _all_tables_exist(engine)
        finally:
            engine.dispose()
    recorded = ", ".join(revisions) if revisions else "none"
    unknown = [r for r in revisions if not _known_revision(r)]
    if unknown:
        raise HsframeError(f"tracking store {uri} has MLflow schema revision {', '.join(unknown)}, which this MLflow does not know "
                           f"(a newer MLflow made it); upgrade MLflow (pip install -U mlflow) or point tracking_uri in mlflow.yml elsewhere")
    what = f"tracking store {uri} is half-migrated (recorded schema revision: {recorded}; this MLflow's: {head})"
    if complete and tables == _head_schema():
        raise HsframeError(
            f"{what}: its tables match this MLflow's schema but alembic_version does not say so, which `mlflow db upgrade` cannot repair; "
            f"back up {path}, then record it: sqlite3 {path} \"DROP TABLE IF EXISTS alembic_version; CREATE TABLE alembic_version "
            f"(version_num VARCHAR(32) NOT NULL PRIMARY KEY); INSERT INTO alembic_version VALUES ('{head}')\""
        )
    error = _try_upgrade(path, complete, drop=[])
    if error is None:
        return  # an older, consistent store: MLflow upgrades it as it opens it (under the lock), or says to run `mlflow db upgrade`
    dropped: list[str] = []
    while (table := _premature_table(error)) and table not in dropped and _is_empty(path, table) and len(dropped) < 8:
        dropped.append(table)
        if (error := _try_upgrade(path, complete, drop=dropped)) is None:
            drops = "; ".join(f"DROP TABLE {t}" for t in dropped)
            tables = f"tables {', '.join(dropped)} exist" if len(dropped) > 1 else f"table {dropped[0]} exists"
            raise HsframeError(f"{what}: a later migration's empty {tables} too early, so upgrading it fails; back up {path}, "
                               f"then: sqlite3 {path} \"{drops}\" && mlflow db upgrade {uri}")
    reason = one_line(getattr(error, "orig", None) or error, 200)
    raise HsframeError(
        f"{what}: upgrading it fails ({reason}), which `mlflow db upgrade` cannot repair either; restore a backup of {path}, "
        f"or move it aside (mv {path} {path}.broken) and rerun to start a new store (the old runs' rows stay readable in "
        f"{path}.broken with sqlite3, their artifacts where they are)"
    )


def _recorded_revisions(path: Path) -> list[str]:
    """The rows of ``alembic_version`` (none when the table is missing; several when parallel starts both wrote one)."""
    import sqlite3

    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        return [str(row[0]) for row in conn.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    try:
        return ScriptDirectory.from_config(_get_alembic_config(db_url="")).get_revision(revision) is not None
    except Exception:
        return False


def _schema(engine: Any) -> dict[str, frozenset[str]]:
    """Table name -> column names, without alembic's bookkeeping."""
    import sqlalchemy

    inspector = sqlalchemy.inspect(engine)
    return {t: frozenset(c["name"] for c in inspector.get_columns(t)) for t in inspector.get_table_names() if not t.startswith("alembic_")}


def _head_schema() -> dict[str, frozenset[str]]:
    """The tables and columns of a store that this MLflow creates from scratch."""
    import tempfile

    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    with tempfile.TemporaryDirectory(prefix="hsframe-schema-") as folder, _quiet_migrations():
        engine = sqlalchemy.create_engine(f"sqlite:///{Path(folder) / 'head.db'}")
        try:
            _initialize_tables(engine)
            return _schema(engine)
        finally:
            engine.dispose()


@contextlib.contextmanager
def _scratch_copy(path: Path) -> Iterator[Path]:
    """A consistent copy of the database (SQLite's backup API) in a temporary folder."""
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hsframe-store-") as folder:
        copy = Path(folder) / path.name
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        yield copy


def _try_upgrade(path: Path, complete: bool, drop: list[str]) -> Exception | None:
    """What MLflow would do to the store (create missing tables and migrate, or ``mlflow db upgrade``),
    done to a copy after dropping ``drop``; the error it raised, or None."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables, _upgrade_db, _verify_schema

    with _scratch_copy(path) as copy, _quiet_migrations():
        engine = sqlalchemy.create_engine(f"sqlite:///{copy}")
        try:
            with engine.begin() as conn:
                for table in drop:
                    conn.exec_driver_sql(f'DROP TABLE "{table}"')
            _initialize_tables(engine) if not complete else _upgrade_db(engine)
            _verify_schema(engine)
            return None
        except Exception as exc:
            return exc
        finally:
            engine.dispose()


@contextlib.contextmanager
def _quiet_migrations() -> Iterator[None]:
    """MLflow's "Creating initial MLflow database tables..." about a scratch database is noise."""
    import logging

    logger = logging.getLogger("mlflow.store.db.utils")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _premature_table(error: Exception) -> str | None:
    """The table of "table X already exists": a later migration's table that parallel starts created early."""
    import re

    match = re.search(r"table (\w+) already exists", str(error))
    return match.group(1) if match else None


def _is_empty(path: Path, table: str) -> bool:
    import sqlite3

    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] == 0
    finally:
        conn.close()


def _open(uri: str) -> None:
    import mlflow

    try:
        retry_locked(lambda: mlflow.MlflowClient(uri).search_experiments(max_results=1), what="opening the store", store=uri)
    except HsframeError:
        raise
    except Exception as exc:
        text = one_line(exc)
        raise HsframeError(f"cannot open tracking store {display_uri(uri)}: {type(exc).__name__}: {text}") from None


@contextlib.contextmanager
def _server_lock(uri: str) -> Iterator[None]:
    """Connect with a short timeout (one clear line if the server cannot be reached); on PostgreSQL hold
    an advisory lock while the block creates or migrates MLflow's tables."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    shown = display_uri(uri)
    try:
        url = sqlalchemy.engine.make_url(uri)
    except Exception as exc:
        raise HsframeError(f"tracking store {shown} is not a valid database URL ({exc}); "
                           f"write it as postgresql://user:password@host:5432/database") from None
    backend = url.get_backend_name()
    connect_args = {"connect_timeout": PROBE_TIMEOUT_S} if backend in {"postgresql", "mysql"} else {}
    try:
        engine = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except ImportError as exc:
        extra = " (pip install -e '.[postgres]')" if backend == "postgresql" else ""
        raise HsframeError(f"tracking store {shown} needs the database driver '{exc.name}', which is not installed{extra}") from None
    try:
        try:
            conn = engine.connect()
        except Exception as exc:
            reason = one_line(getattr(exc, "orig", None) or exc)
            raise HsframeError(f"cannot reach tracking store {shown}: {reason}; check that the server "
                               f"runs and the host, port, user, password and database, or change tracking_uri in mlflow.yml") from None
        with conn:
            if backend != "postgresql":
                yield
                return
            conn.execute(sqlalchemy.text(f"SET lock_timeout = '{LOCK_WAIT_S}s'"))
            try:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_KEY})
            except sqlalchemy.exc.OperationalError:
                raise HsframeError(f"waited {LOCK_WAIT_S} s for another process that creates or upgrades the tracking store "
                                   f"{shown}; wait for it to finish (or stop it) and rerun") from None
            conn.commit()
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY})
                    conn.commit()
    finally:
        engine.dispose()


def _probe_http(uri: str) -> None:
    """Any HTTP answer will do (MLflow checks the rest); no answer within the timeout is one clear line."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise HsframeError(f"cannot reach tracking server {uri}: {reason}; start it "
                           f"(`mlflow server ...`) or change tracking_uri in mlflow.yml") from None
