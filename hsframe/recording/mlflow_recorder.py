"""The MLflow recorder: every MLflow call a run makes is here."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

from hsframe.recording.base import Recorder
from hsframe.tracking import TrackingSettings, check_store, tracked_run


class MLflowRecorder(Recorder):
    """Runs in the MLflow store of ``settings``; a run opened inside another becomes its child, and
    with ``parent_id`` every outermost run becomes a child of that run (opened by another process)."""

    def __init__(self, settings: TrackingSettings, experiment: str | None = None, parent_id: str | None = None) -> None:
        self.settings = settings
        self.experiment = experiment
        self.parent_id = parent_id

    @property
    def location(self) -> str:
        return self.settings.tracking_uri

    def ui_command(self) -> str:
        return self.settings.ui_command()

    def check(self) -> None:
        check_store(self.settings)

    @contextlib.contextmanager
    def run(self, name: str, tags: dict[str, str]) -> Iterator[str]:
        with tracked_run(self.settings, self.experiment, name, tags, parent_id=self.parent_id) as run:
            yield run.info.run_id

    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        mlflow.log_params(params)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import mlflow

        mlflow.log_metrics(metrics, step=step)

    def set_tags(self, tags: dict[str, str]) -> None:
        import mlflow

        mlflow.set_tags(tags)

    def log_dict(self, value: dict[str, Any], path: str) -> None:
        import mlflow

        mlflow.log_dict(value, path)

    def log_text(self, text: str, path: str) -> None:
        import mlflow

        mlflow.log_text(text, path)

    def log_table(self, columns: dict[str, list[Any]], path: str) -> None:
        import mlflow

        mlflow.log_table(columns, path)

    def log_figure(self, figure: Any, path: str) -> None:
        import mlflow

        mlflow.log_figure(figure, path)

    def log_file(self, local_path: str | Path, folder: str) -> None:
        import mlflow

        mlflow.log_artifact(str(local_path), folder)

    def log_model(self, model: Any, input_example: Any, pip_requirements: list[str]) -> None:
        import mlflow

        mlflow.pytorch.log_model(model, name="model", input_example=input_example, pip_requirements=pip_requirements)
