"""Where a run's record goes: the :class:`Recorder` interface, MLflow, or memory."""
from hsframe.recording.base import END_TAG, FAILED, FINGERPRINT_TAG, FINISHED, KILLED, PARENT_TAG, Recorder, RunStopped
from hsframe.recording.memory import MemoryRecorder, RecordedRun
from hsframe.recording.mlflow_recorder import MLflowRecorder

__all__ = ["Recorder", "MLflowRecorder", "MemoryRecorder", "RecordedRun", "RunStopped",
           "FINISHED", "FAILED", "KILLED", "PARENT_TAG", "FINGERPRINT_TAG", "END_TAG"]
