"""The in-memory forms of volumetric data: a set of labeled volumes, and one densely labeled volume.

- :class:`VolumeSet`: N separate samples ``(C, D, H, W)`` with one label each (volume
  classification, or clip classification when D is time). The volumes are read on demand through
  a :class:`VolumeReader`, so a set larger than memory (an HDF5 file, a folder of files) stays on disk.
- :class:`LabeledVolume`: one volume ``(C, D, H, W)`` and a label volume ``(D, H, W)``: every
  labeled voxel is a sample, classified from the 3-D patch around it (a medical image and its mask).

Labels follow the hyperspectral convention: 0 = unlabeled, classes are 1..K.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from hsframe.data.base import LabeledData


class VolumeReader(Protocol):
    """Random access to N volumes of one shape.

    ``shape`` is ``(C, D, H, W)`` of every volume; ``read(index)`` returns the volumes at
    ``index`` (in that order) as a float32 array ``(len(index), C, D, H, W)``.
    """

    shape: tuple[int, int, int, int]

    def __len__(self) -> int: ...

    def read(self, index: np.ndarray) -> np.ndarray: ...


class ArrayVolumes:
    """A :class:`VolumeReader` over an in-memory ``(N, C, D, H, W)`` array."""

    def __init__(self, volumes: np.ndarray) -> None:
        if volumes.ndim != 5:
            raise ValueError(f"volumes must be (N, C, D, H, W), got shape {volumes.shape}")
        self.volumes = volumes
        self.shape = tuple(int(s) for s in volumes.shape[1:])

    def __len__(self) -> int:
        return len(self.volumes)

    def read(self, index: np.ndarray) -> np.ndarray:
        return np.asarray(self.volumes[np.asarray(index)], dtype=np.float32)


@dataclass
class VolumeSet(LabeledData):
    """N volumes (or clips), one class each.

    Attributes:
        name: dataset name (as registered).
        volumes: reader of the N samples, each ``(C, D, H, W)`` float32.
        labels: ``(N,)`` int64 class ids; 0 = unlabeled (left out), classes are 1..K.
        class_names: K names, ``class_names[k - 1]`` names class id ``k``.
        kind: "volume" (D is depth) or "sequence" (D is time: clips of frames).
        sources: optional N strings saying where each sample comes from (file names), for messages.
        label_ids: the data's own id of each class when its labels were renumbered 1..K (see ``LabeledData``).
    """

    name: str
    volumes: VolumeReader
    labels: np.ndarray
    class_names: list[str]
    kind: str = "volume"
    palette: list[tuple[int, int, int]] = field(default_factory=list)
    sources: list[str] | None = None
    label_ids: list[int] | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels).reshape(-1)  # any whole-number dtype: the base checks it
        if len(self.labels) != len(self.volumes):
            raise ValueError(f"{len(self.labels)} labels for {len(self.volumes)} volumes")
        if self.kind not in ("volume", "sequence"):
            raise ValueError(f"kind must be 'volume' or 'sequence', got {self.kind!r}")
        self._init_classes()

    @property
    def sample_shape(self) -> tuple[int, int, int, int]:
        """``(C, D, H, W)`` of every sample."""
        return tuple(self.volumes.shape)  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class LabeledVolume(LabeledData):
    """One volume with a label volume: every labeled voxel is a sample.

    Attributes:
        name: dataset name (as registered).
        volume: ``(C, D, H, W)`` float32 intensities (C = 1 for a scalar image).
        labels: ``(D, H, W)`` int64 class ids; 0 = unlabeled, classes are 1..K.
        class_names: K names, ``class_names[k - 1]`` names class id ``k``.
        spacing: optional voxel size ``(d, h, w)`` in millimetres.
        label_ids: the data's own id of each class when its labels were renumbered 1..K (see ``LabeledData``).
    """

    name: str
    volume: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    palette: list[tuple[int, int, int]] = field(default_factory=list)
    spacing: tuple[float, float, float] | None = None
    label_ids: list[int] | None = None

    def __post_init__(self) -> None:
        if self.volume.ndim != 4:
            raise ValueError(f"volume must be (C, D, H, W), got shape {self.volume.shape}")
        if self.labels.shape != self.volume.shape[1:]:
            raise ValueError(f"labels {self.labels.shape} do not match the volume's (D, H, W) {self.volume.shape[1:]}")
        self._init_classes()
