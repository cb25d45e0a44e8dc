"""How much a split leaks test samples into the training inputs of a patch-based model.

A patch model classifies sample ``x`` from the window centred on it: ``p x p`` pixels in a scene,
``pd x p x p`` voxels in a volume, or the ``2r + 1`` neighbouring windows of a time series (two
sliding windows share frames when their index distance is ``<= r``). When a test sample lies inside
the window of some training sample, that test sample's values are part of a training input: the
network has seen it (next to a label that, in homogeneous fields, is usually its own) and the test
score is optimistic. With random per-sample splits almost every test sample is inside some training
window; spatially disjoint splits (``block_split`` with a margin) bring it to zero.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from hsframe.data.split import Split, per_axis
from hsframe.errors import HsframeError

# What the preprocessing (PCA / standardization) may be fitted on, and whether that set holds test pixels.
FIT_ON = {"train": False, "train+val": False, "labeled": True, "all": True}


def _window_mask(index: np.ndarray, shape: tuple[int, ...], patch_size: tuple[int, ...]) -> np.ndarray:
    """Bool array of ``shape``: samples inside the window of at least one sample of ``index``.

    A sample ``y`` is in the window centred on ``x`` iff ``|y[a] - x[a]| <= patch_size[a] // 2`` on
    every axis ``a``, so the union of windows is the dilation of ``index``'s mask by a box of sides
    ``patch_size``. Outside the array counts as empty (zero padding): windows of border samples
    reach no real sample there.
    """
    mask = np.zeros(int(np.prod(shape)), bool)
    mask[index] = True
    return ndimage.maximum_filter(mask.reshape(shape), size=patch_size, mode="constant", cval=0)


def leakage_report(
    split: Split, shape: tuple[int, ...], patch_size: int | Sequence[int], fit_on: str = "train"
) -> dict[str, float | bool | int | str]:
    """Measure how much of the validation and test data the training inputs contain.

    Args:
        split: flat C-order indices (``np.ravel_multi_index`` into ``shape``) of train / val / test.
        shape: ``(n,)``, ``(H, W)`` or ``(D, H, W)``: the shape of the label array.
        patch_size: odd side ``p`` of the patches on every axis, or one odd side per axis (e.g.
            ``(pd, p, p)`` for volume patches of another depth; ``(2r + 1,)`` for sliding windows
            that overlap when their index distance is ``<= r``). Half-sides ``r = p // 2``.
        fit_on: the samples the preprocessing (PCA / normalization) was fitted on: "train",
            "train+val", "labeled" (every labeled sample) or "all" (the whole scene).

    Returns:
        - ``test_in_train_window``: fraction of test samples lying inside some training patch
          window, i.e. within ``r[a]`` of a training sample on every axis (their values are part of
          the training inputs); 0.0 when there is no test sample.
        - ``test_pixels_in_train_windows``: the same as a count.
        - ``val_in_train_window`` / ``val_pixels_in_train_windows``: likewise for validation samples
          (an optimistic validation score picks the checkpoint, not the reported one).
        - ``train_windows_with_test``: fraction of training patches whose window holds a test sample.
        - ``features_saw_test``: True when the preprocessing was fitted on a set holding test samples
          ("labeled" or "all"): the features themselves then carry test statistics.
        - ``features_fit_beyond_train``: True when it was fitted on more than the training samples.
        - ``fit_on`` and ``patch_size`` echoed: the int when an int was given, else the sides
          joined by "x" (e.g. "5x9x9"), a plain value for MLflow.
    """
    if fit_on not in FIT_ON:
        raise HsframeError(f"fit_on must be one of {', '.join(FIT_ON)}, got '{fit_on}'")
    shape = tuple(int(n) for n in shape)
    if not 1 <= len(shape) <= 3:
        raise HsframeError(f"shape must be (n,), (H, W) or (D, H, W), got {shape}")
    sizes = per_axis(patch_size, len(shape), "patch_size", 1, odd=True)
    size = int(np.prod(shape))
    for name in ("train", "val", "test"):
        idx = getattr(split, name)
        if len(idx) and (idx.min() < 0 or idx.max() >= size):
            where = " x ".join(map(str, shape))
            raise HsframeError(f"the split's {name} indices do not fit a {where} scene: wrong shape given?")
    train_window = _window_mask(split.train, shape, sizes).reshape(-1)
    test_window = _window_mask(split.test, shape, sizes).reshape(-1)
    n_test_in = int(train_window[split.test].sum())
    n_val_in = int(train_window[split.val].sum())
    # A training window holds a test sample iff the training sample lies in some test window
    # (symmetric: windows are boxes centred on their sample).
    n_train_hit = int(test_window[split.train].sum())
    return {
        "test_in_train_window": n_test_in / len(split.test) if len(split.test) else 0.0,
        "test_pixels_in_train_windows": n_test_in,
        "val_in_train_window": n_val_in / len(split.val) if len(split.val) else 0.0,
        "val_pixels_in_train_windows": n_val_in,
        "train_windows_with_test": n_train_hit / len(split.train) if len(split.train) else 0.0,
        "features_saw_test": FIT_ON[fit_on],
        "features_fit_beyond_train": fit_on != "train",
        "fit_on": fit_on,
        "patch_size": sizes[0] if np.ndim(patch_size) == 0 else "x".join(map(str, sizes)),
    }
