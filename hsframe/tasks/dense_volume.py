"""One volume with a label volume: a ``(C, pd, p, p)`` patch around every labeled voxel."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hsframe.config import RunConfig
from hsframe.data.volumes import LabeledVolume
from hsframe.errors import HsframeError
from hsframe.metrics import CLASS_SCORES, SEGMENTATION_SCORES
from hsframe.registry import InputSpec
from hsframe.splits.base import SplitGrid
from hsframe.tasks.base import Samples, Task, TaskSplit, task_for, to_label_value
from hsframe.tasks.standardize import channel_stats, no_scaling, record_scaling, standardized

if TYPE_CHECKING:
    import torch

    from hsframe.recording import Recorder


@task_for(LabeledVolume)
class DenseVolumeTask(Task):
    """Every labeled voxel a sample; the split is drawn over the ``(D, H, W)`` label volume."""

    data_kind = "volume"
    sampling = "voxel-patches"
    unit = "voxels"
    class_scores = CLASS_SCORES + SEGMENTATION_SCORES  # segmentation's Dice and IoU per class, over the test voxels

    def __init__(self, cfg: RunConfig, data: LabeledVolume) -> None:
        super().__init__(cfg, data)
        c, depth, h, w = data.volume.shape
        p, pd = cfg.data.patch_size, cfg.data.patch_depth or cfg.data.patch_size
        for name, size, length in (("data.patch_depth", pd, depth), ("data.patch_size", p, min(h, w))):
            if size > 2 * length - 1:
                raise HsframeError(f"{name} {size} is larger than the volume allows ({data.volume.shape[1:]} (D, H, W)); "
                                   f"use at most {2 * length - 1}")
        self.labels = data.labels.reshape(-1)
        self.grid = SplitGrid(data.labels, data.class_names, (pd, p, p), unit="voxels")
        self.input_spec = InputSpec(c, pd, p, p, data.num_classes)

    def describe(self) -> str:
        s = self.input_spec
        return (f"volume {tuple(self.data.volume.shape)} (C, D, H, W); samples: ({s.channels}, {s.depth}, {s.height}, "
                f"{s.width}) patches around labeled voxels")

    def fit_samples(self, train: np.ndarray, device: "torch.device", recorder: "Recorder") -> Samples:
        from hsframe.data.patches import WindowSource

        c = self.input_spec.channels
        volume = self.data.volume
        stats = channel_stats(volume.reshape(c, -1)[:, train], (1,)) if self.cfg.data.standardize else no_scaling(c)
        mean, std = record_scaling(self, recorder, *stats)
        window = self.grid.window
        return Samples(WindowSource(standardized(volume, mean, std, device), window, self.grid.labels.shape,
                                    pad=tuple(n // 2 for n in window)))

    def inference_index(self, split: TaskSplit) -> np.ndarray:
        return np.arange(self.labels.size) if self.cfg.eval.full_map else split.samples.test

    def record_outputs(self, recorder: "Recorder", split: TaskSplit, index: np.ndarray, pred: np.ndarray,
                       caption: str, metrics: dict[str, float]) -> dict[str, float]:
        from hsframe.figures import write_volume_slices

        predicted = to_label_value(self.by_sample(index, pred)).reshape(self.grid.labels.shape)
        self.record_map(recorder, lambda folder: write_volume_slices(
            folder, self.grid.labels, predicted, self.class_names, self.palette, f"{caption}: OA {metrics['test_oa']:.4f}",
            label_ids=self.label_ids))
        return {}
