"""What every in-memory data container shares: a name, K named classes with map colours, and labels of class ids.

Labels follow the hyperspectral convention everywhere: 0 = unlabeled, classes are 1..K, and
``class_names[k - 1]`` names class id ``k``. The labels' shape is each container's own. Labels
holding other ids (``{1, 2, 1000}``, ``{3, 7, 9}``) are renumbered 1..K here, for every container,
keeping each class's original id in ``label_ids`` (:mod:`hsframe.data.labels`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from hsframe.data.labels import label_values, to_class_ids
from hsframe.errors import HsframeError


class LabeledData:
    """Base of :class:`~hsframe.data.scene.Scene`, :class:`~hsframe.data.volumes.VolumeSet`,
    :class:`~hsframe.data.volumes.LabeledVolume` and :class:`~hsframe.data.series.FrameSeries`.

    Not a dataclass itself: the containers are dataclasses declaring these attributes as fields in their
    own order (so positional construction keeps working), and call :meth:`_init_classes` from ``__post_init__``.

    Attributes:
        name: dataset name (as registered).
        labels: int class ids, 0 = unlabeled, 1..K; shape set by the container. Given with other
            whole-number ids, they are renumbered 1..K (see ``label_ids``).
        class_names: K names, ``class_names[k - 1]`` names class id ``k``; empty: ``class <id>``
            for the ids the labels hold.
        palette: K RGB colours (0-255) for maps, same order as ``class_names``.
        label_ids: None when the labels hold the data's own ids 1..K; else ``label_ids[k - 1]`` is
            the id class ``k`` has in the data (given: ``labels`` are renumbered already).
    """

    name: str
    labels: np.ndarray
    class_names: list[str]
    palette: list[tuple[int, int, int]]
    label_ids: list[int] | None

    @property
    def original_ids(self) -> list[int]:
        """The data's own id of each class 1..K (``label_ids``, or 1..K when nothing was renumbered)."""
        return list(self.label_ids) if self.label_ids is not None else list(range(1, self.num_classes + 1))

    def label_values(self, classes: Any) -> np.ndarray:
        """Class ids (0 = none, 1..K) -> the data's own label values, for maps and files."""
        return label_values(classes, self.label_ids)

    @property
    def num_classes(self) -> int:
        """K, the number of classes (not counting 0 = unlabeled)."""
        return len(self.class_names)

    def _init_classes(self) -> None:
        """Labels as class ids 0..K (renumbered when they hold other ids), and the default K colours for an empty palette."""
        where = f"{type(self).__name__} {self.name!r}"
        labels, names, ids = to_class_ids(self.labels, self.class_names, where)
        if self.label_ids is None:
            self.labels, self.class_names, self.label_ids = labels, names, ids
        elif ids is not None or len(self.label_ids) != len(names):  # given renumbered: they must fit the labels
            raise HsframeError(f"{where}: {len(self.label_ids)} label_ids for {len(names)} classes; labels given with "
                               "label_ids must hold class ids 1..K already")
        else:
            self.labels, self.class_names, self.label_ids = labels, names, [int(v) for v in self.label_ids]
        if not self.palette:
            self.palette = default_palette(self.num_classes)


def default_palette(k: int) -> list[tuple[int, int, int]]:
    """K distinct colours from matplotlib's qualitative maps (tab20 then tab20b)."""
    from matplotlib import colormaps

    colours = list(colormaps["tab20"].colors) + list(colormaps["tab20b"].colors)
    while len(colours) < k:
        colours += colours
    return [tuple(int(round(255 * c)) for c in colours[i][:3]) for i in range(k)]  # type: ignore[misc]
