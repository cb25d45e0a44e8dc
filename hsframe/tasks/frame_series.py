"""Frame series ``(T, H, W, C)``: windows of ``t`` frames every ``stride``, labeled per pixel or per frame.

- :class:`PixelSeriesTask` (labels per pixel): sample = a ``(C, t, p, p)`` window around a pixel;
  the split is drawn over the ``(H, W)`` label map and each pixel brings all its windows, which
  then vote for the pixel's class in the map.
- :class:`FrameWindowTask` (labels per frame): sample = a whole-frame ``(C, t, H, W)`` window; the
  split is drawn over the windows, and windows closer than ``2 r + 1`` (``r = ceil(t / s) - 1``)
  share frames.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from hsframe.config import RunConfig
from hsframe.data.series import FrameSeries, window_labels, window_starts
from hsframe.errors import HsframeError
from hsframe.registry import InputSpec
from hsframe.splits.base import SplitGrid
from hsframe.tasks.base import Samples, Task, TaskSplit, task_for, to_label_value
from hsframe.tasks.standardize import channel_stats, no_scaling, record_scaling, standardized

if TYPE_CHECKING:
    import torch

    from hsframe.recording import Recorder


class _SeriesTask(Task):
    data_kind = "sequence"
    unit = "windows"

    def __init__(self, cfg: RunConfig, data: FrameSeries) -> None:
        super().__init__(cfg, data)
        t_all = data.frames.shape[0]
        self.window = cfg.data.window or t_all
        self.stride = cfg.data.stride
        self.starts = window_starts(t_all, self.window, self.stride)  # refuses a window longer than the series

    def describe(self) -> str:
        s = self.input_spec
        per = "pixel" if self.data.per_pixel else "frame"
        return (f"series {tuple(self.data.frames.shape)} (T, H, W, C); {len(self.starts)} windows of {self.window} frames "
                f"(stride {self.stride}); labels per {per}; samples ({s.channels}, {s.depth}, {s.height}, {s.width})")

    def channels_first(self, mean: np.ndarray, std: np.ndarray, device: "torch.device") -> "torch.Tensor":
        """The frames as a standardized ``(C, T, H, W)`` tensor."""
        return standardized(np.moveaxis(self.data.frames, -1, 0), mean, std, device)


@task_for(FrameSeries)
class PixelSeriesTask(_SeriesTask):
    sampling = "pixel-windows"

    @classmethod
    def serves(cls, data: FrameSeries) -> bool:
        return data.per_pixel

    def __init__(self, cfg: RunConfig, data: FrameSeries) -> None:
        super().__init__(cfg, data)
        _, h, w, c = data.frames.shape
        p = cfg.data.patch_size
        if p > 2 * min(h, w) - 1:
            raise HsframeError(f"data.patch_size {p} is larger than the frames ({h}x{w}) allow; use at most {2 * min(h, w) - 1}")
        self.repeats = len(self.starts)
        self.labels = np.tile(data.labels.reshape(-1), self.repeats)
        self.grid = SplitGrid(data.labels, data.class_names, (p, p), unit="pixels")
        self.input_spec = InputSpec(c, self.window, p, p, data.num_classes)

    def fit_samples(self, train: np.ndarray, device: "torch.device", recorder: "Recorder") -> Samples:
        from hsframe.data.patches import WindowSource

        frames = self.data.frames
        c = frames.shape[-1]
        if self.cfg.data.standardize:
            pixels = np.unique(train % self.grid.labels.size)
            stats = channel_stats(frames.reshape(frames.shape[0], -1, c)[:, pixels], (0, 1))  # (T, n, C)
        else:
            stats = no_scaling(c)
        mean, std = record_scaling(self, recorder, *stats)
        s = self.input_spec
        hh, ww = self.grid.labels.shape
        return Samples(WindowSource(self.channels_first(mean, std, device), (s.depth, s.height, s.width),
                                    (len(self.starts), hh, ww), pad=(0, s.height // 2, s.width // 2), stride=self.stride))

    def inference_index(self, split: TaskSplit) -> np.ndarray:
        return np.arange(self.labels.size) if self.cfg.eval.full_map else split.samples.test

    def pixel_vote(self, index: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Majority vote over each pixel's windows: ``(pixels, 0-based class)`` for the pixels ``index`` reaches.

        Ties go to the lower class. Counted over (pixel, class) pairs that occur, never a pixels x classes table.
        """
        k = max(self.num_classes, 1)
        pairs, counts = np.unique((np.asarray(index) % self.grid.labels.size) * k + np.asarray(pred), return_counts=True)
        pix, cls = pairs // k, pairs % k
        order = np.lexsort((cls, -counts, pix))  # per pixel: most votes first, then the lower class
        pix, cls = pix[order], cls[order]
        first = np.r_[True, pix[1:] != pix[:-1]]
        return pix[first], cls[first]

    def record_outputs(self, recorder: "Recorder", split: TaskSplit, index: np.ndarray, pred: np.ndarray,
                       caption: str, metrics: dict[str, float]) -> dict[str, float]:
        from hsframe.figures import write_classification_map

        labels = self.grid.labels
        pixels, voted = self.pixel_vote(index, pred)
        vote_map = np.zeros(labels.size, np.int64)
        vote_map[pixels] = to_label_value(voted)
        test_pixels = np.unique(split.samples.test % labels.size)
        vote_oa = float((vote_map[test_pixels] == labels.reshape(-1)[test_pixels]).mean())
        self.record_map(recorder, lambda folder: write_classification_map(
            folder, labels, vote_map.reshape(labels.shape), self.class_names, self.palette,
            f"{caption}: vote over windows, test OA {vote_oa:.4f}", label_ids=self.label_ids))
        return {"test_oa_pixel_vote": vote_oa}


@task_for(FrameSeries)
class FrameWindowTask(_SeriesTask):
    sampling = "frame-windows"

    def __init__(self, cfg: RunConfig, data: FrameSeries) -> None:
        super().__init__(cfg, data)
        _, h, w, c = data.frames.shape
        self.labels = window_labels(data.labels, self.window, self.stride)
        reach = 2 * (math.ceil(self.window / self.stride) - 1) + 1  # windows closer than this share frames
        self.grid = SplitGrid(self.labels, data.class_names, (reach,), unit="windows")
        self.input_spec = InputSpec(c, self.window, h, w, data.num_classes)

    def sample_source_text(self, i: int) -> str:
        return f"frames {self.starts[i]}-{self.starts[i] + self.window - 1}"

    def fit_samples(self, train: np.ndarray, device: "torch.device", recorder: "Recorder") -> Samples:
        from hsframe.data.patches import WindowSource

        frames = self.data.frames
        c = frames.shape[-1]
        if self.cfg.data.standardize:
            used = np.unique((self.starts[train][:, None] + np.arange(self.window)[None, :]).reshape(-1))
            stats = channel_stats(frames[used], (0, 1, 2))
        else:
            stats = no_scaling(c)
        mean, std = record_scaling(self, recorder, *stats)
        s = self.input_spec
        return Samples(WindowSource(self.channels_first(mean, std, device), (s.depth, s.height, s.width),
                                    (len(self.starts), 1, 1), stride=self.stride))
