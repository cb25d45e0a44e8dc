"""A set of volumes (or clips), one label each: every volume a sample, read on demand."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hsframe.config import RunConfig
from hsframe.data.volumes import VolumeSet
from hsframe.registry import InputSpec
from hsframe.splits.base import SplitGrid
from hsframe.tasks.base import Samples, Task, task_for
from hsframe.tasks.standardize import no_scaling, record_scaling

if TYPE_CHECKING:
    import torch

    from hsframe.recording import Recorder


@task_for(VolumeSet)
class VolumeSetTask(Task):
    """Sample ``i`` is volume ``i``, ``(C, D, H, W)``; the volumes are independent (random splits only)."""

    sampling = "volumes"

    def __init__(self, cfg: RunConfig, data: VolumeSet) -> None:
        super().__init__(cfg, data)
        self.data_kind = data.kind  # a set of clips is "sequence" data, of volumes "volume"
        self.unit = "clips" if data.kind == "sequence" else "volumes"
        self.labels = data.labels
        self.grid = SplitGrid(data.labels, data.class_names, (1,), independent=True, unit=self.unit)
        self.input_spec = InputSpec(*data.sample_shape, num_classes=data.num_classes)

    def describe(self) -> str:
        return f"{len(self.labels)} {self.unit} of (C, D, H, W) = {self.data.sample_shape}"

    def fit_samples(self, train: np.ndarray, device: "torch.device", recorder: "Recorder") -> Samples:
        from hsframe.data.patches import VolumeSource

        c = self.input_spec.channels
        if self.cfg.data.standardize:
            total, sq, count = np.zeros(c), np.zeros(c), 0
            for start in range(0, len(train), 32):  # streamed: the volumes may not fit in memory together
                x = self.data.volumes.read(train[start : start + 32]).astype(np.float64)
                total += x.sum(axis=(0, 2, 3, 4))
                sq += (x**2).sum(axis=(0, 2, 3, 4))
                count += x.size // c
            mean = total / count
            stats = (mean, np.sqrt(np.maximum(sq / count - mean**2, 0)))
        else:
            stats = no_scaling(c)
        mean, std = record_scaling(self, recorder, *stats)
        return Samples(VolumeSource(self.data.volumes, mean, std, device))

    def sample_source_text(self, i: int) -> str:
        sources = getattr(self.data, "sources", None)
        return sources[i] if sources else ""
