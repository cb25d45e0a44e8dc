"""How much a split leaks test pixels into the training inputs of a patch-based model.

A patch model classifies pixel ``x`` from the ``p x p`` window centred on it. When a test pixel
lies inside the window of some training pixel, that test pixel's spectrum is part of a training
input: the network has seen it (next to a label that, in homogeneous fields, is usually its own)
and the test score is optimistic. With random per-pixel splits almost every test pixel is inside
some training window; spatially disjoint splits (``block_split`` with a margin) bring it to zero.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from hsframe.data.split import Split
from hsframe.errors import HsframeError

# What the preprocessing (PCA / standardization) may be fitted on, and whether that set holds test pixels.
FIT_ON = {"train": False, "train+val": False, "labeled": True, "all": True}


def _window_mask(index: np.ndarray, shape: tuple[int, int], patch_size: int) -> np.ndarray:
    """``(H, W)`` bool: pixels inside the ``p x p`` window of at least one pixel of ``index``.

    A pixel ``y`` is in the window centred on ``x`` iff their Chebyshev distance is ``<= p // 2``,
    so the union of windows is the dilation of ``index``'s mask by a ``p x p`` square. Outside the
    image counts as empty (zero padding): windows of border pixels reach no real pixel there.
    """
    h, w = shape
    mask = np.zeros(h * w, bool)
    mask[index] = True
    return ndimage.maximum_filter(mask.reshape(h, w), size=patch_size, mode="constant", cval=0)


def leakage_report(
    split: Split, shape: tuple[int, int], patch_size: int, fit_on: str = "train"
) -> dict[str, float | bool | int | str]:
    """Measure how much of the validation and test data the training inputs contain.

    Args:
        split: flat pixel indices ``row * W + col`` of train / val / test.
        shape: ``(H, W)`` of the scene.
        patch_size: odd side ``p`` of the patches; ``r = p // 2``.
        fit_on: the pixels the preprocessing (PCA / normalization) was fitted on: "train",
            "train+val", "labeled" (every labeled pixel) or "all" (the whole scene).

    Returns:
        - ``test_in_train_window``: fraction of test pixels lying inside some training patch window,
          i.e. within Chebyshev distance ``r`` of a training pixel (their values are part of the
          training inputs); 0.0 when there is no test pixel.
        - ``test_pixels_in_train_windows``: the same as a count.
        - ``val_in_train_window`` / ``val_pixels_in_train_windows``: likewise for validation pixels
          (an optimistic validation score picks the checkpoint, not the reported one).
        - ``train_windows_with_test``: fraction of training patches whose window holds a test pixel.
        - ``features_saw_test``: True when the preprocessing was fitted on a set holding test pixels
          ("labeled" or "all"): the features themselves then carry test statistics.
        - ``features_fit_beyond_train``: True when it was fitted on more than the training pixels.
        - ``fit_on`` and ``patch_size`` echoed.
    """
    if fit_on not in FIT_ON:
        raise HsframeError(f"fit_on must be one of {', '.join(FIT_ON)}, got '{fit_on}'")
    if int(patch_size) != patch_size or patch_size < 1 or patch_size % 2 != 1:
        raise HsframeError(f"patch_size must be an odd whole number >= 1, got {patch_size}")
    h, w = shape
    for name in ("train", "val", "test"):
        idx = getattr(split, name)
        if len(idx) and (idx.min() < 0 or idx.max() >= h * w):
            raise HsframeError(f"the split's {name} indices do not fit a {h} x {w} scene: wrong shape given?")
    train_window = _window_mask(split.train, shape, int(patch_size)).reshape(-1)
    test_window = _window_mask(split.test, shape, int(patch_size)).reshape(-1)
    n_test_in = int(train_window[split.test].sum())
    n_val_in = int(train_window[split.val].sum())
    # A training window holds a test pixel iff the training pixel lies in some test window (symmetric).
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
        "patch_size": int(patch_size),
    }
