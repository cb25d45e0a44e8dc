"""MLflow tracking: which store, and a run context that never leaves a run RUNNING."""
from __future__ import annotations

import contextlib
import os
import subprocess
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from hsframe.config import read_yaml_mapping
from hsframe.errors import HsframeError, mark_run

DEFAULT_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "hsframe"
DEFAULT_ARTIFACTS = "./mlartifacts"
_SETTINGS_KEYS = {"tracking_uri", "experiment", "artifact_location"}


@dataclass(frozen=True)
class TrackingSettings:
    tracking_uri: str = DEFAULT_URI
    experiment: str = DEFAULT_EXPERIMENT
    artifact_location: str = DEFAULT_ARTIFACTS

    def ui_command(self) -> str:
        return f"hsframe ui --tracking-uri {self.tracking_uri}"


def load_settings(path: str | Path = "mlflow.yml", uri: str | None = None) -> TrackingSettings:
    """``mlflow.yml`` (if present) < ``MLFLOW_TRACKING_URI`` < an explicit ``uri``."""
    values: dict[str, Any] = {}
    path = Path(path)
    if path.is_file():
        values = read_yaml_mapping(path, "tracking settings")
        unknown = set(values) - _SETTINGS_KEYS
        if unknown:
            raise HsframeError(f"{path}: unknown key(s) {sorted(unknown)}; valid keys are {sorted(_SETTINGS_KEYS)}")
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or values.get("tracking_uri") or DEFAULT_URI
    from hsframe.stores import normalize_uri

    return TrackingSettings(
        tracking_uri=normalize_uri(str(chosen)),  # postgresql:// with the installed driver
        experiment=str(values.get("experiment") or DEFAULT_EXPERIMENT),
        artifact_location=str(values.get("artifact_location") or DEFAULT_ARTIFACTS),
    )


def check_store(settings: TrackingSettings) -> None:
    """Fail before any work starts if the store cannot be reached or written; create and migrate a new
    store here, once, even when many processes start at the same time (hsframe.stores)."""
    from hsframe.stores import prepare_store, sqlite_path

    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        db = sqlite_path(uri) or Path(uri[len("sqlite:///"):])
        parent = db.parent if str(db.parent) else Path(".")
        if not parent.is_dir():
            raise HsframeError(f"tracking store {uri}: folder {parent} does not exist; create it or change tracking_uri in mlflow.yml")
        if (db.exists() and not os.access(db, os.W_OK)) or (not db.exists() and not os.access(parent, os.W_OK)):
            raise HsframeError(f"tracking store {uri} is not writable; fix its permissions or point tracking_uri in mlflow.yml elsewhere")
    elif uri.startswith("file:") or "://" not in uri:
        raise HsframeError(
            f"tracking store {uri} is a file store, which MLflow has deprecated; use a database such as "
            f"sqlite:///mlflow.db (the default in mlflow.yml)"
        )
    prepare_store(uri)


def _experiment_id(settings: TrackingSettings, name: str) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    from hsframe.stores import display_uri, retry_locked

    uri = settings.tracking_uri
    client = mlflow.MlflowClient(uri)
    exp = retry_locked(client.get_experiment_by_name, name, what=f"looking up experiment '{name}'", store=uri)
    if exp is not None and exp.lifecycle_stage == "deleted":  # MLflow keeps the name and refuses new runs in it
        raise HsframeError(f"experiment '{name}' (id {exp.experiment_id}) was deleted from tracking store {display_uri(uri)}; "
                           f"restore it with `MLFLOW_TRACKING_URI={display_uri(uri)} mlflow experiments restore "
                           f"--experiment-id {exp.experiment_id}` or choose another name (--set experiment=NAME)")
    if exp is not None:
        return exp.experiment_id
    location = settings.artifact_location
    if "://" not in location:  # a local folder: MLflow wants an absolute URI
        location = Path(location).resolve().as_uri()
    try:
        return retry_locked(client.create_experiment, name, artifact_location=location, what=f"creating experiment '{name}'", store=uri)
    except MlflowException as exc:
        # Parallel first runs all try to create it; the losers get a unique violation and read the winner's.
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise HsframeError(f"cannot create experiment '{name}' in tracking store {display_uri(uri)}: {str(exc)[:300]}") from None
        return exp.experiment_id


def git_commit(cwd: str | Path = ".") -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@contextlib.contextmanager
def tracked_run(settings: TrackingSettings, experiment: str | None, run_name: str, tags: dict[str, str],
                parent_id: str | None = None, resume_id: str | None = None) -> Iterator[Any]:
    """An active MLflow run that ends FINISHED, FAILED (traceback logged) or KILLED (Ctrl-C, RunStopped).

    Started while another run is active, it becomes that run's child (repeated seeds); else, with
    ``parent_id``, the child of that run, which another process may hold open (sweep trials).
    ``resume_id``: reopen that run (RUNNING again, same params, metrics and parent) instead of starting
    one; the tags of how its last attempt ended are removed.
    """
    import mlflow

    from hsframe.recording.base import END_TAG, RunStopped

    mlflow.set_tracking_uri(settings.tracking_uri)
    # A resumed run keeps its experiment: none is looked up (or created) for it.
    exp_id = None if resume_id is not None else _experiment_id(settings, experiment or settings.experiment)
    nested = mlflow.active_run() is not None
    if parent_id and not nested and resume_id is None:
        tags = {**tags, "mlflow.parentRunId": parent_id}
    if resume_id is not None:
        run = mlflow.start_run(run_id=resume_id, tags=tags, nested=nested)
        for stale in (END_TAG, "hsframe.error"):  # from the attempt that ended; this one ends afresh
            if stale in run.data.tags:
                mlflow.MlflowClient(settings.tracking_uri).delete_tag(resume_id, stale)
    else:
        run = mlflow.start_run(experiment_id=exp_id, run_name=run_name, tags=tags, nested=nested)
    try:
        yield run
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP (hsframe.signals)
        from hsframe.signals import interruption

        mark_run(exc, run.info.run_id)
        _end(mlflow, "KILLED", {END_TAG: f"interrupted ({interruption(exc)})"})
        raise
    except RunStopped as exc:
        mark_run(exc, run.info.run_id)
        _end(mlflow, "KILLED", {END_TAG: str(exc)})
        raise
    except BaseException as exc:
        mark_run(exc, run.info.run_id)
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with contextlib.suppress(Exception):
            mlflow.log_text(text, "error/traceback.txt")
        _end(mlflow, "FAILED", {"hsframe.error": f"{type(exc).__name__}: {exc}"[:5000]})
        raise
    else:
        _end(mlflow, "FINISHED", {})


def _end(mlflow: Any, status: str, tags: dict[str, str]) -> None:
    from hsframe.stores import retry_locked

    with contextlib.suppress(Exception):
        mlflow.set_tags(tags)
    # Retried like every other write: a run that cannot record its end on a busy store stays RUNNING forever.
    retry_locked(mlflow.end_run, status, what=f"ending the run {status}")
