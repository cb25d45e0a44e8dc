"""``split.method=random``: every labeled element drawn at random per class (the classic protocol)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from hsframe.splits.base import SplitGrid, SplitMethod, SplitOptions

if TYPE_CHECKING:
    from hsframe.data.split import Split


class RandomOptions(SplitOptions):
    train_fraction: float | None = Field(0.1, gt=0, lt=1, description="fraction of each class's samples for training")
    train_per_class: int | None = Field(None, ge=1, description="samples per class for training (overrides the fraction)")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="fraction of the training samples held out for validation")


class RandomSplit(SplitMethod):
    name = "random"
    Options = RandomOptions
    description = "stratified at random per class, by fraction or count"

    def split(self, grid: SplitGrid, seed: int, options: RandomOptions) -> "Split":  # type: ignore[override]
        from hsframe.data.split import stratified_split

        return stratified_split(grid.labels, grid.class_names, seed, train_fraction=options.train_fraction,
                                train_per_class=options.train_per_class, val_fraction=options.val_fraction)
