"""Where a run's record goes: the :class:`Recorder` interface, MLflow, or memory."""
from hsframe.recording.base import (
    BEST_TRIAL_TAG,
    END_TAG,
    FAILED,
    FINGERPRINT_TAG,
    FINISHED,
    HEARTBEAT_TAG,
    KILLED,
    PARENT_TAG,
    SWEEP_TAG,
    TRIAL_TAG,
    Recorder,
    RunStopped,
    StoredRun,
)
from hsframe.recording.memory import MemoryRecorder, RecordedRun

__all__ = ["Recorder", "MLflowRecorder", "MemoryRecorder", "RecordedRun", "RunStopped", "StoredRun",
           "FINISHED", "FAILED", "KILLED", "PARENT_TAG", "FINGERPRINT_TAG", "END_TAG",
           "HEARTBEAT_TAG", "SWEEP_TAG", "TRIAL_TAG", "BEST_TRIAL_TAG"]


def __getattr__(name: str):
    # Loaded on first use: it pulls in the tracking settings and pydantic, which the tag names
    # (imported by `hsframe runs` and `hsframe compare`, and so by `hsframe --help`) do not need.
    if name == "MLflowRecorder":
        from hsframe.recording.mlflow_recorder import MLflowRecorder

        return MLflowRecorder
    raise AttributeError(f"module 'hsframe.recording' has no attribute {name!r}")
