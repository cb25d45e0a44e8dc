"""``split.method=blocks``: whole blocks to train, validation or test, with a margin around test samples.

How blocks are assigned (details in :func:`hsframe.data.split.block_split`):

1. whole blocks, rarest class first, each block visited in a seeded order and put on the side that
   brings its classes closest to ``train_fraction``;
2. a class left on one side by rarer classes sharing its blocks gets one of its cells (its samples
   in one block) moved to the other side, the rest of that block staying;
3. training samples within ``margin`` (default half the sample window) of any test sample are
   dropped; a class left without training samples gets test blocks (else test cells) near one of
   its samples moved to training;
4. validation blocks are chosen among the training ones the same way;
5. a class still not split (all in one block, or lost to the margin) is cut in two along an axis
   with a margin-wide gap, and steps 1-4 run again.

The result has no test sample inside a training sample's window (leakage 0 by the leakage report).
A class whose samples all lie within the margin of each other cannot be split: every such class is
named in one refusal; ``split.drop_unsplittable=true`` leaves them out (their samples unlabeled,
class ids unchanged), or a published disjoint map serves through ``split.method=fixed``. Whenever
whole blocks alone can split every class, the split is exactly the whole-block one (steps 2, 5 and
the cell moves of 3 never run), so there is no switch back to an older behaviour.
"""
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
    drop_unsplittable: bool = Field(
        False, description="leave out (as unlabeled) the classes no block assignment can split into training and "
        "test samples, instead of refusing the split")


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
                           options.train_fraction, options.val_fraction, options.drop_unsplittable)
