"""The in-memory form every hyperspectral source is read into."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hsframe.data.base import LabeledData, default_palette
from hsframe.data.georef import GeoReference

__all__ = ["Scene", "default_palette"]  # default_palette lives in base; importable from here as before


@dataclass
class Scene(LabeledData):
    """A hyperspectral scene with its pixel labels.

    Attributes:
        name: dataset name (as registered).
        cube: ``(H, W, B)`` float32 reflectance-like values: an array, or an out-of-core
            :class:`~hsframe.data.lazy_cube.LazyCube` left in its file (``data.out_of_core``).
        labels: ``(H, W)`` int64 class ids; 0 means unlabeled, classes are 1..K.
        class_names: K names, ``class_names[k - 1]`` names class id ``k``.
        palette: K RGB colours (0-255) for maps, same order as ``class_names``.
        wavelengths: optional B band centres in nanometres.
        rgb_bands: optional band indices for a false-colour preview.
        label_ids: the data's own id of each class when its labels were renumbered 1..K (see ``LabeledData``).
        nonfinite_replaced: how many NaN/Inf cube values ``data.nan_fill`` replaced when it was read.
        georef: where the pixels lie on the ground (transform and CRS), when the file says; else None.
        notes: what reading it found that the person should know (one line each, e.g. abundances not summing to 1).
    """

    name: str
    cube: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    palette: list[tuple[int, int, int]] = field(default_factory=list)
    wavelengths: np.ndarray | None = None
    rgb_bands: tuple[int, int, int] | None = None
    label_ids: list[int] | None = None
    nonfinite_replaced: int = 0
    georef: GeoReference | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.cube.ndim != 3:
            raise ValueError(f"cube must be (H, W, B), got shape {self.cube.shape}")
        if self.labels.shape != self.cube.shape[:2]:
            raise ValueError(
                f"labels {self.labels.shape} do not match the cube's (H, W) {self.cube.shape[:2]}"
            )
        self._init_classes()

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.cube.shape)  # type: ignore[return-value]
