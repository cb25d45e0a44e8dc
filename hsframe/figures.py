"""Figures logged with every run: confusion matrix, classification map, label-volume slices.

Every figure's size is bounded whatever the class count or image size: at most :data:`MAX_FIGURE_INCHES`
a side at :data:`DPI` (a canvas sized per class once took 23 GB for 1,000 classes), class names on the
axes and legend entries only while they can be read.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: runs happen in terminals and CI
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from hsframe.data.labels import label_values

# The largest side of any figure, in inches, and the resolution figures are saved at: 24 in x 120 dpi = 2,880 px.
MAX_FIGURE_INCHES = 24.0
DPI = 120
# Beyond these, tick labels and legend entries are left out (unreadable) rather than growing the figure.
MAX_TICK_LABELS = 60
MAX_LEGEND_ENTRIES = 40
# Font sizes (pt): axis class names, and the counts in confusion-matrix cells (left out below the minimum).
TICK_FONT = 7
MIN_COUNT_FONT = 6.0
MAX_COUNT_FONT = 10.0
# Width of one panel of a map figure, in inches.
PANEL_INCHES = 3.8


def _capped(width: float, height: float) -> tuple[float, float]:
    """``(width, height)`` scaled down to fit :data:`MAX_FIGURE_INCHES`, keeping the aspect."""
    scale = min(1.0, MAX_FIGURE_INCHES / max(width, height))
    return width * scale, height * scale


def confusion_figure(cm: np.ndarray, class_names: list[str], oa: float, kappa: float) -> Figure:
    """Confusion matrix, rows = true class: colour = the row's share (recall per true class), the count
    in every non-empty cell while it can be read, class names on the axes, OA and kappa in the title."""
    cm = np.asarray(cm)
    k = len(class_names)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.nan_to_num(cm / cm.sum(1, keepdims=True))
    size = max(5.0, 0.45 * min(k, MAX_TICK_LABELS) + 2)
    fig, ax = plt.subplots(figsize=_capped(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    if k <= MAX_TICK_LABELS:
        ax.set_xticks(range(k), class_names, rotation=90, fontsize=TICK_FONT)
        ax.set_yticks(range(k), class_names, fontsize=TICK_FONT)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"OA {oa:.4f}, kappa {kappa:.4f} ({int(cm.sum())} test samples)")
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of the true class (row)")
    fig.tight_layout()
    # Cell texts sized to the drawn cells (after the layout; texts inside the axes do not change it).
    box = ax.get_window_extent()
    cell_pt = min(box.width, box.height) * 72 / fig.dpi / max(k, 1)
    fontsize = _count_font(cell_pt, len(str(int(cm.max()))) if cm.size else 1)
    if fontsize is not None:
        for i, j in zip(*np.nonzero(cm)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=fontsize,
                    color="white" if norm[i, j] > 0.5 else "black")
    return fig


def _count_font(cell_pt: float, digits: int) -> float | None:
    """The font size (pt) at which a count of ``digits`` digits fits a ``cell_pt`` cell, at most
    :data:`MAX_COUNT_FONT`; None when it would be under :data:`MIN_COUNT_FONT` (unreadable: left out)."""
    # A digit is about 0.6 em wide; leave a margin of 15% of the cell.
    size = min(MAX_COUNT_FONT, 0.85 * cell_pt / (0.6 * max(digits, 2)), 0.6 * cell_pt)
    return size if size >= MIN_COUNT_FONT else None


def label_panels_figure(
    rows: list[list[tuple[str, np.ndarray]]],
    class_names: list[str],
    palette: list[tuple[int, int, int]],
    title: str = "",
) -> Figure:
    """A grid of 2-D label images (class ids, 0 = unlabeled / not predicted in black), one legend beside them.

    ``rows[i][j]`` is the ``(panel title, image)`` drawn at row i, column j; an ``(H, W, 3)`` image is
    drawn as the RGB picture it is (a false-colour view of the scene).
    """
    colours = np.array([(0, 0, 0)] + list(palette), dtype=float) / 255
    cmap = ListedColormap(colours)
    k = len(class_names)
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    legend_in = 2.2  # room for the legend to the right of the panels
    fig, axes = plt.subplots(n_rows, n_cols, figsize=_capped(PANEL_INCHES * n_cols + legend_in, 4.6 if n_rows == 1 else 3.5 * n_rows),
                             squeeze=False)
    for i, row in enumerate(rows):
        for j, (name, img) in enumerate(row):
            if img.ndim == 3:
                axes[i, j].imshow(img, interpolation="nearest")
            else:
                # The class ids in the smallest integer type that holds them, coloured after resampling to the panel's
                # pixels ("data" stage): the same picture, without float64 RGBA copies of a large image (16 bytes a pixel).
                small = np.asarray(img).astype(np.min_scalar_type(max(k, int(np.max(img, initial=0)))), copy=False)
                axes[i, j].imshow(small, cmap=cmap, vmin=0, vmax=k, interpolation="nearest", interpolation_stage="data")
            axes[i, j].set_title(name, fontsize=9 if n_rows > 1 else None)
        for j in range(n_cols):
            axes[i, j].axis("off")  # also the unused cells of a short row
    handles = [Patch(color=colours[i + 1], label=f"{i + 1} {n}") for i, n in enumerate(class_names[:MAX_LEGEND_ENTRIES])]
    if k > MAX_LEGEND_ENTRIES:
        handles.append(Patch(color="none", label=f"... {k - MAX_LEGEND_ENTRIES} more classes"))
    if title:
        fig.suptitle(title)
    width = fig.get_size_inches()[0]
    fig.tight_layout(rect=(0, 0, 1 - legend_in / width * min(1.0, MAX_FIGURE_INCHES / width), 1))
    # The legend just right of the drawn panels (square images leave their cells' sides empty).
    for ax in axes.flat:
        ax.apply_aspect()
    right = max(ax.get_position().x1 for ax in axes.flat if ax.images)
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(right + 0.01, 0.5), fontsize=7, frameon=False)
    return fig


def false_colour(cube: np.ndarray, rgb_bands: tuple[int, int, int] | None = None) -> np.ndarray:
    """An ``(H, W, 3)`` picture in [0, 1] of an ``(H, W, B)`` cube: ``rgb_bands`` (0-based; the card's or the
    file's), else three bands spread over the spectrum (longest wavelengths red), each stretched between its
    2nd and 98th percentile so that a few bright pixels do not leave the rest dark."""
    b = cube.shape[2]
    bands = list(rgb_bands) if rgb_bands is not None else [round((b - 1) * f) for f in (0.8, 0.5, 0.2)]
    img = np.asarray(cube[:, :, bands], dtype=np.float32)  # a new array (list index): stretched in place, in float32
    lo, hi = np.percentile(img.reshape(-1, 3), [2, 98], axis=0).astype(np.float32)
    img -= lo
    img /= np.maximum(hi - lo, np.float32(1e-12))
    return np.clip(img, 0, 1, out=img)


def classification_map_figure(
    ground_truth: np.ndarray | None,
    predicted: np.ndarray,
    class_names: list[str],
    palette: list[tuple[int, int, int]],
    title: str = "",
    rgb: np.ndarray | None = None,
) -> Figure:
    """The scene in false colour (``rgb``, ``(H, W, 3)`` in [0, 1]), the ground truth and the prediction; the
    last two ``(H, W)`` with 0 = unlabeled / not predicted (black). No ground-truth panel without labels
    (None, or all 0), no picture without ``rgb``."""
    panels = [] if rgb is None else [("false colour", rgb)]
    if ground_truth is not None and ground_truth.any():
        panels.append(("ground truth", ground_truth))
    return label_panels_figure([panels + [("prediction", predicted)]], class_names, palette, title)


def volume_slices_figure(
    ground_truth: np.ndarray,
    predicted: np.ndarray,
    class_names: list[str],
    palette: list[tuple[int, int, int]],
    title: str = "",
) -> Figure:
    """Three orthogonal slices through the labeled region's centre: ground truth (top) and prediction (bottom).

    Both ``(D, H, W)`` with 0 = unlabeled / not predicted (black).
    """
    labeled = np.argwhere(ground_truth > 0)
    d, h, w = labeled.mean(0).round().astype(int) if len(labeled) else np.array(ground_truth.shape) // 2
    cuts = ((f"D = {d}", np.s_[d, :, :]), (f"H = {h}", np.s_[:, h, :]), (f"W = {w}", np.s_[:, :, w]))
    rows = [[(f"{what}, {name}", volume[cut]) for name, cut in cuts]
            for volume, what in ((ground_truth, "ground truth"), (predicted, "prediction"))]
    return label_panels_figure(rows, class_names, palette, title)


def _save(fig: Figure, array: np.ndarray, directory: str | Path, stem: str, array_stem: str) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png, npy = directory / f"{stem}.png", directory / f"{array_stem}.npy"
    fig.savefig(png, dpi=DPI)
    plt.close(fig)
    np.save(npy, array)
    return [png, npy]


def write_classification_map(
    directory: str | Path,
    ground_truth: np.ndarray | None,
    predicted: np.ndarray,
    class_names: list[str],
    palette: list[tuple[int, int, int]],
    title: str = "",
    label_ids: list[int] | None = None,
    rgb: np.ndarray | None = None,
) -> list[Path]:
    """Save the map as a PNG (palette, legend, beside the scene's false-colour picture ``rgb`` and the
    ground truth, when given) and as a ``.npy`` array.

    ``predicted`` is ``(H, W)`` with class ids 1..K (0 = not predicted). The array holds the data's
    own label values: ``label_ids[k - 1]`` for class k when the labels were renumbered. Returns both paths.
    """
    fig = classification_map_figure(ground_truth, predicted, class_names, palette, title, rgb)
    return _save(fig, label_values(predicted, label_ids), directory, "classification_map", "classification_map")


def write_volume_slices(
    directory: str | Path,
    ground_truth: np.ndarray,
    predicted: np.ndarray,
    class_names: list[str],
    palette: list[tuple[int, int, int]],
    title: str = "",
    label_ids: list[int] | None = None,
) -> list[Path]:
    """Save the predicted label volume ``(D, H, W)`` as ``.npy`` (in the data's own label values, as
    :func:`write_classification_map`) and its orthogonal slices as a PNG."""
    fig = volume_slices_figure(ground_truth, predicted, class_names, palette, title)
    return _save(fig, label_values(predicted, label_ids), directory, "label_volume_slices", "predicted_label_volume")
