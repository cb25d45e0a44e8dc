"""What a split method is: typed options, and a division of a label array into train, validation and test.

A task hands every split method the same :class:`SplitGrid` (its label array and how its samples
relate), so one method serves scenes, volumes and series alike; a method that cannot serve a grid
says so in :meth:`SplitMethod.check`, before any run starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # the algorithms (scipy) load when a split is drawn, not when the plugins are listed
    import numpy as np

    from hsframe.data.split import Split


class SplitOptions(BaseModel):
    """Base of every split method's options: the ``split.*`` config keys it reads."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class SplitGrid:
    """What a split divides.

    Attributes:
        labels: class ids of the split elements, 0 = unlabeled, 1..K = classes; any shape
            (``(H, W)`` pixels, ``(D, H, W)`` voxels, ``(N,)`` volumes or windows).
        class_names: the K class names.
        window: odd size per axis of the neighbourhood a sample reads: elements closer than
            this share input values (the default block margin is half of it).
        independent: the elements share nothing and have no neighbours (a set of volumes), so
            there is no space to cut into blocks.
        unit: what an element is, for messages ("pixels", "voxels", "volumes", "windows").
        groups: for a scene set, the tile (index into ``group_names``) of every element, -1 where
            none (the gaps between tiles); None for one scene.
        group_names: the tiles' names (image file names).
        group_subsets: a published split of the tiles, name -> "train" | "val" | "test".
    """

    labels: "np.ndarray"
    class_names: list[str]
    window: tuple[int, ...]
    independent: bool = False
    unit: str = "pixels"
    groups: "np.ndarray | None" = None
    group_names: tuple[str, ...] = ()
    group_subsets: "dict[str, str] | None" = None


class SplitMethod:
    """A way to split; subclass it, set ``name`` and ``Options``, and implement :meth:`split`."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[SplitOptions]] = SplitOptions
    description: ClassVar[str] = ""
    # Filled in by the plugin manager (per instance).
    plugin: str = ""
    package: str = ""
    version: str = ""

    def options(self, values: dict) -> SplitOptions:
        """Typed options from the ``split`` config section (``method`` and foreign keys left out)."""
        return self.Options.model_validate({k: v for k, v in values.items() if k in self.Options.model_fields})

    def check(self, grid: SplitGrid, options: SplitOptions) -> None:
        """Raise an HsframeError when this method cannot split ``grid``; the default accepts any."""

    def split(self, grid: SplitGrid, seed: int, options: SplitOptions) -> "Split":
        raise NotImplementedError(f"split method '{self.name}' does not implement split()")
