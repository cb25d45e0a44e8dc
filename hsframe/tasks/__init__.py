"""Tasks: each kind of data as numbered samples (see :mod:`hsframe.tasks.base`).

==================  ===================  ===========================  ===============================
task                data                 sample                       split drawn over
==================  ===================  ===========================  ===============================
SceneTask           Scene                (1, K, p, p) feature patch   the (H, W) label map
VolumeSetTask       VolumeSet            one whole volume / clip      the N volumes (random only)
DenseVolumeTask     LabeledVolume        (C, pd, p, p) patch          the (D, H, W) label volume
PixelSeriesTask     FrameSeries/pixel    (C, t, p, p) window          the (H, W) map; a pixel brings
                                                                      all its windows
FrameWindowTask     FrameSeries/frame    (C, t, H, W) window          the n windows (1-D)
==================  ===================  ===========================  ===============================
"""
from hsframe.tasks.base import TASKS, Samples, Task, TaskSplit, make_task, task_for, to_class_index, to_label_value
from hsframe.tasks.dense_volume import DenseVolumeTask
from hsframe.tasks.frame_series import FrameWindowTask, PixelSeriesTask
from hsframe.tasks.scene import SceneTask
from hsframe.tasks.volume_set import VolumeSetTask

__all__ = ["TASKS", "Samples", "Task", "TaskSplit", "make_task", "task_for", "to_class_index", "to_label_value",
           "SceneTask", "VolumeSetTask", "DenseVolumeTask", "PixelSeriesTask", "FrameWindowTask"]
