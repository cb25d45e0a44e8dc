"""Tasks: each kind of data as numbered samples (see :mod:`hsframe.tasks.base`).

==================  ===================  ===========================  ===============================
task                data                 sample                       split drawn over
==================  ===================  ===========================  ===============================
SceneTask           Scene                (1, K, p, p) feature patch   the (H, W) label map
SceneSetTask        SceneSet             (1, K, p, p) patch of one    the tiles' label maps (a canvas
                                         tile's features              of tiles p apart), or per file
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
from hsframe.tasks.scene_set import SceneSetTask
from hsframe.tasks.volume_set import VolumeSetTask

__all__ = ["TASKS", "Samples", "Task", "TaskSplit", "make_task", "task_for", "to_class_index", "to_label_value",
           "SceneTask", "SceneSetTask", "VolumeSetTask", "DenseVolumeTask", "PixelSeriesTask", "FrameWindowTask"]
