"""A recorder that keeps every run in memory: what the tests and notebooks read back."""
from __future__ import annotations

import contextlib
import copy
import itertools
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from hsframe.errors import HsframeError
from hsframe.recording.base import END_TAG, FAILED, FINISHED, KILLED, Recorder, RunStopped, StoredRun

if TYPE_CHECKING:
    from hsframe.engine.fitting import Fitting
    from hsframe.model_artifact import ModelCard


@dataclass
class RecordedRun:
    """One run as recorded: ``metrics[key]`` is the list of ``(step, value)`` in logging order."""

    run_id: str
    name: str
    tags: dict[str, str]
    parent_id: str | None = None
    status: str = "RUNNING"
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, list[tuple[int | None, float]]] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    model: Any = None

    def metric(self, key: str) -> float:
        """The last value logged for ``key``."""
        return self.metrics[key][-1][1]


class MemoryRecorder(Recorder):
    """Every run in :attr:`runs` (by id, in start order); artifacts keep their content (text, dicts, file bytes)."""

    def __init__(self, parent_id: str | None = None) -> None:
        self.parent_id = parent_id
        self.runs: dict[str, RecordedRun] = {}
        self._open: list[RecordedRun] = []
        self._ids = itertools.count()

    @property
    def location(self) -> str:
        return "memory"

    def check(self) -> None:
        pass

    def stored_run(self, run_id: str) -> StoredRun | None:
        run = self.runs.get(run_id)
        if run is None:
            return None
        config = run.artifacts.get("config/resolved_config.yaml")
        return StoredRun(run.run_id, run.name, run.status, dict(run.tags), copy.deepcopy(config),
                         [step for step, _ in run.metrics.get("val_oa", []) if step is not None])

    @contextlib.contextmanager
    def run(self, name: str, tags: dict[str, str], resume_id: str | None = None) -> Iterator[str]:
        if resume_id is not None:
            if resume_id not in self.runs:
                raise HsframeError(f"no run '{resume_id}' in this MemoryRecorder; known runs: {', '.join(self.runs) or '(none)'}")
            run = self.runs[resume_id]
            run.status = "RUNNING"
            run.tags.pop(END_TAG, None)  # from the attempt that ended
            run.tags.update(tags)
        else:
            run = RecordedRun(f"run{next(self._ids)}", name, dict(tags), self._open[-1].run_id if self._open else self.parent_id)
            self.runs[run.run_id] = run
        self._open.append(run)
        try:
            yield run.run_id
        except KeyboardInterrupt as exc:
            from hsframe.signals import interruption

            run.status, run.tags[END_TAG] = KILLED, f"interrupted ({interruption(exc)})"
            raise
        except RunStopped as exc:
            run.status, run.tags[END_TAG] = KILLED, str(exc)
            raise
        except BaseException as exc:
            run.artifacts["error/traceback.txt"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            run.status = FAILED
            raise
        else:
            run.status = FINISHED
        finally:
            self._open.pop()

    @property
    def current(self) -> RecordedRun:
        if not self._open:
            raise RuntimeError("no open run: log inside `with recorder.run(...)`")
        return self._open[-1]

    def log_params(self, params: dict[str, Any]) -> None:
        new = {k: str(v) for k, v in params.items()}  # as MLflow stores them
        run = self.current
        changed = sorted(k for k, v in new.items() if k in run.params and run.params[k] != v)
        if changed:  # as MLflow refuses it: a param, once logged, is fixed
            raise HsframeError(f"run {run.run_id}: param(s) {changed} already logged with other values")
        run.params.update(new)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.current.metrics.setdefault(key, []).append((step, float(value)))

    def set_tags(self, tags: dict[str, str]) -> None:
        self.current.tags.update(tags)

    def log_dict(self, value: dict[str, Any], path: str) -> None:
        self.current.artifacts[path] = value

    def log_text(self, text: str, path: str) -> None:
        self.current.artifacts[path] = text

    def log_table(self, columns: dict[str, list[Any]], path: str) -> None:
        self.current.artifacts[path] = {k: list(v) for k, v in columns.items()}

    def log_figure(self, figure: Any, path: str) -> None:
        self.current.artifacts[path] = figure

    def log_file(self, local_path: str | Path, folder: str) -> None:
        local_path = Path(local_path)
        self.current.artifacts[f"{folder}/{local_path.name}"] = local_path.read_bytes()

    def log_model(self, fitting: "Fitting", card: "ModelCard") -> None:
        super().log_model(fitting, card)  # the files, as a store holds them
        self.current.model = fitting.predictor
