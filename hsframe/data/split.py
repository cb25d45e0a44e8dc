"""Train / validation / test splits of labeled pixels.

Three kinds:

- ``stratified_split``: pixels drawn at random per class (the classic protocol; training and test
  pixels are neighbours, so overlapping patches leak test pixels into training inputs);
- ``block_split``: whole spatial blocks go to one subset, with a margin of dropped training pixels
  around the test pixels, so that no training patch window need contain a test pixel; a class the
  blocks cannot split is split per class (cells, then a cut across a margin-wide gap) or listed;
  it takes 1-D (sliding windows over a series), 2-D (a scene) and 3-D (a volume) label arrays alike;
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

    ``dropped``: labeled pixels used in no subset (``block_split``'s margin around the test pixels,
    and the classes it left out).
    ``info``: extra integer facts about the split (e.g. ``fixed_split``'s check against the ground
    truth); empty when there is nothing to add.
    ``notes``: lines the person at the terminal should read (e.g. the classes a split left out).
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    description: str
    dropped: int = 0
    info: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

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
    drop_unsplittable: bool = False,
) -> Split:
    """Spatially disjoint split: whole blocks (grid cells) go to train, val or test, class by class where needed.

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
            window contains a test sample (for 1-D windows overlapping when ``|i - j| <= r``: r),
            whichever classes the two samples belong to.
        train_fraction: wanted share of each class's labeled samples in the training blocks
            (train + validation, as in ``stratified_split``), before the margin is dropped.
        val_fraction: wanted share of each class's training-block samples moved, as whole blocks,
            to validation.
        drop_unsplittable: leave the classes that cannot be split (see below) out of every subset,
            as if unlabeled, instead of refusing the split.

    The algorithm, in five steps:

    1. Whole blocks. Rarest class first, its undecided blocks are visited in a seeded random order and
       a block joins the training side when that brings the class's training count closer to
       ``train_fraction`` of the class (``_greedy_sides``); a repair pass flips a block for a class
       left on one side when no other class thereby loses its last sample on a side.
    2. Class-aware cells. A class still on one side (its blocks were all decided by rarer classes
       sharing them) gets one of its *cells* -- its samples in one block -- moved to the other
       side, the rest of that block staying where it was: the cell that leaves the fewest classes
       without a training sample outside the margin, then the one closest to the class's target.
    3. Margin. Training samples within ``margin`` of any test sample (of any class) are dropped.
       A class left without a training sample gets one back (``_margin_repair``): for a sample
       ``p`` of it, the test blocks holding a sample in the margin box around ``p`` move to the
       training side; when every such move would take some class's last test sample, only the
       test cells inside the box move (cells of other classes in those blocks stay test).
    4. Validation blocks among the training ones, by the greedy of step 1 on the samples that
       survive the margin; when every block overshoots (few large blocks), the smallest block whose
       classes all keep training samples elsewhere.
    5. Cut (a class the blocks cannot split: all its samples in one block, or none of its training
       samples left by step 3). The class is cut in two along one axis (``_cut``): a training part,
       a gap as wide as the margin (dropped) and a test part, the training share closest to
       ``train_fraction``; the two parts become blocks of their own and steps 1-4 run again. The
       cut is the finest split the margin allows: a class can be split this way exactly when its
       samples span more than the margin along some axis.

    A class whose samples all lie within the margin of each other (or whose training part no move
    of step 3 can free even after the cut) cannot be split. All such classes are listed in one
    refusal, with the options (``drop_unsplittable``, smaller patches / margin, a published disjoint
    map); with ``drop_unsplittable`` they are left out, the split is drawn again without them
    (their test samples no longer cost the others margin), and the ``Split``'s description and
    ``notes`` name them. Class ids stay as they are: a left-out class has no sample in any subset.

    Steps 2, 3's cell moves, 4's fallback and 5 only run where whole blocks would be refused, so
    any split the whole blocks allow is the same as before them, each block contributing to one
    subset; otherwise ``info['mixed_blocks']`` blocks hold training cells of some classes and test
    cells of others, the margin still separating them, and ``info['cut_classes']`` classes are cut.
    Large margins on small blocks drop most training samples: keep ``block_size`` well above
    ``margin`` (``Split.dropped`` and the description say how many were lost).

    Returns:
        A ``Split`` with ``dropped`` set (margin and left-out classes); its ``info`` holds
        ``blocks`` (blocks holding labeled samples), ``train_blocks`` / ``val_blocks`` /
        ``test_blocks`` (blocks wholly on one side), ``mixed_blocks``, ``margin_repairs``,
        ``cut_classes``, ``left_out_classes`` and ``left_out`` (samples of the left-out classes).
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
    every = _Samples(lab, bid, flat[lab] - 1, shape, n_blocks, n_cls)
    counts = every.counts()
    totals = counts.sum(0)

    rng = np.random.default_rng(seed)
    fit_rank, val_rank = rng.permutation(n_blocks), rng.permutation(n_blocks)  # the order they were always drawn in
    # A class that blocks cannot split (all in one block, or lost to the margin once assigned) is cut in
    # two along an axis (step 5); one that cannot be cut either is left out, and the assignment is
    # drawn again without it (its test samples no longer cost the others margin).
    cuts: dict[int, tuple[int, int]] = {}
    left_out: dict[int, str] = {}

    def cut_or_leave(k: int, reason: str) -> None:
        where = None if k in cuts else _cut(every, k, margins, train_fraction)
        if where is None:
            left_out[k] = "close" if _within_margin(every, k, margins) else reason
        else:
            cuts[k] = where

    for k in np.flatnonzero((totals > 0) & ((counts > 0).sum(0) == 1)):
        cut_or_leave(int(k), "one block")
    while True:
        cut, gap = _with_cuts(every, cuts, margins)
        kept = cut.subset(~np.isin(cut.cls, list(left_out)))
        if len(kept.lab) == 0:
            break
        side, near_test, repairs, lost = _assign(kept, _extend(fit_rank, kept.n_blocks), train_fraction, margins)
        if not lost:
            break
        for k in lost:
            cut_or_leave(k, "margin")
    if left_out and (not drop_unsplittable or len(kept.lab) == 0):
        raise HsframeError(_unsplittable_message(every, left_out, class_names, blocks, margins,
                                                 offer_drop=len(kept.lab) > 0))
    gap = int((~np.isin(gap, list(left_out))).sum())  # samples of the kept cut classes between their two parts

    # Validation blocks among the fit cells, balanced on the samples that survive the margin.
    nb = kept.n_blocks  # the grid's blocks, then two per cut class
    sides = side[kept.bid, kept.cls]
    surviving = (sides == 1) & ~near_test
    surv_counts = np.bincount(kept.bid[surviving] * n_cls + kept.cls[surviving], minlength=nb * n_cls).reshape(nb, n_cls)
    fit_pool = surv_counts.sum(1) > 0
    val = _greedy_sides(
        surv_counts, fit_pool, val_fraction * surv_counts[fit_pool].sum(0), _extend(val_rank, nb), False, True
    )
    if not (val == 1).any():
        # Every block overshoots the validation share of its classes (few large blocks): take the smallest
        # one whose classes all keep training samples elsewhere, rather than refuse.
        spare = fit_pool & ~((surv_counts > 0) & (surv_counts == surv_counts.sum(0))).any(1)
        if spare.any():
            val[np.flatnonzero(spare)[np.argmin(surv_counts[spare].sum(1))]] = 1
    subset = np.where(sides == 0, 2, np.where(surviving, (val[kept.bid] == 1).astype(np.int64), -1))  # -1: margin
    train_idx, val_idx, test_idx = (kept.lab[subset == s] for s in range(3))
    margin_dropped = int((subset == -1).sum()) + gap
    if len(val_idx) == 0:
        why = (
            f" ({margin_dropped} training/validation {unit} lay within the {_axes(margins)} {unit} margin of the "
            f"test {item}s: use a split.block_size well above the margin)" if margin_dropped else ""
        )
        raise HsframeError(
            f"the validation subset is empty{why}: raise split.val_fraction or split.train_fraction "
            "(the checkpoint is chosen on validation OA)"
        )
    parts = [np.sort(p).astype(np.int64) for p in (train_idx, val_idx, test_idx)]
    # Block counts are of the grid's blocks (a cut class's samples counted in the block they lie in).
    real = kept.subset(np.isin(kept.cls, list(cuts), invert=True))
    real_sides = side[real.bid, real.cls]
    has_fit, has_test = (np.bincount(real.bid[real_sides == v], minlength=nb)[:n_blocks] > 0 for v in (1, 0))
    whole_fit = has_fit & ~has_test
    out = [(k, int(totals[k])) for k in sorted(left_out)]
    info = {
        "blocks": int((has_fit | has_test).sum()),
        "train_blocks": int((whole_fit & (val[:n_blocks] != 1)).sum()),
        "val_blocks": int((whole_fit & (val[:n_blocks] == 1)).sum()),
        "test_blocks": int((has_test & ~has_fit).sum()),
        "mixed_blocks": int((has_fit & has_test).sum()),
        "margin_repairs": repairs,
        "cut_classes": len(set(cuts) - set(left_out)),
        "left_out_classes": len(out),
        "left_out": sum(n for _, n in out),
    }
    named = ", ".join(f"{k + 1} '{class_names[k]}' ({n} {unit})" for k, n in out)
    cut_names = ", ".join(f"{k + 1} '{class_names[k]}'" for k in sorted(set(cuts) - set(left_out)))
    desc = (
        f"spatial blocks of {_axes(blocks, collapse=False)} {unit} ({info['train_blocks']} train / "
        f"{info['val_blocks']} val / {info['test_blocks']} test blocks"
        + (f", {info['mixed_blocks']} split by class" if info["mixed_blocks"] else "")
        + f"): train {train_fraction:g} of each class as blocks allow, val {val_fraction:g} of train, "
        f"margin {_axes(margins)} {unit} ({margin_dropped} train/val {unit} dropped"
        + (f", {repairs} class(es) given a margin-free training area" if repairs else "")
        + f"), seed {seed}"
        + (f"; cut in two across a margin-wide gap (too few blocks): {cut_names}" if cut_names else "")
        + (f"; unsplittable classes left out: {named}" if out else "")
    )
    notes = (
        f"warning: split.drop_unsplittable left out {len(out)} class(es) the blocks cannot split ({info['left_out']} "
        f"{unit} treated as unlabeled, in no subset): {named}",
    ) if out else ()
    return Split(parts[0], parts[1], parts[2], desc, dropped=margin_dropped + info["left_out"], info=info, notes=notes)


def _extend(rank: np.ndarray, n: int) -> np.ndarray:
    """The grid blocks' seeded ranks, then the cut classes' parts in order (visited last)."""
    return np.concatenate([rank, np.arange(len(rank), n)])


def _within_margin(s: "_Samples", k: int, margin: tuple[int, ...]) -> bool:
    """Every two samples of class ``k`` lie within ``margin`` of each other on every axis: none of it can
    be trained on while another is tested, whatever the blocks."""
    coords = np.unravel_index(s.lab[s.cls == k], s.shape)
    return all(int(c.max() - c.min()) <= m for c, m in zip(coords, margin))


def _cut(s: "_Samples", k: int, margin: tuple[int, ...], train_fraction: float) -> tuple[int, int] | None:
    """Where to cut class ``k`` in two (step 5 of ``block_split``): ``(axis, c0)``.

    The training part holds the samples with coordinate ``<= c0`` along ``axis``, the test part those
    beyond ``c0 + margin[axis]``; the samples between are dropped, so that the two parts lie more
    than the margin apart. Chosen: the training share closest to ``train_fraction``, then the fewest
    dropped; ``None`` when no axis spans more than its margin.
    """
    coords = np.unravel_index(s.lab[s.cls == k], s.shape)
    best: tuple[tuple[float, int], tuple[int, int]] | None = None
    for axis, (c, m) in enumerate(zip(coords, margin)):
        for c0 in range(int(c.min()), int(c.max()) - m):
            n_fit, n_test = int((c <= c0).sum()), int((c > c0 + m).sum())
            if n_fit and n_test:
                key = (abs(n_fit / (n_fit + n_test) - train_fraction), len(c) - n_fit - n_test)
                if best is None or key < best[0]:
                    best = (key, (axis, c0))
    return None if best is None else best[1]


def _with_cuts(s: "_Samples", cuts: dict[int, tuple[int, int]], margin: tuple[int, ...]) -> tuple["_Samples", np.ndarray]:
    """``s`` with each cut class's two parts as blocks of their own (after the grid's) and its gap
    samples removed; also the classes of the removed samples."""
    if not cuts:
        return s, np.zeros(0, np.int64)
    bid, keep = s.bid.copy(), np.ones(len(s.lab), bool)
    coords = np.unravel_index(s.lab, s.shape)
    for i, (k, (axis, c0)) in enumerate(sorted(cuts.items())):
        mine, c = s.cls == k, coords[axis]
        bid[mine & (c <= c0)] = s.n_blocks + 2 * i
        bid[mine & (c > c0 + margin[axis])] = s.n_blocks + 2 * i + 1
        keep &= ~(mine & (c > c0) & (c <= c0 + margin[axis]))
    cut = _Samples(s.lab, bid, s.cls, s.shape, s.n_blocks + 2 * len(cuts), s.n_cls).subset(keep)
    return cut, s.cls[~keep]


@dataclass(frozen=True)
class _Samples:
    """The labeled samples of a block split: flat index, block and 0-based class of each."""

    lab: np.ndarray
    bid: np.ndarray
    cls: np.ndarray
    shape: tuple[int, ...]
    n_blocks: int
    n_cls: int

    def counts(self) -> np.ndarray:
        """``(B, K)`` samples of each class in each block."""
        return np.bincount(self.bid * self.n_cls + self.cls, minlength=self.n_blocks * self.n_cls).reshape(
            self.n_blocks, self.n_cls)

    def subset(self, mask: np.ndarray) -> "_Samples":
        return _Samples(self.lab[mask], self.bid[mask], self.cls[mask], self.shape, self.n_blocks, self.n_cls)


def _assign(
    s: _Samples, rank: np.ndarray, train_fraction: float, margin: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, int, list[int]]:
    """Steps 1-3 of ``block_split``: every cell (block, class) to the fit (1) or test (0) side.

    Every class of ``s`` must lie in two blocks or more. Returns the ``(B, K)`` int8 sides (-1: no
    sample), ``(N,)`` whether each sample lies within ``margin`` of a test sample, the number of
    margin repairs, and the classes no margin repair could give a training sample.
    """
    counts = s.counts()
    totals = counts.sum(0)
    block_side = _greedy_sides(counts, counts.sum(1) > 0, train_fraction * totals, rank, True, True)
    side = np.where(counts > 0, block_side[:, None], -1).astype(np.int8)
    for k in np.argsort(totals, kind="stable"):
        column = side[:, k][counts[:, k] > 0]
        if totals[k] > 0 and not ((column == 1).any() and (column == 0).any()):
            side = _move_one_cell(s, side, counts, int(k), train_fraction * totals[k], rank, margin)
    near_test = _near(s, side, margin)
    if not any(margin):
        return side, near_test, 0, []
    return _margin_repair(s, side, counts, near_test, margin)


def _without_training(s: _Samples, side: np.ndarray, near_test: np.ndarray) -> int:
    """How many classes of ``s`` keep no fit sample outside the margin."""
    alive = (side[s.bid, s.cls] == 1) & ~near_test
    return int(((np.bincount(s.cls, minlength=s.n_cls) > 0) & (np.bincount(s.cls[alive], minlength=s.n_cls) == 0)).sum())


def _move_one_cell(
    s: _Samples, side: np.ndarray, counts: np.ndarray, k: int, target: float, rank: np.ndarray, margin: tuple[int, ...]
) -> np.ndarray:
    """Class ``k``'s cells all lie on one side: move one of them (the rest of its block stays) to the other.

    The cell chosen leaves the fewest classes without a training sample outside the margin, then
    brings ``k``'s fit count closest to ``target``; ties go to the seeded ``rank`` of the blocks.
    """
    mine = np.flatnonzero(counts[:, k] > 0)
    mine = mine[np.argsort(rank[mine], kind="stable")]
    have = int(side[mine[0], k])
    fit_now = int(counts[side[:, k] == 1, k].sum())
    best: tuple[tuple[int, float], int] | None = None
    for blk in mine:
        trial = side.copy()
        trial[blk, k] = 1 - have
        fit_after = fit_now + (int(counts[blk, k]) if have == 0 else -int(counts[blk, k]))
        key = (_without_training(s, trial, _near(s, trial, margin)), abs(fit_after - target))
        if best is None or key < best[0]:
            best = (key, int(blk))
    assert best is not None  # the class has samples
    side = side.copy()
    side[best[1], k] = 1 - have
    return side


def _near(s: _Samples, side: np.ndarray, margin: tuple[int, ...]) -> np.ndarray:
    """``(N,)`` bool: for each labeled sample of ``s``, whether a test sample lies within ``margin[a]``
    of it along every axis ``a``."""
    if not any(margin):
        return np.zeros(len(s.lab), bool)  # subsets are disjoint: no test sample at distance 0 of a fit one
    test_mask = np.zeros(int(np.prod(s.shape)), bool)
    test_mask[s.lab[side[s.bid, s.cls] == 0]] = True
    # Dilating by a box of sides 2m+1 marks every sample within per-axis distance m of a test sample.
    size = tuple(2 * m + 1 for m in margin)
    near = ndimage.maximum_filter(test_mask.reshape(s.shape), size=size, mode="constant", cval=0)
    return near.reshape(-1)[s.lab]


def _margin_repair(
    s: _Samples,
    side: np.ndarray,
    counts: np.ndarray,
    near_test: np.ndarray,
    margin: tuple[int, ...],
    max_candidates: int = 400,
) -> tuple[np.ndarray, np.ndarray, int, list[int]]:
    """Give every class a training sample that survives the margin, or list it as lost.

    For a class left without one (rarest first), a sample ``p`` of it is chosen and every test block
    holding a labeled sample in the box of half-sides ``margin`` around ``p`` (``p``'s own block
    included) moves to the fit side, so that ``p`` survives. Candidates that would take some class's
    last test sample are skipped; among the others the one moving the fewest test samples wins.
    When no whole-block move is allowed, only the test cells (block, class) holding a sample in the
    box move, by the same rule. Moving samples out of test never removes another class's
    survivors, so earlier repairs stay valid.

    Args: ``side`` ``(B, K)`` cell sides (1 fit, 0 test, -1 no sample); ``counts`` ``(B, K)``;
    ``near_test`` ``(N,)`` per sample of ``s``; ``margin`` one half-side per axis. Returns the new
    ``side`` and ``near_test``, the number of repairs and the classes left without a training sample.
    """
    n_cls = s.n_cls
    cell_img = np.full(int(np.prod(s.shape)), -1, np.int64)
    cell_img[s.lab] = s.bid * n_cls + s.cls
    # Padding by the margin lets every window be one plain slice, even at the border.
    padded = np.pad(cell_img.reshape(s.shape), [(m, m) for m in margin], constant_values=-1)
    totals = counts.sum(0)
    repairs, lost = 0, []
    for k in np.argsort(totals, kind="stable"):
        if totals[k] == 0 or ((s.cls == k) & (side[s.bid, s.cls] == 1) & ~near_test).any():
            continue
        test_counts = np.where(side == 0, counts, 0).sum(0)
        cands = s.lab[s.cls == k]
        cands = cands[:: -(-len(cands) // max_candidates)]  # evenly thinned: deterministic, bounded cost
        best: list[tuple[int, tuple[np.ndarray, np.ndarray]] | None] = [None, None]  # whole blocks, cells
        for point in zip(*np.unravel_index(cands, s.shape)):
            window = padded[tuple(slice(c, c + 2 * m + 1) for c, m in zip(point, margin))]
            cell_b, cell_k = np.divmod(np.unique(window[window >= 0]), n_cls)
            blk = np.unique(cell_b)
            blk_b, blk_k = np.nonzero(side[blk] == 0)
            on_test = side[cell_b, cell_k] == 0
            for mode, (mb, mk) in enumerate(((blk[blk_b], blk_k), (cell_b[on_test], cell_k[on_test]))):
                taken = np.bincount(mk, weights=counts[mb, mk], minlength=n_cls)
                if ((test_counts > 0) & (test_counts - taken == 0)).any():
                    continue  # some class would lose its last test sample
                cost = int(taken.sum())
                if best[mode] is None or cost < best[mode][0]:  # type: ignore[index]
                    best[mode] = (cost, (mb, mk))
        choice = best[0] or best[1]
        if choice is None:
            lost.append(int(k))
            continue
        side = side.copy()
        side[choice[1]] = 1
        near_test = _near(s, side, margin)
        repairs += 1
    return side, near_test, repairs, lost


def _unsplittable_message(
    s: _Samples, left_out: dict[int, str], class_names: list[str], blocks: tuple[int, ...], margin: tuple[int, ...],
    offer_drop: bool,
) -> str:
    """One line naming every class that cannot be split (samples, blocks, why), then what to do.

    ``left_out``: class -> ``"close"`` (its samples all lie within the margin of each other) or
    ``"margin"`` (even cut in two, its training part lies within the margin of test samples that
    no repair could move).
    """
    item, unit = _words(len(s.shape))
    counts = s.counts()
    parts = []
    for k in sorted(left_out):
        n, nb = int(counts[:, k].sum()), int((counts[:, k] > 0).sum())
        where = f"{n} {unit}, all in 1 block" if nb == 1 else f"{n} {unit} in {nb} blocks"
        if left_out[k] == "close":
            coords = np.unravel_index(s.lab[s.cls == k], s.shape)
            extent = tuple(int(c.max() - c.min()) for c in coords)
            spread = str(max(extent)) if len(set(margin)) == 1 else " x ".join(map(str, extent))
            why = f"its {item}s all lie within {spread} {unit} of each other, inside the {_axes(margin)} {unit} margin"
        else:
            why = f"no training {item} of it stays outside the {_axes(margin)} {unit} margin of the test {item}s around it"
        parts.append(f"class {k + 1} '{class_names[k]}' ({where}; {why})")
    present = int((counts.sum(0) > 0).sum())
    options = []
    if offer_drop:
        options.append(f"set split.drop_unsplittable=true to leave them out (their {item}s unlabeled, in no subset)")
    options.append("use a smaller patch size / split.margin")
    if "margin" in left_out.values():
        options.append("a smaller split.block_size")
    if len(s.shape) == 2:
        options.append("give a published spatially disjoint training map with split.method=fixed and "
                       "split.train_map=FILE (e.g. indianpines_disjoint_dset.mat for Indian Pines, with split.remap)")
    return (
        f"split.method=blocks cannot split {len(left_out)} of {present} classes into training and test {item}s with "
        f"blocks of {_axes(blocks, collapse=False)} {unit} and a {_axes(margin)} {unit} margin: "
        + "; ".join(parts) + ". Options: " + "; or ".join(options)
    )


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
    val_map: np.ndarray | None = None,
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
        val_map: optional ``(H, W)`` validation map (remapped like the others): its pixels are the
            validation subset, and every training-map pixel trains (``val_fraction`` is then unused).

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
    if val_map is not None and np.shape(val_map) != (h, w):
        raise HsframeError(f"the validation map is {np.shape(val_map)}, the training map {(h, w)}: they must match")
    if remap:
        train_map, test_map = _apply_remap([train_map, test_map], remap, n_cls)
        if val_map is not None:
            [val_map] = _apply_remap([np.asarray(val_map)], remap, n_cls)
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
    va = None if val_map is None else np.asarray(val_map).reshape(-1).astype(np.int64)
    if va is not None:
        _check_class_ids(va, n_cls, "validation map")
        for other, m in (("training", tr), ("test", te)):
            both = np.flatnonzero((va > 0) & (m > 0))
            if len(both):
                r, c = divmod(int(both[0]), w)
                raise HsframeError(f"{len(both)} pixels are labeled in both the validation and the {other} map (first at row {r}, "
                                   f"column {c}): the maps must not overlap")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for k in range(1, n_cls + 1):
        if va is not None:  # the validation map gives the validation pixels: every training-map pixel trains
            train.append(np.flatnonzero(tr == k))
            val.append(np.flatnonzero(va == k))
            if not len(train[-1]) and (te == k).any():
                raise HsframeError(f"class {k} '{class_names[k - 1]}' has test pixels but no training pixel in the training map")
            continue
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
    if not train or not len(np.concatenate(train)):
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
    held = f"val {val_fraction:g} of them per class" if va is None else f"val map {len(parts[1])} px"
    desc = (
        f"fixed maps: {int((tr > 0).sum())} training-map px ({held}), "
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
