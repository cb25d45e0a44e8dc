"""Per-channel standardization of volumes and series, from what the training samples hold."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from hsframe.recording import Recorder
    from hsframe.tasks.base import Task


def no_scaling(channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean 0, std 1 per channel: ``data.standardize=false``."""
    return np.zeros(channels), np.ones(channels)


def channel_stats(values: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of ``values`` over ``axes`` (the channel axis left), in float64."""
    values = values.astype(np.float64)
    return values.mean(axes), values.std(axes)


def finish(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 statistics, a constant channel scaled by 1 instead of divided by 0."""
    std = np.where(std > 0, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def record_scaling(task: "Task", recorder: "Recorder", mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`finish` the statistics and record them (``preprocess/samples.json``), as a reader needs them."""
    mean, std = finish(mean, std)
    recorder.log_dict({"dataset": task.name, "sampling": task.sampling, "class_names": task.class_names,
                       "channel_mean": mean.tolist(), "channel_std": std.tolist()}, "preprocess/samples.json")
    return mean, std


def standardized(array: np.ndarray, mean: np.ndarray, std: np.ndarray, device: "torch.device") -> "torch.Tensor":
    """A ``(C, ...)`` array as float32 on ``device``, standardized per channel."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    shape = (-1,) + (1,) * (x.ndim - 1)
    return ((x - torch.from_numpy(mean).reshape(shape)) / torch.from_numpy(std).reshape(shape)).to(device)
