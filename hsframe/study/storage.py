"""The Optuna storage of a study: an RDB URL (SQLite file, PostgreSQL server) that every worker opens."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from hsframe.errors import HsframeError
from hsframe.stores import display_uri

# A worker killed outright leaves its trial RUNNING; with heartbeats Optuna fails such trials after the
# grace period, so a later worker re-runs them instead of the study waiting on them forever.
HEARTBEAT_SECONDS = 60
GRACE_SECONDS = 180


def open_storage(url: str) -> Any:
    """An ``optuna.storages.RDBStorage`` for ``url``, or one line naming the URL and what to do."""
    import optuna
    import sqlalchemy

    from hsframe.stores import normalize_uri

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if path.is_dir():
            raise HsframeError(f"study storage {url}: {path} is a folder; give a file, e.g. sqlite:///{path / 'optuna.db'}")
        if not (path.parent if str(path.parent) else Path(".")).is_dir():
            raise HsframeError(f"study storage {url}: folder {path.parent} does not exist; create it or choose another --storage")
        # Several workers write to one file: wait for the lock rather than fail at once.
        kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith(("postgresql", "mysql")):
        kwargs = {"connect_args": {"connect_timeout": 5}, "pool_pre_ping": True}
    elif "://" not in url:
        raise HsframeError(f"study storage '{url}' is not a database URL; give e.g. sqlite:///optuna.db or "
                           "postgresql://USER:PASSWORD@HOST:5432/optuna")
    with warnings.catch_warnings():  # Optuna calls heartbeats experimental; a warning per worker says nothing to the user
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # normalize_uri: a bare postgresql:// means psycopg 3 to SQLAlchemy 2.1; the extras install psycopg2.
        return _rdb(optuna, sqlalchemy, url, normalize_uri(url), kwargs)


def _rdb(optuna: Any, sqlalchemy: Any, url: str, driver_url: str, kwargs: dict[str, Any]) -> Any:
    try:
        return optuna.storages.RDBStorage(driver_url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_SECONDS,
                                          grace_period=GRACE_SECONDS)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        raise HsframeError(f"cannot open study storage {display_uri(url)}: {reason}. Check that the server runs and the "
                           "database exists (createdb), or choose another --storage") from None
