"""Where a run's record goes: the :class:`Recorder` interface, MLflow, or memory."""
from hsframe.recording.base import FAILED, FINISHED, KILLED, PARENT_TAG, Recorder
from hsframe.recording.memory import MemoryRecorder, RecordedRun
from hsframe.recording.mlflow_recorder import MLflowRecorder

__all__ = ["Recorder", "MLflowRecorder", "MemoryRecorder", "RecordedRun", "FINISHED", "FAILED", "KILLED", "PARENT_TAG"]
