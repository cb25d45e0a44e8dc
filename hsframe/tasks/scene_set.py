"""A scene set: patches around labeled pixels of many tiles, each tile padded on its own, and a map per tile.

The tiles are laid out on one canvas, each in a cell with a margin of ``p // 2`` on every side
that holds the tile's own padding (zeros, or its reflection with ``data.padding=reflect``). A
patch of a tile's pixel therefore reads exactly what it would read from that tile alone, never a
neighbouring tile, and the tiles of the canvas are ``p`` pixels apart: the split methods and the
leakage report work on the canvas unchanged, and a training window never reaches another tile.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hsframe.config import RunConfig
from hsframe.data.scene_set import SceneSet
from hsframe.errors import HsframeError
from hsframe.registry import InputSpec
from hsframe.splits.base import SplitGrid
from hsframe.tasks.base import Samples, Task, TaskSplit, task_for, to_label_value
from hsframe.tasks.scene import PREPROCESSOR_FILE, SceneSamples, band_count

if TYPE_CHECKING:
    import torch

    from hsframe.recording import Recorder


def mosaic_layout(shapes: list[tuple[int, int]], margin: int) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Where each tile's pixel (0, 0) goes on a canvas of cells ``margin`` wide around every tile, and the canvas size.

    Tiles fill rows of ``ceil(sqrt(n))`` cells; a column is as wide as its widest tile, a row as tall as its tallest.
    """
    cols = math.ceil(math.sqrt(len(shapes)))
    col_w = [0] * cols
    row_h = [0] * math.ceil(len(shapes) / cols)
    for i, (h, w) in enumerate(shapes):
        row_h[i // cols] = max(row_h[i // cols], h + 2 * margin)
        col_w[i % cols] = max(col_w[i % cols], w + 2 * margin)
    x0 = np.concatenate([[0], np.cumsum(col_w)])
    y0 = np.concatenate([[0], np.cumsum(row_h)])
    origins = [(int(y0[i // cols]) + margin, int(x0[i % cols]) + margin) for i in range(len(shapes))]
    return origins, (int(y0[-1]), int(x0[-1]))


@task_for(SceneSet)
class SceneSetTask(Task):
    """Every labeled pixel of every tile a sample: a ``(1, K, p, p)`` patch of its own tile's features.

    Features (band removal, PCA, scaling) are fitted on the training pixels only, so with a
    per-file split on the training tiles only.
    """

    data_kind = "hsi"
    sampling = "pixel-patches"
    unit = "pixels"

    def __init__(self, cfg: RunConfig, data: SceneSet) -> None:
        super().__init__(cfg, data)
        p = cfg.data.patch_size
        smallest = min(range(len(data.tiles)), key=lambda i: min(data.tiles[i].shape[:2]))
        h, w, _ = data.tiles[smallest].shape
        if p > min(h, w):
            raise HsframeError(f"data.patch_size {p} is larger than tile {data.tiles[smallest].name} ({h}x{w}); use a patch "
                               f"of at most {(min(h, w) - 1) // 2 * 2 + 1}")
        self.margin = p // 2
        self.origins, canvas_shape = mosaic_layout([t.shape[:2] for t in data.tiles], self.margin)
        canvas = np.zeros(canvas_shape, np.int64)
        groups = np.full(canvas_shape, -1, np.int64)
        where = []  # the canvas index of every pixel of the set, in the set's order (tile by tile, row-major)
        for i, (tile, (y, x)) in enumerate(zip(data.tiles, self.origins)):
            th, tw, _ = tile.shape
            canvas[y : y + th, x : x + tw] = data.tile_labels(i)
            groups[y : y + th, x : x + tw] = i
            where.append(np.ravel_multi_index(np.mgrid[y : y + th, x : x + tw].reshape(2, -1), canvas_shape))
        self.canvas_index = np.concatenate(where)
        self.labels = canvas.reshape(-1)
        self.grid = SplitGrid(canvas, data.class_names, (p, p), unit="pixels", groups=groups,
                              group_names=tuple(data.tile_names), group_subsets=dict(data.subsets) or None)
        self.input_spec = InputSpec(1, band_count(cfg, data.bands, data.name), p, p, data.num_classes)

    def describe(self) -> str:
        return self.data.describe()

    def notices(self) -> list[str]:
        return list(self.data.notes) + super().notices()

    def params(self) -> dict[str, Any]:
        d = self.cfg.data
        return {"data_kind": self.data_kind, "sampling": self.sampling, "dataset_shape": self.describe()[:250],
                "tiles": len(self.data.tiles), "patch_size": d.patch_size, "pca_components": d.pca_components, "pca_fit": d.pca_fit}

    @property
    def features_fit_on(self) -> str:
        return "train" if self.cfg.data.pca_fit == "train" else "all"

    def tile_of(self, canvas_index: np.ndarray) -> np.ndarray:
        """The tile of each canvas index (-1 in the gaps)."""
        return self.grid.groups.reshape(-1)[canvas_index]

    def fit_samples(self, train: np.ndarray, device: "torch.device", recorder: "Recorder") -> Samples:
        import torch
        import torch.nn.functional as F

        from hsframe.data.patches import PatchSource
        from hsframe.data.preprocess import fit_preprocessor, parse_band_list

        d, data = self.cfg.data, self.data
        b = data.bands
        pixels = np.concatenate([t.cube.reshape(-1, b) for t in data.tiles])
        if d.pca_fit == "train":
            position = np.full(self.labels.size, -1, np.int64)
            position[self.canvas_index] = np.arange(len(self.canvas_index))
            pixels = pixels[position[train]]  # the training pixels of the training tiles, nothing else
        pre = fit_preprocessor(pixels, d.pca_components, d.standardize, device, remove_bands=parse_band_list(d.remove_bands, b),
                               band_standardize=d.band_standardize, whiten=d.whiten)
        k = self.input_spec.depth
        features = torch.zeros((k, *self.grid.labels.shape), device=device)
        r, mode = self.margin, "constant" if d.padding == "zero" else "reflect"
        for tile, (y, x) in zip(data.tiles, self.origins):
            th, tw, _ = tile.shape
            own = F.pad(pre.transform(tile.cube, device).unsqueeze(0), (r, r, r, r), mode=mode).squeeze(0)
            features[:, y - r : y + th + r, x - r : x + tw + r] = own  # the tile with its own padding, in its cell
        with tempfile.TemporaryDirectory() as tmp:  # what `hsframe predict` needs to redo these features on one tile
            pre.save(Path(tmp) / PREPROCESSOR_FILE)
            recorder.log_file(Path(tmp) / PREPROCESSOR_FILE, "preprocess")
        recorder.log_dict({"dataset": data.name, "bands": b, "class_names": data.class_names, "tiles": data.tile_names,
                           "palette": [list(c) for c in data.palette], "label_ids": data.original_ids}, "preprocess/scene.json")
        return SceneSamples.of(PatchSource(features, d.patch_size, "zero"), pre.metrics(), self.cfg)

    def inference_index(self, split: TaskSplit) -> np.ndarray:
        # Every pixel of every tile (not the gaps between them) for the maps, else the test pixels.
        return np.sort(self.canvas_index) if self.cfg.eval.full_map else split.samples.test

    def record_outputs(self, recorder: "Recorder", split: TaskSplit, index: np.ndarray, pred: np.ndarray,
                       caption: str, metrics: dict[str, float]) -> dict[str, float]:
        """One classification map per tile (figure and array, named after the tile), and the tiles' table."""
        from hsframe.figures import write_classification_map

        data = self.data
        shown = to_label_value(self.by_sample(index, pred))
        if not self.cfg.eval.full_map:
            shown = np.where(self.labels > 0, shown, 0)
        subset_of = np.zeros(self.labels.size, "<U5")
        for name in ("train", "val", "test"):
            subset_of[getattr(split.grid, name)] = name
        rows = ["tile,subset,train,val,test"]
        for i, (tile, (y, x)) in enumerate(zip(data.tiles, self.origins)):
            th, tw, _ = tile.shape
            cells = np.ravel_multi_index(np.mgrid[y : y + th, x : x + tw].reshape(2, -1), self.grid.labels.shape)
            n = {s: int((subset_of[cells] == s).sum()) for s in ("train", "val", "test")}
            rows.append(f"{tile.name},{data.subsets.get(tile.name, '')},{n['train']},{n['val']},{n['test']}")
            stem = Path(tile.name).stem
            with tempfile.TemporaryDirectory() as tmp:
                png, npy = write_classification_map(tmp, data.tile_labels(i), shown[cells].reshape(th, tw), data.class_names,
                                                    data.palette, f"{caption}, {tile.name}: test OA {metrics['test_oa']:.4f} (all tiles)",
                                                    label_ids=self.label_ids)
                recorder.log_file(png, f"figures/tiles/{stem}")
                recorder.log_file(npy, f"predictions/tiles/{stem}")
        recorder.log_text("\n".join(rows) + "\n", "predictions/tiles.csv")
        return {}
