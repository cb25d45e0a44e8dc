"""Label values -> class ids 1..K, the one place where it happens for every kind of data.

A label map may hold any whole numbers as its classes: ``{1, 2, 1000}``, ``{3, 7, 9}``, ``{5}``,
``2_000_000_000``. The engine sizes its outputs, figures and confusion matrix by K, so such ids are
renumbered 1..K in increasing order (0 stays unlabeled) and the original id of every class is kept
(``label_ids[k - 1]`` is the value class ``k`` had), to write predictions back in the data's own ids.
Nothing here allocates by the size of an id: memory is O(labels), whatever values they hold.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from hsframe.errors import HsframeError

# The most classes a run takes: beyond this a "label map" is almost surely another array (ids, a cube band).
MAX_CLASSES = 1000
# At least this many labeled samples per class, on average; fewer is refused as not a label map to learn.
MIN_SAMPLES_PER_CLASS = 10
_INT64_MAX = np.iinfo(np.int64).max


def shown_ids(ids: Sequence[int] | np.ndarray, limit: int = 10) -> str:
    """``1, 2, 1000``, or the first ``limit`` ids and ``...``: ids for a one-line message."""
    ids = np.asarray(ids).reshape(-1)
    return ", ".join(str(v) for v in ids[:limit].tolist()) + (", ..." if ids.size > limit else "")


def whole_label_values(labels: np.ndarray, where: str) -> np.ndarray:
    """Labels as int64 whole numbers >= 0, or one-line :class:`HsframeError` naming ``where``."""
    labels = np.asarray(labels)
    kind = labels.dtype.kind
    if kind == "b":
        return labels.astype(np.int64)
    if kind not in "iuf":
        raise HsframeError(f"{where}: labels are {labels.dtype}; they must be whole numbers (0 = unlabeled, others classes)")
    if labels.size == 0:
        return labels.astype(np.int64)
    if kind == "f":
        bad = ~np.isfinite(labels) | (labels != np.round(labels))
        if bad.any():
            raise HsframeError(f"{where}: labels must be whole numbers (0 = unlabeled, others classes); {int(bad.sum())} of "
                               f"{labels.size} values are not (e.g. {labels[bad].flat[0]})")
    if labels.min() < 0:
        negative = np.unique(labels[labels < 0])
        raise HsframeError(f"{where}: labels hold negative class ids {shown_ids(negative)}; ids must be >= 0 "
                           "(0 = unlabeled): map the negative ones to 0 in the file")
    check_int64(labels, where)
    return labels.astype(np.int64, copy=False)


def check_int64(labels: np.ndarray, where: str) -> None:
    """Refuse whole-number labels that int64 cannot hold (they would wrap around to other ids)."""
    if labels.size == 0 or labels.dtype.kind not in "uf":
        return
    hi = labels.max()
    if (labels.dtype.kind == "u" and int(hi) > _INT64_MAX) or (labels.dtype.kind == "f" and float(hi) >= 2.0**63):
        raise HsframeError(f"{where}: label value {hi} is too large for a class id (at most {_INT64_MAX})")


def to_class_ids(labels: np.ndarray, class_names: Sequence[str], where: str) -> tuple[np.ndarray, list[str], list[int] | None]:
    """Labels -> ``(class ids 0..K, K class names, label_ids)``; ``label_ids`` is None when nothing was renumbered.

    - Names given and every id within 1..len(names): kept as they are (a class may be absent).
    - No names: the ids present become classes 1..K in increasing order, named ``class <id>``.
    - Names given, ids beyond them, one name per id present: the names belong to the present ids in order.
    Anything else is a one-line :class:`HsframeError`.
    """
    values = whole_label_values(labels, where)
    names = [str(n) for n in class_names]
    labeled = values > 0
    present = np.unique(values[labeled])  # sorted; O(labels) memory, never O(largest id)
    k = len(names)
    if names and (present.size == 0 or present[-1] <= k):
        return values, names, None
    if not names and (present.size == 0 or present[-1] == present.size):
        return values, [f"class {i}" for i in range(1, present.size + 1)], None
    if names and present.size != k:
        raise HsframeError(f"{where}: labels hold class ids {shown_ids(present)} ({present.size} ids), but {k} class names "
                           f"were given: give one name per class id (or class ids 1..{k})")
    ids = np.zeros_like(values)
    ids[labeled] = np.searchsorted(present, values[labeled]) + 1
    return ids, names or [f"class {v}" for v in present.tolist()], [int(v) for v in present.tolist()]


def label_values(classes: np.ndarray, label_ids: Sequence[int] | None) -> np.ndarray:
    """Class ids (0 = none, 1..K) -> the data's own label values (``label_ids``; None = the same ids), int64."""
    classes = np.asarray(classes, dtype=np.int64)
    if label_ids is None:
        return classes
    lookup = np.asarray([0, *label_ids], dtype=np.int64)
    return lookup[classes]


def classes_of(values: np.ndarray, label_ids: Sequence[int] | None) -> np.ndarray:
    """Label values -> class ids 1..K of ``label_ids`` (another data's renumbering); values it lacks -> 0."""
    values = np.asarray(values, dtype=np.int64)
    if label_ids is None or not len(label_ids):
        return values if label_ids is None else np.zeros_like(values)
    ids = np.asarray(label_ids, dtype=np.int64)
    order = np.argsort(ids)
    pos = np.clip(np.searchsorted(ids[order], values), 0, len(ids) - 1)
    return np.where(ids[order][pos] == values, order[pos] + 1, 0)


def mapping_text(label_ids: Sequence[int], limit: int = 240) -> str:
    """``1->1, 2->2, 1000->3`` cut to ``limit`` characters (MLflow params hold 500)."""
    text = ", ".join(f"{v}->{k}" for k, v in enumerate(label_ids, 1))
    return text if len(text) <= limit else text[: text.rfind(", ", 0, limit)] + f", ... ({len(label_ids)} ids)"
