"""The MLflow recorder: every MLflow call a run makes is here."""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any, Callable, Iterator

from hsframe.recording.base import Recorder, StoredRun
from hsframe.stores import retry_locked
from hsframe.tracking import TrackingSettings, check_store, tracked_run


def _retrying(method: Callable[..., None]) -> Callable[..., None]:
    """The method tried again while a SQLite store is locked by other processes (hsframe.stores.retry_locked)."""

    @functools.wraps(method)
    def wrapper(self: MLflowRecorder, *args: Any, **kwargs: Any) -> None:
        what = f"MLflow {method.__name__.replace('_', ' ')}"
        return retry_locked(method, self, *args, what=what, store=self.settings.tracking_uri, **kwargs)

    return wrapper


class MLflowRecorder(Recorder):
    """Runs in the MLflow store of ``settings``; a run opened inside another becomes its child, and
    with ``parent_id`` every outermost run becomes a child of that run (opened by another process)."""

    def __init__(self, settings: TrackingSettings, experiment: str | None = None, parent_id: str | None = None) -> None:
        self.settings = settings
        self.experiment = experiment
        self.parent_id = parent_id

    @property
    def location(self) -> str:
        from hsframe.stores import display_uri

        return display_uri(self.settings.tracking_uri)  # for messages and summaries: no server password

    def ui_command(self) -> str:
        return self.settings.ui_command()

    def check(self) -> None:
        check_store(self.settings)

    shared = True

    def children_of(self, parent_id: str) -> "MLflowRecorder":
        return MLflowRecorder(self.settings, self.experiment, parent_id=parent_id)

    def stored_run(self, run_id: str) -> StoredRun | None:
        import tempfile

        import mlflow
        import yaml
        from mlflow.exceptions import MlflowException

        client = mlflow.MlflowClient(self.settings.tracking_uri)
        try:
            run = client.get_run(run_id)
        except MlflowException:
            return None
        config = None
        with tempfile.TemporaryDirectory() as tmp, no_progress_bar():
            try:
                local = client.download_artifacts(run_id, "config/resolved_config.yaml", tmp)
            except (MlflowException, OSError):
                pass  # stays None: the caller says the run cannot be resumed
            else:
                config = yaml.safe_load(Path(local).read_text())
        steps = [m.step for m in client.get_metric_history(run_id, "val_oa")]
        return StoredRun(run_id, run.info.run_name or "", run.info.status, dict(run.data.tags), config, steps)

    @contextlib.contextmanager
    def run(self, name: str, tags: dict[str, str], resume_id: str | None = None) -> Iterator[str]:
        with tracked_run(self.settings, self.experiment, name, tags, parent_id=self.parent_id, resume_id=resume_id) as run:
            yield run.info.run_id

    @_retrying
    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        mlflow.log_params(params)

    @_retrying
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        mlflow.log_metrics(metrics, step=step)

    @_retrying
    def set_tags(self, tags: dict[str, str]) -> None:
        import mlflow

        mlflow.set_tags(tags)

    @_retrying
    def log_dict(self, value: dict[str, Any], path: str) -> None:
        import mlflow

        mlflow.log_dict(value, path)

    @_retrying
    def log_text(self, text: str, path: str) -> None:
        import mlflow

        mlflow.log_text(text, path)

    @_retrying
    def log_table(self, columns: dict[str, list[Any]], path: str) -> None:
        import mlflow

        mlflow.log_table(columns, path)

    @_retrying
    def log_figure(self, figure: Any, path: str) -> None:
        import mlflow

        mlflow.log_figure(figure, path)

    @_retrying
    def log_file(self, local_path: str | Path, folder: str) -> None:
        import mlflow

        mlflow.log_artifact(str(local_path), folder)


@contextlib.contextmanager
def no_progress_bar() -> Iterator[None]:
    """MLflow draws a download bar on stderr even for one small file; a resume's output stays clean."""
    import os

    key, before = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ[key] = "false"
    try:
        yield
    finally:
        if before is None:
            del os.environ[key]
        else:
            os.environ[key] = before
