"""Train / validation / test splits of labeled pixels.

Three kinds:

- ``stratified_split``: pixels drawn at random per class (the classic protocol; training and test
  pixels are neighbours, so overlapping patches leak test pixels into training inputs);
- ``block_split``: whole spatial blocks go to one subset, with a margin of dropped training pixels
  around the test pixels, so that no training patch window need contain a test pixel; it takes
  1-D (sliding windows over a series), 2-D (a scene) and 3-D (a volume) label arrays alike;
- ``fixed_split``: published train / test label maps (e.g. the disjoint Indian Pines or Pavia maps).

See ``hsframe.data.leakage.leakage_report`` to measure how much a split leaks.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from hsframe.errors import HsframeError


@dataclass(frozen=True)
class Split:
    """Flat indices of each subset; disjoint, sorted, int64.

    The indices are C-order raveled indices of the label array (``np.ravel_multi_index``): ``row * W +
    col`` for an ``(H, W)`` map, ``(d * H + row) * W + col`` for a ``(D, H, W)`` volume.

    ``dropped``: labeled pixels used in no subset (``block_split``'s margin around the test pixels).
    ``info``: extra integer facts about the split (e.g. ``fixed_split``'s check against the ground
    truth); empty when there is nothing to add.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    description: str
    dropped: int = 0
    info: dict[str, int] = field(default_factory=dict)

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


def _check_fraction(name: str, value: float) -> None:
    if value is None or not 0 < value < 1:
        raise HsframeError(f"{name} must lie in (0, 1), got {value}")


def _check_class_ids(flat: np.ndarray, n_classes: int, what: str) -> None:
    """Refuse class ids outside ``0..n_classes`` (0 = unlabeled) instead of silently ignoring them."""
    if flat.size == 0:
        return
    lo, hi = int(flat.min()), int(flat.max())
    if lo < 0 or hi > n_classes:
        bad = lo if lo < 0 else hi
        raise HsframeError(
            f"the {what} holds class id {bad}, but ids must lie in 0..{n_classes} (0 = unlabeled, "
            f"{n_classes} class names given): check the class list or give a class remap"
        )


def _greedy_sides(
    counts: np.ndarray, pool: np.ndarray, target: np.ndarray, rank: np.ndarray, need_a: bool, need_b: bool
) -> np.ndarray:
    """Put each block of ``pool`` on side A (1) or B (0) so that per class A holds about ``target`` px.

    Args:
        counts: ``(B, K)`` labeled pixels of each class in each block.
        pool: ``(B,)`` bool, the blocks to assign (others get -1).
        target: ``(K,)`` wanted pixels of each class on side A.
        rank: ``(B,)`` seeded visiting priority of the blocks.
        need_a, need_b: every class present in the pool must keep a pixel on that side.

    Classes are handled rarest first: a rare class has few blocks, so its blocks are decided while
    there is still freedom; common classes then balance out over their many remaining blocks.
    Returns ``(B,)`` int8 sides.
    """
    side = np.full(len(counts), -1, np.int8)
    totals = counts[pool].sum(0)
    order = [k for k in np.argsort(totals, kind="stable") if totals[k] > 0]
    for k in order:
        mine = np.flatnonzero(pool & (counts[:, k] > 0))
        a = int(counts[mine[side[mine] == 1], k].sum())
        b = int(counts[mine[side[mine] == 0], k].sum())
        todo = mine[side[mine] == -1]
        todo = todo[np.argsort(rank[todo], kind="stable")]
        for j, blk in enumerate(todo):
            c = int(counts[blk, k])
            last = j == len(todo) - 1
            if last and need_a and a == 0:
                to_a = True  # the class's last chance of a pixel on side A
            elif last and need_b and b == 0:
                to_a = False
            else:
                to_a = abs(a + c - target[k]) < abs(a - target[k])
            side[blk] = 1 if to_a else 0
            a, b = (a + c, b) if to_a else (a, b + c)
    # Repair: a class whose blocks were all taken by rarer classes to one side gets the smallest
    # block flipped, provided no other class thereby loses its last pixel on the side it leaves.
    for k in order:
        for want, need, need_other in ((1, need_a, need_b), (0, need_b, need_a)):
            mine = pool & (counts[:, k] > 0)
            if not need or counts[mine & (side == want), k].sum() > 0:
                continue
            cands = np.flatnonzero(mine & (side == 1 - want))
            cands = cands[np.argsort(counts[cands].sum(1), kind="stable")]
            left = counts[pool & (side == 1 - want)].sum(0)
            for blk in cands:
                if need_other and ((counts[blk] > 0) & (left - counts[blk] == 0)).any():
                    continue
                side[blk] = want
                break
    return side


def per_axis(
    value: int | Sequence[int], ndim: int, name: str, minimum: int, odd: bool = False, unit: str = ""
) -> tuple[int, ...]:
    """One whole number per axis from an int (same on every axis) or a sequence of ``ndim`` ints.

    ``name`` (e.g. "split.margin") and ``unit`` (e.g. " of pixels") word the error; ``odd`` also
    refuses even values (patch sizes, so that the sample sits at the window's centre).
    """
    scalar = np.ndim(value) == 0
    values = (value,) * ndim if scalar else tuple(np.asarray(value).tolist())
    kind = f"{'an odd' if odd else 'a'} whole number{unit} >= {minimum}"
    if not scalar and len(values) != ndim:
        raise HsframeError(f"{name} must be {kind}, or a list of {ndim} such (one per axis), got {value}")

    def ok(v: object) -> bool:
        try:
            return int(v) == v and v >= minimum and (not odd or int(v) % 2 == 1)  # type: ignore[call-overload, operator]
        except (TypeError, ValueError):
            return False

    if not all(ok(v) for v in values):
        raise HsframeError(f"{name} must be {kind}" + ("" if scalar else " on every axis") + f", got {value}")
    return tuple(int(v) for v in values)


def _words(ndim: int) -> tuple[str, str]:
    """``(item, unit)`` naming a labeled element in messages: 2-D keeps its historic "pixel" / "px"."""
    return ("pixel", "px") if ndim == 2 else ("sample", "samples")


def _axes(values: tuple[int, ...], collapse: bool = True) -> str:
    """``"3"`` when every axis has the same value (and ``collapse``), else ``"2 x 3 x 3"``."""
    if collapse and len(set(values)) == 1:
        return str(values[0])
    return " x ".join(str(v) for v in values)


def block_split(
    labels: np.ndarray,
    class_names: list[str],
    seed: int,
    block_size: int | Sequence[int],
    margin: int | Sequence[int],
    train_fraction: float,
    val_fraction: float,
) -> Split:
    """Spatially disjoint split: whole blocks (grid cells) go to train, val or test.

    Args:
        labels: class ids, 0 = unlabeled, 1..len(class_names) = classes, of shape ``(n,)`` (e.g.
            sliding windows over a time series), ``(H, W)`` (a scene) or ``(D, H, W)`` (a volume).
            The returned indices are C-order raveled indices of ``labels``.
        class_names: names of classes 1..K (used in messages).
        seed: seeds the order in which blocks are visited (same seed, same split).
        block_size: side of the blocks along each axis: an int (cubes / squares) or one value per
            axis; the grid starts at index 0 on every axis.
        margin: training and validation samples lying within ``margin[a]`` of some test sample on
            every axis ``a`` (inside the box dilation of the test samples) are dropped (used in no
            subset, counted in ``Split.dropped``). An int or one value per axis. With
            ``margin[a] >= patch_size[a] // 2`` on every axis no training or validation patch
            window contains a test sample (for 1-D windows overlapping when ``|i - j| <= r``: r).
        train_fraction: wanted share of each class's labeled samples in the training blocks
            (train + validation, as in ``stratified_split``), before the margin is dropped.
        val_fraction: wanted share of each class's training-block samples moved, as whole blocks,
            to validation.

    Blocks are stratified as far as whole blocks allow: rarest class first, its undecided blocks
    are visited in a seeded random order and a block joins the training side when that brings the
    class's training count closer to ``train_fraction`` of the class (the same greedy then
    picks validation blocks among the training blocks, counting only samples that survive the
    margin). Every class keeps at least one training and one test sample, or the split is refused
    with the class named.

    The margin is applied after the blocks are chosen. When it would take a class's last training
    sample, the test blocks within ``margin`` of one sample of that class move to the training side
    (see ``_margin_repair``); when no such move leaves every class a test sample, the split is
    refused. Large margins on small blocks drop most training samples: keep ``block_size`` well
    above ``margin`` (``Split.dropped`` and the description say how many were lost).

    Returns:
        A ``Split`` with ``dropped`` set; its ``info`` holds ``blocks`` (blocks holding labeled
        samples), ``train_blocks`` / ``val_blocks`` / ``test_blocks`` and ``margin_repairs``.
    """
    _check_fraction("split.train_fraction", train_fraction)
    _check_fraction("split.val_fraction", val_fraction)
    labels = np.asarray(labels)
    if labels.ndim not in (1, 2, 3):
        raise HsframeError(
            f"the label array must be 1-D (n,), 2-D (H, W) or 3-D (D, H, W), got shape {labels.shape}"
        )
    shape = labels.shape
    item, unit = _words(labels.ndim)
    of_unit = " of pixels" if labels.ndim == 2 else ""
    blocks = per_axis(block_size, labels.ndim, "split.block_size", 1, unit=of_unit)
    margins = per_axis(margin, labels.ndim, "split.margin", 0, unit=of_unit)
    n_cls = len(class_names)
    flat = labels.reshape(-1).astype(np.int64)
    _check_class_ids(flat, n_cls, "label map")
    lab = np.flatnonzero(flat > 0)
    if len(lab) == 0:
        raise HsframeError(f"the label map has no labeled {item} (all zeros): nothing to train on")
    grid = tuple(-(-n // b) for n, b in zip(shape, blocks))  # blocks along each axis
    n_blocks = int(np.prod(grid))
    coords = np.unravel_index(lab, shape)
    bid = np.ravel_multi_index(tuple(c // b for c, b in zip(coords, blocks)), grid)  # block of each labeled sample
    cls = flat[lab] - 1
    counts = np.bincount(bid * n_cls + cls, minlength=n_blocks * n_cls).reshape(n_blocks, n_cls)
    totals = counts.sum(0)
    pool = counts.sum(1) > 0

    rng = np.random.default_rng(seed)
    fit = _greedy_sides(counts, pool, train_fraction * totals, rng.permutation(n_blocks), True, True)
    for k in np.flatnonzero(totals):
        mine = counts[:, k] > 0
        if counts[mine & (fit == 1), k].sum() == 0 or counts[mine & (fit == 0), k].sum() == 0:
            raise HsframeError(
                f"class {k + 1} '{class_names[k]}' ({totals[k]} labeled {unit} in {int(mine.sum())} block(s) of "
                f"{_axes(blocks, collapse=False)} {unit}) cannot get both a training and a test {item} from whole "
                f"blocks: use a smaller split.block_size"
            )
    # Margin: fit samples within `margin` of a test sample are dropped. When that would leave a class
    # without any training sample, grow the fit side around one of its blocks (see _margin_repair).
    near_test = _near(lab, bid, fit, shape, margins)
    surviving = (fit[bid] == 1) & ~near_test  # per labeled sample
    repairs = 0
    if any(margins):
        fit, near_test, repairs = _margin_repair(fit, near_test, counts, lab, bid, cls, shape, margins, class_names)
        surviving = (fit[bid] == 1) & ~near_test
    # Validation blocks among the fit blocks, balanced on the samples that survive the margin.
    surv_counts = np.bincount(
        bid[surviving] * n_cls + cls[surviving], minlength=n_blocks * n_cls
    ).reshape(n_blocks, n_cls)
    fit_pool = (fit == 1) & (surv_counts.sum(1) > 0)
    val = _greedy_sides(
        surv_counts, fit_pool, val_fraction * surv_counts[fit_pool].sum(0), rng.permutation(n_blocks), False, True
    )
    subset_of_block = np.where(fit == 0, 2, np.where(val == 1, 1, 0))  # 0 train, 1 val, 2 test
    subset = np.where(surviving | (fit[bid] == 0), subset_of_block[bid], -1)  # -1: dropped by the margin
    train_idx, val_idx, test_idx = (lab[subset == s] for s in range(3))
    dropped = int((subset == -1).sum())
    if len(val_idx) == 0:
        why = (
            f" ({dropped} training/validation {unit} lay within the {_axes(margins)} {unit} margin of the test "
            f"{item}s: use a split.block_size well above the margin)" if dropped else ""
        )
        raise HsframeError(
            f"the validation subset is empty{why}: raise split.val_fraction or split.train_fraction "
            "(the checkpoint is chosen on validation OA)"
        )
    parts = [np.sort(p).astype(np.int64) for p in (train_idx, val_idx, test_idx)]
    info = {
        "blocks": int(pool.sum()),
        "train_blocks": int((pool & (subset_of_block == 0)).sum()),
        "val_blocks": int((pool & (subset_of_block == 1)).sum()),
        "test_blocks": int((pool & (subset_of_block == 2)).sum()),
        "margin_repairs": repairs,
    }
    desc = (
        f"spatial blocks of {_axes(blocks, collapse=False)} {unit} ({info['train_blocks']} train / "
        f"{info['val_blocks']} val / {info['test_blocks']} test blocks): train {train_fraction:g} of each class "
        f"as blocks allow, val {val_fraction:g} of train, margin {_axes(margins)} {unit} ({dropped} train/val "
        f"{unit} dropped"
        + (f", {repairs} class(es) given a margin-free training area" if repairs else "")
        + f"), seed {seed}"
    )
    return Split(parts[0], parts[1], parts[2], desc, dropped=dropped, info=info)


def _near(
    lab: np.ndarray, bid: np.ndarray, fit: np.ndarray, shape: tuple[int, ...], margin: tuple[int, ...]
) -> np.ndarray:
    """``(N,)`` bool: for each labeled sample ``lab`` (flat indices into ``shape``), whether a test
    sample lies within ``margin[a]`` of it along every axis ``a``."""
    if not any(margin):
        return np.zeros(len(lab), bool)  # subsets are disjoint: no test sample at distance 0 of a fit one
    test_mask = np.zeros(int(np.prod(shape)), bool)
    test_mask[lab[fit[bid] == 0]] = True
    # Dilating by a box of sides 2m+1 marks every sample within per-axis distance m of a test sample.
    size = tuple(2 * m + 1 for m in margin)
    near = ndimage.maximum_filter(test_mask.reshape(shape), size=size, mode="constant", cval=0)
    return near.reshape(-1)[lab]


def _margin_repair(
    fit: np.ndarray,
    near_test: np.ndarray,
    counts: np.ndarray,
    lab: np.ndarray,
    bid: np.ndarray,
    cls: np.ndarray,
    shape: tuple[int, ...],
    margin: tuple[int, ...],
    class_names: list[str],
    max_candidates: int = 400,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Give every class a training sample that survives the margin, or refuse with the class named.

    For a class left without one (rarest first), a sample ``p`` of it is chosen and every test block
    holding a labeled sample in the box of half-sides ``margin`` around ``p`` (``p``'s own block
    included) moves to the fit side, so that ``p`` survives. Candidates that would take some class's
    last test sample are skipped; among the others the one moving the fewest test samples wins.
    Moving blocks out of test never removes another class's survivors, so earlier repairs stay valid.

    Args: ``fit`` ``(B,)`` block sides (1 fit, 0 test, -1 no label); ``near_test``, ``bid``, ``cls``
    ``(N,)`` per labeled sample ``lab`` (flat indices into ``shape``); ``counts`` ``(B, K)``;
    ``margin`` one half-side per axis. Returns the new ``fit``, ``near_test`` and the number of repairs.
    """
    item, unit = _words(len(shape))
    block_img = np.full(int(np.prod(shape)), -1, np.int64)
    block_img[lab] = bid
    # Padding by the margin lets every window be one plain slice, even at the border.
    padded = np.pad(block_img.reshape(shape), [(m, m) for m in margin], constant_values=-1)
    totals = counts.sum(0)
    repairs = 0
    for k in np.argsort(totals, kind="stable"):
        if totals[k] == 0 or ((cls == k) & (fit[bid] == 1) & ~near_test).any():
            continue
        test_counts = counts[fit == 0].sum(0)
        cands = lab[cls == k]
        cands = cands[:: -(-len(cands) // max_candidates)]  # evenly thinned: deterministic, bounded cost
        best: tuple[int, np.ndarray] | None = None
        for point in zip(*np.unravel_index(cands, shape)):
            window = padded[tuple(slice(c, c + 2 * m + 1) for c, m in zip(point, margin))]
            blocks = np.unique(window[window >= 0])
            moved = blocks[fit[blocks] == 0]
            if ((test_counts > 0) & (test_counts - counts[moved].sum(0) == 0)).any():
                continue  # some class would lose its last test sample
            cost = int(counts[moved].sum())
            if best is None or cost < best[0]:
                best = (cost, moved)
        if best is None:
            coords = np.unravel_index(lab[cls == k], shape)
            extent = tuple(int(c.max() - c.min()) for c in coords)
            # Every pair of the class's samples lies within the margin on every axis: none can be
            # trained on while another is tested, whatever the blocks.
            if all(e <= m for e, m in zip(extent, margin)):
                spread = str(max(extent)) if len(set(margin)) == 1 else " x ".join(map(str, extent))
                hint = (
                    f"its {item}s all lie within {spread} {unit} of each other, so with this margin no {item} of it "
                    f"can be trained on while another is tested: use a smaller patch size / split.margin, "
                    f"or leave the class out (map it to 0)"
                )
            else:
                hint = (
                    "use a smaller split.block_size (finer blocks), a smaller patch size / split.margin, "
                    "or leave the class out (map it to 0)"
                )
            raise HsframeError(
                f"class {k + 1} '{class_names[k]}' keeps no training {item} once the {item}s within "
                f"{_axes(margin)} {unit} of the test {item}s are dropped: {hint}"
            )
        fit = fit.copy()
        fit[best[1]] = 1
        near_test = _near(lab, bid, fit, shape, margin)
        repairs += 1
    return fit, near_test, repairs


def _apply_remap(maps: list[np.ndarray], remap: dict[int, int], n_classes: int) -> list[np.ndarray]:
    """Apply a class-id remap to every map; ids not listed keep theirs, ids mapped to 0 are dropped."""
    for key, value in remap.items():
        if int(key) != key or int(value) != value or key < 1 or not 0 <= value <= n_classes:
            raise HsframeError(
                f"split.remap entry {key} -> {value} is invalid: keys are class ids >= 1 of the map files, "
                f"values class ids in 0..{n_classes} (0 drops the class)"
            )
    present = set(np.unique(np.concatenate([m.reshape(-1) for m in maps])).tolist()) - {0}
    if present and min(present) < 0:
        raise HsframeError(f"the split maps hold negative class id {min(present)}: ids must be >= 0")
    sources: dict[int, list[int]] = {}
    for key, value in remap.items():
        sources.setdefault(int(value), []).append(int(key))
    for u in sorted(present):
        # An unlisted id equal to some listed id's target would be merged with it without being asked.
        if u not in remap and u in sources:
            raise HsframeError(
                f"split.remap sends {sources[u]} to {u} but leaves id {u} of the maps unlisted, which would "
                f"merge the two: list {u} as well ({u}: {u} to merge on purpose, or {u}: <its new id>)"
            )
    top = max(present | set(int(k) for k in remap), default=0)
    lut = np.arange(top + 1, dtype=np.int64)
    for key, value in remap.items():
        lut[int(key)] = int(value)
    return [lut[m.astype(np.int64)] for m in maps]


def fixed_split(
    train_map: np.ndarray,
    test_map: np.ndarray | None,
    class_names: list[str],
    seed: int,
    val_fraction: float,
    remap: dict[int, int] | None = None,
    labels: np.ndarray | None = None,
) -> Split:
    """Split given by published training and test label maps (e.g. spatially disjoint benchmarks).

    Args:
        train_map, test_map: ``(H, W)`` class ids, 0 = not in that subset. ``test_map=None`` (for a
            published training map only, like the disjoint Indian Pines one): the test subset is
            every pixel labeled in ``labels`` and not in the (remapped) training map.
        class_names: names of classes 1..K.
        seed: seeds the choice of validation pixels.
        val_fraction: share of each class's training-map pixels held out (at random) for validation;
            every class keeps at least one training pixel.
        remap: ``{id in the map files: id in class_names' order}``, applied to both given maps
            (never to ``labels``, which is in class_names' order already). Ids not
            listed keep their id (so a remap lists only what changes); ids mapped to 0 are dropped
            from both subsets. An unlisted id that is also the target of a listed one is refused
            (a merge or a typo? list it explicitly to merge).
        labels: optional ``(H, W)`` ground truth of the scene, in class_names' order. Besides
            standing in for a missing test map it is only compared:
            ``info`` then counts training-map pixels that are unlabeled (``train_unlabeled_in_gt``)
            or of another class (``train_disagree_with_gt``) in it, and likewise for the test map
            (``test_unlabeled_in_gt``, ``test_disagree_with_gt``). Nothing fails on a mismatch.

    Raises ``HsframeError`` when a pixel is labeled in both maps, or a class has test pixels but no
    training pixel (a wrong remap shows up that way). A class absent from both maps is skipped.
    """
    _check_fraction("split.val_fraction", val_fraction)
    train_map = np.asarray(train_map)
    if test_map is None and labels is None:
        raise HsframeError("a fixed split needs a test map, or the scene's ground truth to take the test pixels from")
    derived_test = test_map is None
    test_map = np.zeros_like(train_map) if derived_test else np.asarray(test_map)
    if train_map.ndim != 2 or train_map.shape != test_map.shape:
        raise HsframeError(
            f"the training and test maps must be 2-D maps of one shape, got {train_map.shape} and {test_map.shape}"
        )
    h, w = train_map.shape
    if labels is not None and np.shape(labels) != (h, w):
        raise HsframeError(f"the ground truth has shape {np.shape(labels)}, the split maps {(h, w)}: they must match")
    n_cls = len(class_names)
    if remap:
        train_map, test_map = _apply_remap([train_map, test_map], remap, n_cls)
    if derived_test:
        # The rest of the ground truth: labeled there and not a training-map pixel.
        test_map = np.where(train_map > 0, 0, np.asarray(labels))
    tr, te = train_map.reshape(-1).astype(np.int64), test_map.reshape(-1).astype(np.int64)
    _check_class_ids(tr, n_cls, "training map")
    _check_class_ids(te, n_cls, "test map")
    both = np.flatnonzero((tr > 0) & (te > 0))
    if len(both):
        r, c = divmod(int(both[0]), w)
        raise HsframeError(
            f"{len(both)} pixels are labeled in both the training and the test map (first at row {r}, "
            f"column {c}): the maps must not overlap; check that the right pair of files is given"
        )
    rng = np.random.default_rng(seed)
    train, val = [], []
    for k in range(1, n_cls + 1):
        idx = np.flatnonzero(tr == k)
        if len(idx) == 0:
            n_test = int((te == k).sum())
            if n_test:
                raise HsframeError(
                    f"class {k} '{class_names[k - 1]}' has {n_test} test pixels but no training pixel in the "
                    f"training map: check the class order of the map files (split.remap), or leave the "
                    f"class out by mapping it to 0"
                )
            continue
        idx = rng.permutation(idx)
        n_val = min(int(round(val_fraction * len(idx))), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    if not train:
        raise HsframeError("the training map has no labeled pixel (all zeros): nothing to train on")
    test = np.flatnonzero(te > 0)
    if len(test) == 0:
        raise HsframeError("the test map has no labeled pixel (all zeros): nothing to evaluate on")
    parts = [np.sort(np.concatenate(p)).astype(np.int64) for p in (train, val)]
    if len(parts[1]) == 0:
        raise HsframeError(
            "the validation subset is empty: raise split.val_fraction "
            "(the checkpoint is chosen on validation OA)"
        )
    info: dict[str, int] = {}
    desc = (
        f"fixed maps: {int((tr > 0).sum())} training-map px (val {val_fraction:g} of them per class), "
        f"{len(test)} test px"
        + (" (the rest of the ground truth)" if derived_test else "")
        + (f", class ids remapped {dict(remap)}" if remap else "")
        + f", seed {seed}"
    )
    if labels is not None:
        gt = np.asarray(labels).reshape(-1).astype(np.int64)
        for name, m in (("train", tr), ("test", te)):
            on = m > 0
            info[f"{name}_unlabeled_in_gt"] = int((on & (gt <= 0)).sum())
            info[f"{name}_disagree_with_gt"] = int((on & (gt > 0) & (gt != m)).sum())
        desc += (
            f"; vs ground truth: {info['train_unlabeled_in_gt']} training px unlabeled, "
            f"{info['train_disagree_with_gt']} of another class"
        )
    return Split(parts[0], parts[1], test.astype(np.int64), desc, info=info)
