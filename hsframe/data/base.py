"""What every in-memory data container shares: a name, K named classes with map colours, and labels of class ids.

Labels follow the hyperspectral convention everywhere: 0 = unlabeled, classes are 1..K, and
``class_names[k - 1]`` names class id ``k``. The labels' shape is each container's own.
"""
from __future__ import annotations

import numpy as np


class LabeledData:
    """Base of :class:`~hsframe.data.scene.Scene`, :class:`~hsframe.data.volumes.VolumeSet`,
    :class:`~hsframe.data.volumes.LabeledVolume` and :class:`~hsframe.data.series.FrameSeries`.

    Not a dataclass itself: the containers are dataclasses declaring these attributes as fields in their
    own order (so positional construction keeps working), and call :meth:`_init_classes` from ``__post_init__``.

    Attributes:
        name: dataset name (as registered).
        labels: int class ids, 0 = unlabeled, 1..K; shape set by the container.
        class_names: K names, ``class_names[k - 1]`` names class id ``k``.
        palette: K RGB colours (0-255) for maps, same order as ``class_names``.
    """

    name: str
    labels: np.ndarray
    class_names: list[str]
    palette: list[tuple[int, int, int]]

    @property
    def num_classes(self) -> int:
        """K, the number of classes (not counting 0 = unlabeled)."""
        return len(self.class_names)

    def _init_classes(self) -> None:
        """Refuse label values outside 0..K, and give an empty palette the default K colours."""
        k = self.num_classes
        labels = self.labels
        # min/max first: the full scan for the offending ids only runs when there are some
        if labels.size and (labels.min() < 0 or labels.max() > k):
            bad = np.unique(labels[(labels < 0) | (labels > k)])
            shown = ", ".join(str(int(v)) for v in bad[:10]) + (", ..." if len(bad) > 10 else "")
            raise ValueError(f"{type(self).__name__} {self.name!r}: labels hold class ids {shown}, but ids must lie in 0..{k} "
                             f"(0 = unlabeled, {k} class names given)")
        if not self.palette:
            self.palette = default_palette(k)


def default_palette(k: int) -> list[tuple[int, int, int]]:
    """K distinct colours from matplotlib's qualitative maps (tab20 then tab20b)."""
    from matplotlib import colormaps

    colours = list(colormaps["tab20"].colors) + list(colormaps["tab20b"].colors)
    while len(colours) < k:
        colours += colours
    return [tuple(int(round(255 * c)) for c in colours[i][:3]) for i in range(k)]  # type: ignore[misc]
