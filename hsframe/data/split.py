"""Stratified train / validation / test splits of labeled pixels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hsframe.errors import HsframeError


@dataclass(frozen=True)
class Split:
    """Flat pixel indices (``row * W + col``) of each subset; disjoint, sorted."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    description: str

    def counts(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def stratified_split(
    labels: np.ndarray,
    class_names: list[str],
    seed: int,
    train_fraction: float | None = 0.1,
    train_per_class: int | None = None,
    val_fraction: float = 0.1,
) -> Split:
    """Split every labeled pixel (label > 0) per class into train, validation and test.

    ``train_per_class`` (a count, as in "5 / 10 / 50 pixels per class") takes precedence over
    ``train_fraction``. Validation pixels are taken from the training pixels. Each class keeps at
    least one training and one test pixel, or the split is refused with the class named.
    """
    if train_per_class is None and (train_fraction is None or not 0 < train_fraction < 1):
        raise HsframeError(f"split.train_fraction must lie in (0, 1), got {train_fraction}")
    if not 0 < val_fraction < 1:
        raise HsframeError(f"split.val_fraction must lie in (0, 1), got {val_fraction}")
    flat = labels.reshape(-1)
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for k in range(1, len(class_names) + 1):
        idx = np.flatnonzero(flat == k)
        n = len(idx)
        if n == 0:
            continue  # a class absent from the scene
        idx = rng.permutation(idx)
        n_train = train_per_class if train_per_class is not None else max(1, int(round(train_fraction * n)))
        if n_train >= n:
            want = f"{train_per_class} per class" if train_per_class is not None else f"a train fraction of {train_fraction}"
            raise HsframeError(
                f"class {k} '{class_names[k - 1]}' has {n} labeled pixels: too few for {want} "
                f"plus at least one test pixel. Lower the training share or use split.train_fraction."
            )
        n_val = min(int(round(val_fraction * n_train)), n_train - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:n_train])
        test.append(idx[n_train:])
    if not train:
        raise HsframeError("the label map has no labeled pixel (all zeros): nothing to train on")
    parts = [np.sort(np.concatenate(p)).astype(np.int64) for p in (train, val, test)]
    if len(parts[1]) == 0:
        raise HsframeError(
            "the validation subset is empty: raise split.val_fraction or the training share "
            "(the checkpoint is chosen on validation OA)"
        )
    how = f"{train_per_class} px/class" if train_per_class is not None else f"{train_fraction:g} of each class"
    desc = f"stratified random: train {how}, val {val_fraction:g} of train, seed {seed}"
    return Split(parts[0], parts[1], parts[2], desc)
