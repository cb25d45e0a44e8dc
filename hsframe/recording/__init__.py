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
from hsframe.recording.mlflow_recorder import MLflowRecorder

__all__ = ["Recorder", "MLflowRecorder", "MemoryRecorder", "RecordedRun", "RunStopped", "StoredRun",
           "FINISHED", "FAILED", "KILLED", "PARENT_TAG", "FINGERPRINT_TAG", "END_TAG",
           "HEARTBEAT_TAG", "SWEEP_TAG", "TRIAL_TAG", "BEST_TRIAL_TAG"]
