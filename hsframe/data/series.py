"""The in-memory form of a time series of frames, and its sliding windows.

A :class:`FrameSeries` holds frames ``(T, H, W, C)`` and labels of one of two shapes:

- per pixel ``(H, W)``: a sample is the ``(C, t, p, p)`` window of ``t`` frames around one pixel,
  labeled by that pixel's class (land use from a satellite time series);
- per frame ``(T,)``: a sample is a whole-frame window ``(C, t, H, W)``, labeled by its frames'
  class; a window whose frames do not all share one class is left unlabeled (0), so no window
  straddles two labels (the ``batch x t x 32 x 32`` set-up of clip classifiers).

Windows start every ``stride`` frames and never run past the series' end.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hsframe.data.base import LabeledData
from hsframe.errors import HsframeError


@dataclass
class FrameSeries(LabeledData):
    """Frames and their labels.

    Attributes:
        name: dataset name (as registered).
        frames: ``(T, H, W, C)`` float32 (C = 1 for a single variable such as NDVI).
        labels: ``(H, W)`` int64 per-pixel classes, or ``(T,)`` per-frame classes; 0 = unlabeled.
        class_names: K names, ``class_names[k - 1]`` names class id ``k``.
        timestamps: optional T strings (ISO dates) for the frames.
        label_ids: the data's own id of each class when its labels were renumbered 1..K (see ``LabeledData``).
    """

    name: str
    frames: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    palette: list[tuple[int, int, int]] = field(default_factory=list)
    timestamps: list[str] | None = None
    label_ids: list[int] | None = None

    def __post_init__(self) -> None:
        if self.frames.ndim != 4:
            raise ValueError(f"frames must be (T, H, W, C), got shape {self.frames.shape}")
        t, h, w, _ = self.frames.shape
        if self.labels.shape not in ((h, w), (t,)):
            raise ValueError(f"labels must be per pixel {(h, w)} or per frame {(t,)}, got {self.labels.shape}")
        self._init_classes()
        if self.timestamps is not None and len(self.timestamps) != t:
            raise ValueError(f"{len(self.timestamps)} timestamps for {t} frames")

    @property
    def per_pixel(self) -> bool:
        """True when labels are per pixel ``(H, W)``, False when per frame ``(T,)``."""
        return self.labels.ndim == 2

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(T, H, W, C)``."""
        return tuple(self.frames.shape)  # type: ignore[return-value]


def window_starts(length: int, window: int, stride: int) -> np.ndarray:
    """First frame of every window of ``window`` frames, one every ``stride``, inside ``length`` frames."""
    if window < 1 or stride < 1:
        raise HsframeError(f"data.window and data.stride must be >= 1, got window {window}, stride {stride}")
    if window > length:
        raise HsframeError(f"data.window {window} is longer than the series ({length} frames); use at most {length}")
    return np.arange(0, length - window + 1, stride, dtype=np.int64)


def window_labels(frame_labels: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Class of each window: its frames' common class, or 0 when they do not share one."""
    starts = window_starts(len(frame_labels), window, stride)
    frames = frame_labels[starts[:, None] + np.arange(window)[None, :]]  # (n_windows, window)
    same = (frames == frames[:, :1]).all(axis=1)
    return np.where(same, frames[:, 0], 0).astype(np.int64)
