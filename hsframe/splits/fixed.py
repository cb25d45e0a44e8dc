"""``split.method=fixed``: published train / test label-map files (e.g. spatially disjoint benchmarks)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from hsframe.errors import HsframeError
from hsframe.splits.base import SplitGrid, SplitMethod, SplitOptions

if TYPE_CHECKING:
    from hsframe.data.split import Split


class FixedOptions(SplitOptions):
    train_map: str | None = Field(None, description="training label-map file")
    test_map: str | None = Field(None, description="test label-map file; default: every other labeled pixel")
    train_map_key: str | None = Field(None, description="array name inside the training map file")
    test_map_key: str | None = Field(None, description="array name inside the test map file")
    val_map: str | None = Field(None, description="validation label-map file; default: split.val_fraction of the training-map pixels")
    val_map_key: str | None = Field(None, description="array name inside the validation map file")
    remap: dict[int, int] | None = Field(None, description="class-id remapping applied to the map files")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="fraction of the training pixels held out for validation")


class FixedSplit(SplitMethod):
    name = "fixed"
    Options = FixedOptions
    description = "train / test label maps read from files"

    def check(self, grid: SplitGrid, options: FixedOptions) -> None:  # type: ignore[override]
        if grid.groups is not None:
            raise HsframeError("split.method=fixed reads one scene's train/test maps; a scene set (many tiles) is split per "
                               "tile with split.method=files, or per pixel with split.method=random or blocks")
        if grid.labels.ndim != 2 or grid.independent:
            raise HsframeError(f"split.method=fixed reads 2-D train/test maps, but these {grid.unit} are split over a "
                               f"{grid.labels.shape} array; use split.method=random or blocks")
        if options.train_map is None:
            raise HsframeError("split.method=fixed needs split.train_map (a label-map file of the training pixels)")

    def split(self, grid: SplitGrid, seed: int, options: FixedOptions) -> "Split":  # type: ignore[override]
        from hsframe.data.readers import read_array
        from hsframe.data.split import fixed_split

        maps = []
        for path, key in ((options.train_map, options.train_map_key), (options.test_map, options.test_map_key),
                          (options.val_map, options.val_map_key)):
            if path is None:
                maps.append(None)
                continue
            arr = read_array(path, key, kind="labels").data
            if arr.shape != grid.labels.shape:
                raise HsframeError(f"split map {path} is {arr.shape}, but the labels are {grid.labels.shape}")
            maps.append(arr)
        return fixed_split(maps[0], maps[1], grid.class_names, seed, options.val_fraction, remap=options.remap,
                           labels=grid.labels, val_map=maps[2])
