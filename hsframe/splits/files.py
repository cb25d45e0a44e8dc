"""``split.method=files``: a scene set split per tile, by published train / validation / test tile lists."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from hsframe.errors import HsframeError
from hsframe.splits.base import SplitGrid, SplitMethod, SplitOptions

if TYPE_CHECKING:
    from hsframe.data.split import Split

_LIST_HELP = "a tile-list CSV (columns image,mask) or a list of tile file names"


class FilesOptions(SplitOptions):
    train_files: str | list[str] | None = Field(None, description=f"training tiles: {_LIST_HELP}; default: the set's published list")
    val_files: str | list[str] | None = Field(None, description=f"validation tiles: {_LIST_HELP}; "
                                              "default: the published list, else split.val_fraction of the training pixels")
    test_files: str | list[str] | None = Field(None, description=f"test tiles: {_LIST_HELP}; default: the published list, "
                                               "else every tile in no other list")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="without validation tiles: share of each class's training pixels held out")


class FilesSplit(SplitMethod):
    name = "files"
    Options = FilesOptions
    description = "a scene set split per tile, by train / validation / test tile lists"

    def check(self, grid: SplitGrid, options: FilesOptions) -> None:  # type: ignore[override]
        if grid.groups is None:
            raise HsframeError(f"split.method=files splits a scene set (many tiles) per tile, but this dataset is one array of "
                               f"{grid.unit}; use split.method=random, blocks or fixed")
        if options.train_files is None and not grid.group_subsets:
            raise HsframeError("split.method=files needs split.train_files (a tile-list CSV or tile names): this scene set "
                               "publishes no split")

    def split(self, grid: SplitGrid, seed: int, options: FilesOptions) -> "Split":  # type: ignore[override]
        from hsframe.data.split import Split
        from hsframe.data.tile_lists import tile_names

        names = list(grid.group_names)
        given = {"train": options.train_files, "val": options.val_files, "test": options.test_files}
        published = dict(grid.group_subsets or {})  # the card's published lists fill every subset not given
        subset_of: dict[str, str] = {}
        for subset, entries in given.items():
            if entries is None:
                continue
            option = f"split.{subset}_files"
            for tile in tile_names(entries, option):
                if tile not in names:
                    raise HsframeError(f"{option} names tile {tile}, which is not in the scene set ({len(names)} tiles, e.g. "
                                       f"{', '.join(names[:3])}); fix the list")
                if subset_of.get(tile, subset) != subset:
                    raise HsframeError(f"tile {tile} is in both split.{subset_of[tile]}_files and {option}; a tile goes to one subset")
                subset_of[tile] = subset
        for tile, subset in published.items():  # a tile the user placed stays where they put it
            if given[subset] is None and tile not in subset_of:
                subset_of[tile] = subset
        if given["test"] is None and "test" not in published.values():
            subset_of.update({t: "test" for t in names if t not in subset_of})
        tile_subset = np.array([subset_of.get(t, "") for t in names] + [""])  # index -1 (the gaps) -> ""
        flat, groups = grid.labels.reshape(-1), grid.groups.reshape(-1)
        of = tile_subset[groups]
        labeled = flat > 0
        parts = {s: np.flatnonzero(labeled & (of == s)).astype(np.int64) for s in ("train", "val", "test")}
        if not len(parts["train"]):
            raise HsframeError("the training tiles hold no labeled pixel: nothing to train on; check split.train_files")
        if not len(parts["test"]):
            raise HsframeError("the test tiles hold no labeled pixel: name test tiles in split.test_files")
        tiles = {s: sum(v == s for v in subset_of.values()) for s in ("train", "val", "test")}
        how = f"per file: {tiles['train']} train / {tiles['val']} val / {tiles['test']} test tiles"
        if not tiles["val"]:
            parts["train"], parts["val"] = _hold_out(parts["train"], flat, seed, options.val_fraction)
            how = f"per file: {tiles['train']} train / {tiles['test']} test tiles, val {options.val_fraction:g} of the training pixels"
        if not len(parts["val"]):
            raise HsframeError("the validation subset is empty: name validation tiles in split.val_files or raise split.val_fraction")
        k = len(grid.class_names)
        missing = [c for c in range(1, k + 1) if (flat[parts["test"]] == c).any() and not (flat[parts["train"]] == c).any()]
        if missing:
            c = missing[0]
            raise HsframeError(f"class {c} '{grid.class_names[c - 1]}' has test pixels but no training pixel in the training "
                               "tiles; move a tile holding it to split.train_files")
        unused = int(labeled.sum()) - sum(len(v) for v in parts.values())
        notes = (f"{unused} labeled pixels lie in tiles of no list (left out)",) if unused else ()
        return Split(parts["train"], parts["val"], parts["test"], how, dropped=unused, notes=notes)


def _hold_out(train: np.ndarray, flat: np.ndarray, seed: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """``fraction`` of each class's training pixels held out for validation (each class keeps one to train)."""
    rng = np.random.default_rng(seed)
    keep, val = [], []
    for c in np.unique(flat[train]):
        idx = rng.permutation(train[flat[train] == c])
        n = min(int(round(fraction * len(idx))), len(idx) - 1)
        val.append(idx[:n])
        keep.append(idx[n:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(val))
