"""Volumes and time series as numbered samples: what a run needs besides the model.

Hyperspectral scenes have their own path in the runner (PCA, 2-D patches, classification maps).
Every other layout becomes a :class:`SampleTask`: one label per sample index, the array the split
is drawn over, the window that says which samples share input values (for the leakage report),
and a :class:`~hsframe.data.patches.SampleSource` that cuts the samples on the fly.

=================  =======================  ===============================  ==========================
layout             sample                   split drawn over                 leakage window
=================  =======================  ===============================  ==========================
volumes            one whole volume / clip  the N volumes (random only)      1 (independent samples)
dense              (C, pd, p, p) patch      the (D, H, W) label volume       (pd, p, p)
frames, per pixel  (C, t, p, p) window      the (H, W) label map, then each  (p, p)
                                            pixel brings all its windows
frames, per frame  (C, t, H, W) window      the n windows (1-D)              2 r + 1, r = ceil(t / s) - 1
=================  =======================  ===============================  ==========================

Per-channel standardization is fitted on what the training samples hold, never on test data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsframe.config import RunConfig
from hsframe.data.series import FrameSeries, window_labels, window_starts
from hsframe.data.split import Split, block_split, stratified_split
from hsframe.data.volumes import LabeledVolume, VolumeSet
from hsframe.errors import HsframeError

SampleData = VolumeSet | LabeledVolume | FrameSeries


@dataclass
class SampleTask:
    """A non-hyperspectral dataset as numbered samples.

    Attributes:
        data: the loaded dataset.
        layout: "volumes", "dense", "frames-pixel" or "frames-window".
        labels: ``(S,)`` class id of every sample index, 0 = unlabeled (never used).
        sample_shape: ``(C, D, H, W)`` of one sample as the model receives it.
        split_labels: the label array the split is drawn over (see the module table).
        window: odd window size per axis of ``split_labels`` (leakage report, default block margin).
        repeats: samples per split element (windows per pixel for "frames-pixel", else 1);
            sample ``i`` belongs to split element ``i % split_labels.size``.
        starts: first frame of every window (series only).
        stride: frames between consecutive window starts (series only).
    """

    data: SampleData
    layout: str
    labels: np.ndarray
    sample_shape: tuple[int, int, int, int]
    split_labels: np.ndarray
    window: tuple[int, ...]
    repeats: int = 1
    starts: np.ndarray | None = None
    stride: int = 1

    @property
    def name(self) -> str:
        return self.data.name

    @property
    def kind(self) -> str:
        """The data kind a model must serve: "volume" or "sequence"."""
        if self.layout == "volumes":
            return self.data.kind
        return "volume" if self.layout == "dense" else "sequence"

    @property
    def class_names(self) -> list[str]:
        return self.data.class_names

    @property
    def num_classes(self) -> int:
        return len(self.data.class_names)

    def describe(self) -> str:
        """One line: the data's shape and what a sample is."""
        c, d, h, w = self.sample_shape
        if self.layout == "volumes":
            return f"{len(self.labels)} {'clips' if self.data.kind == 'sequence' else 'volumes'} of (C, D, H, W) = {self.sample_shape}"
        if self.layout == "dense":
            return f"volume {tuple(self.data.volume.shape)} (C, D, H, W); samples: ({c}, {d}, {h}, {w}) patches around labeled voxels"
        per = "pixel" if self.layout == "frames-pixel" else "frame"
        return (f"series {tuple(self.data.frames.shape)} (T, H, W, C); {len(self.starts)} windows of {d} frames "
                f"(stride {self.stride}); labels per {per}; "
                f"samples ({c}, {d}, {h}, {w})")


def make_task(cfg: RunConfig, data: SampleData) -> SampleTask:
    """Turn loaded data into samples, refusing sizes that cannot work (no run started yet)."""
    d = cfg.data
    if isinstance(data, VolumeSet):
        return SampleTask(data, "volumes", data.labels, data.sample_shape, data.labels, (1,))
    if isinstance(data, LabeledVolume):
        c, depth, h, w = data.volume.shape
        p, pd = d.patch_size, d.patch_depth or d.patch_size
        for name, size, length in (("data.patch_depth", pd, depth), ("data.patch_size", p, min(h, w))):
            if size > 2 * length - 1:
                raise HsframeError(f"{name} {size} is larger than the volume allows ({data.volume.shape[1:]} (D, H, W)); "
                                   f"use at most {2 * length - 1}")
        return SampleTask(data, "dense", data.labels.reshape(-1), (c, pd, p, p), data.labels, (pd, p, p))
    if isinstance(data, FrameSeries):
        t_all, h, w, c = data.frames.shape
        t = d.window or t_all
        starts = window_starts(t_all, t, d.stride)  # refuses a window longer than the series
        if data.per_pixel:
            p = d.patch_size
            if p > 2 * min(h, w) - 1:
                raise HsframeError(f"data.patch_size {p} is larger than the frames ({h}x{w}) allow; use at most {2 * min(h, w) - 1}")
            labels = np.tile(data.labels.reshape(-1), len(starts))
            return SampleTask(data, "frames-pixel", labels, (c, t, p, p), data.labels, (p, p), repeats=len(starts),
                              starts=starts, stride=d.stride)
        win = window_labels(data.labels, t, d.stride)
        reach = 2 * (math.ceil(t / d.stride) - 1) + 1  # windows closer than this share frames
        return SampleTask(data, "frames-window", win, (c, t, h, w), win, (reach,), starts=starts, stride=d.stride)
    raise HsframeError(f"dataset '{getattr(data, 'name', data)}' loaded a {type(data).__name__}; expected a Scene, "
                       "VolumeSet, LabeledVolume or FrameSeries")


def split_task(cfg: RunConfig, task: SampleTask) -> tuple[Split, Split]:
    """``(base, samples)``: the split of ``task.split_labels`` and the same split over sample indices."""
    s = cfg.split
    names = task.class_names
    if s.method == "fixed":
        raise HsframeError(f"split.method=fixed reads 2-D train/test maps and serves hyperspectral scenes; the "
                           f"{task.layout} layout takes split.method=random or blocks")
    if s.method == "blocks":
        if task.layout == "volumes":
            raise HsframeError("volumes are independent samples: split.method=blocks has no space to cut into blocks; "
                               "use split.method=random")
        if s.train_fraction is None:
            raise HsframeError("split.method=blocks needs split.train_fraction")
        margin = tuple(w // 2 for w in task.window) if s.margin is None else s.margin
        base = block_split(task.split_labels, names, cfg.seed, s.block_size, margin, s.train_fraction, s.val_fraction)
    else:
        base = stratified_split(task.split_labels, names, cfg.seed, train_fraction=s.train_fraction,
                                train_per_class=s.train_per_class, val_fraction=s.val_fraction)
    if task.repeats == 1:
        return base, base
    n = task.split_labels.size
    offsets = np.arange(task.repeats, dtype=np.int64)[:, None] * n

    def expand(idx: np.ndarray) -> np.ndarray:
        return np.sort((offsets + idx[None, :]).reshape(-1))

    samples = Split(expand(base.train), expand(base.val), expand(base.test),
                    f"{base.description}; every pixel brings its {task.repeats} windows", base.dropped, dict(base.info))
    return base, samples


def leakage_of(cfg: RunConfig, task: SampleTask, base: Split) -> dict[str, Any]:
    from hsframe.data.leakage import leakage_report

    window = task.window if len(task.window) > 1 else task.window[0]
    report = leakage_report(base, task.split_labels.shape, window, fit_on="train")
    report["unit"] = {"volumes": "volumes", "dense": "voxels", "frames-pixel": "pixels", "frames-window": "windows"}[task.layout]
    return report


def channel_stats(task: SampleTask, train: np.ndarray, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of what the training samples hold (float64 sums, then float32)."""
    c = task.sample_shape[0]
    if not standardize:
        return np.zeros(c, np.float32), np.ones(c, np.float32)
    data = task.data
    if task.layout == "volumes":
        total, sq, count = np.zeros(c), np.zeros(c), 0
        for start in range(0, len(train), 32):  # streamed: the volumes may not fit in memory together
            x = data.volumes.read(train[start : start + 32]).astype(np.float64)
            total += x.sum(axis=(0, 2, 3, 4))
            sq += (x**2).sum(axis=(0, 2, 3, 4))
            count += x.size // c
        mean = total / count
        std = np.sqrt(np.maximum(sq / count - mean**2, 0))
    elif task.layout == "dense":
        values = data.volume.reshape(c, -1)[:, train].astype(np.float64)  # the training voxels
        mean, std = values.mean(1), values.std(1)
    elif task.layout == "frames-pixel":
        pixels = np.unique(train % task.split_labels.size)
        values = data.frames.reshape(data.frames.shape[0], -1, c)[:, pixels].astype(np.float64)  # (T, n, C)
        mean, std = values.mean((0, 1)), values.std((0, 1))
    else:
        t = task.sample_shape[1]
        frames = np.unique((task.starts[train][:, None] + np.arange(t)[None, :]).reshape(-1))
        values = data.frames[frames].astype(np.float64)
        mean, std = values.mean((0, 1, 2)), values.std((0, 1, 2))
    std = np.where(std > 0, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def sample_source(task: SampleTask, mean: np.ndarray, std: np.ndarray, device: Any):
    """The :class:`~hsframe.data.patches.SampleSource` of the task, standardized with ``mean`` / ``std``."""
    import torch

    from hsframe.data.patches import VolumeSource, WindowSource

    if task.layout == "volumes":
        return VolumeSource(task.data.volumes, mean, std, device)
    scale = (torch.from_numpy(mean)[:, None, None, None], torch.from_numpy(std)[:, None, None, None])
    c, d, h, w = task.sample_shape
    if task.layout == "dense":
        array = torch.from_numpy(np.ascontiguousarray(task.data.volume, dtype=np.float32))
        array = ((array - scale[0]) / scale[1]).to(device)
        return WindowSource(array, (d, h, w), task.split_labels.shape, pad=(d // 2, h // 2, w // 2))
    # Series: (T, H, W, C) -> (C, T, H, W)
    array = torch.from_numpy(np.ascontiguousarray(np.moveaxis(task.data.frames, -1, 0), dtype=np.float32))
    array = ((array - scale[0]) / scale[1]).to(device)
    if task.layout == "frames-pixel":
        hh, ww = task.split_labels.shape
        return WindowSource(array, (d, h, w), (len(task.starts), hh, ww), pad=(0, h // 2, w // 2), stride=task.stride)
    return WindowSource(array, (d, h, w), (len(task.starts), 1, 1), stride=task.stride)


def pixel_vote(task: SampleTask, sample_index: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel majority vote over a pixel's windows ("frames-pixel"), 1-based ``pred`` in: ``(pixels, 1-based classes)``."""
    n = task.split_labels.size
    pix = sample_index % n
    votes = np.zeros((n, task.num_classes + 1), np.int64)
    np.add.at(votes, (pix, pred), 1)
    pixels = np.unique(pix)
    return pixels, votes[pixels, 1:].argmax(1) + 1
