"""Figures logged with every run: confusion matrix and classification map."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: runs happen in terminals and CI
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch


def confusion_figure(cm: np.ndarray, class_names: list[str]) -> Figure:
    """Row-normalized confusion matrix (recall per true class), counts in the cells when few classes."""
    k = len(class_names)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = cm / cm.sum(1, keepdims=True)
    size = max(5.0, 0.45 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(np.nan_to_num(norm), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), class_names, rotation=90, fontsize=7)
    ax.set_yticks(range(k), class_names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=5,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of true class")
    fig.tight_layout()
    return fig


def classification_map_figure(
    ground_truth: np.ndarray,
    predicted: np.ndarray,
    class_names: list[str],
    palette: list[tuple[int, int, int]],
    title: str = "",
) -> Figure:
    """Ground truth beside the prediction; both ``(H, W)`` with 0 = unlabeled / not predicted (black)."""
    colours = np.array([(0, 0, 0)] + list(palette), dtype=float) / 255
    cmap = ListedColormap(colours)
    k = len(class_names)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    for ax, img, name in zip(axes, (ground_truth, predicted), ("ground truth", "prediction")):
        ax.imshow(img, cmap=cmap, vmin=0, vmax=k, interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    handles = [Patch(color=colours[i + 1], label=f"{i + 1} {n}") for i, n in enumerate(class_names)]
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    return fig


def write_classification_map(
    directory: str | Path,
    ground_truth: np.ndarray,
    predicted: np.ndarray,
    class_names: list[str],
    palette: list[tuple[int, int, int]],
    title: str = "",
) -> list[Path]:
    """Save the map as a PNG (palette, legend, beside the ground truth) and as a ``.npy`` array.

    ``predicted`` is ``(H, W)`` with class ids 1..K (0 = not predicted). Returns both paths.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png, npy = directory / "classification_map.png", directory / "classification_map.npy"
    fig = classification_map_figure(ground_truth, predicted, class_names, palette, title)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    np.save(npy, predicted)
    return [png, npy]
