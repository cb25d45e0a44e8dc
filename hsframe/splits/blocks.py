"""``split.method=blocks``: whole blocks to train, validation or test, with a margin around test samples."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from hsframe.errors import HsframeError
from hsframe.splits.base import SplitGrid, SplitMethod, SplitOptions

if TYPE_CHECKING:
    from hsframe.data.split import Split


class BlocksOptions(SplitOptions):
    train_fraction: float | None = Field(0.1, gt=0, lt=1, description="fraction of each class's samples for training")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="fraction of the training samples held out for validation")
    block_size: int | list[int] = Field(16, description="side of the blocks, or one side per axis (e.g. [5, 16, 16] for a volume)")
    margin: int | list[int] | None = Field(
        None, description="training samples this close to a test sample are dropped (one value or one per axis); "
        "default half the sample window, so no training sample reads a test one")


class BlockSplit(SplitMethod):
    name = "blocks"
    Options = BlocksOptions
    description = "spatially (or temporally) disjoint blocks, stratified as far as whole blocks allow"

    def check(self, grid: SplitGrid, options: BlocksOptions) -> None:  # type: ignore[override]
        if grid.independent:
            raise HsframeError(f"{grid.unit} are independent samples: split.method=blocks has no space to cut into "
                               "blocks; use split.method=random")
        if options.train_fraction is None:
            raise HsframeError("split.method=blocks needs split.train_fraction")

    def split(self, grid: SplitGrid, seed: int, options: BlocksOptions) -> "Split":  # type: ignore[override]
        from hsframe.data.split import block_split

        margin = tuple(w // 2 for w in grid.window) if options.margin is None else options.margin
        return block_split(grid.labels, grid.class_names, seed, options.block_size, margin,
                           options.train_fraction, options.val_fraction)
