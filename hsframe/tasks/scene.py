"""The hyperspectral scene: ``p x p`` patches around labeled pixels of PCA features, and a classification map."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hsframe.config import RunConfig
from hsframe.data.scene import Scene
from hsframe.errors import HsframeError
from hsframe.registry import InputSpec
from hsframe.splits.base import SplitGrid
from hsframe.tasks.base import Samples, Task, TaskSplit, task_for, to_label_value

if TYPE_CHECKING:
    import torch

    from hsframe.data.patches import PatchSource
    from hsframe.recording import Recorder

# Above this share of the cube's values replaced by data.nan_fill, the run warns: it learns mostly the fill value.
NAN_WARN_FRACTION = 0.5
# The fitted features of a run (safetensors, no pickle), under preprocess/: `hsframe predict` redoes them.
PREPROCESSOR_FILE = "preprocessor.safetensors"


def feature_bands(cfg: RunConfig, scene: Scene) -> int:
    """How many bands the model sees: PCA components, or the bands left after removal."""
    return band_count(cfg, scene.shape[2], scene.name)


def band_count(cfg: RunConfig, bands: int, name: str) -> int:
    """How many of ``bands`` the model sees (PCA components, or the bands left after removal) for dataset ``name``."""
    from hsframe.data.preprocess import parse_band_list

    kept = bands - len(parse_band_list(cfg.data.remove_bands, bands))
    if kept < 1:
        raise HsframeError(f"data.remove_bands removes all {bands} bands of '{name}'")
    k = cfg.data.pca_components
    if k is not None and k > kept:
        raise HsframeError(f"data.pca_components {k} is more than the {kept} bands of '{name}'; use at most {kept}")
    return k or kept


@task_for(Scene)
class SceneTask(Task):
    """Every labeled pixel a sample: a ``(1, K, p, p)`` patch of the K feature bands around it.

    The split is drawn over the ``(H, W)`` label map; a patch reads the pixels of its ``p x p``
    window (the leakage window). Features (band removal, PCA, scaling) are fitted on the training
    pixels, unless ``data.pca_fit=all`` reproduces papers that fit on the whole image.
    """

    data_kind = "hsi"
    sampling = "pixel-patches"
    unit = "pixels"

    def __init__(self, cfg: RunConfig, data: Scene) -> None:
        super().__init__(cfg, data)
        h, w, _ = data.shape
        p = cfg.data.patch_size
        if p > min(h, w):
            raise HsframeError(f"data.patch_size {p} is larger than the image ({h}x{w}); use a patch of at most "
                               f"{(min(h, w) - 1) // 2 * 2 + 1}")
        self.labels = data.labels.reshape(-1).astype(np.int64, copy=False)  # a view of int64 labels: no second H x W copy
        self.grid = SplitGrid(data.labels, data.class_names, (p, p), unit="pixels")
        self.input_spec = InputSpec(1, feature_bands(cfg, data), p, p, data.num_classes)

    def describe(self) -> str:
        return str(self.data.shape)

    @property
    def nan_replaced(self) -> tuple[int, float]:
        """How many cube values ``data.nan_fill`` replaced, and their share of the cube."""
        n = int(self.data.nonfinite_replaced)
        return n, n / max(self.data.cube.size, 1)

    def notices(self) -> list[str]:
        n, share = self.nan_replaced
        warn = []
        if share > NAN_WARN_FRACTION:
            warn = [f"warning: {share:.1%} of the cube's values ({n:,} of {self.data.cube.size:,}) were NaN/Inf, replaced by "
                    f"data.nan_fill={self.cfg.data.nan_fill:g}: the model mostly sees the fill value"]
        return warn + list(self.data.notes) + super().notices()

    def record_data(self, recorder: "Recorder") -> None:
        super().record_data(recorder)
        n, share = self.nan_replaced
        recorder.log_metrics({"data_nan_replaced": float(n), "data_nan_replaced_fraction": share})

    def params(self) -> dict[str, Any]:
        h, w, b = self.data.shape
        d = self.cfg.data
        return {"data_kind": self.data_kind, "sampling": self.sampling, "dataset_shape": f"{h}x{w}x{b}",
                "patch_size": d.patch_size, "pca_components": d.pca_components, "pca_fit": d.pca_fit}

    @property
    def features_fit_on(self) -> str:
        return "train" if self.cfg.data.pca_fit == "train" else "all"

    def fit_samples(self, train: np.ndarray, device: "torch.device", recorder: "Recorder") -> Samples:
        from hsframe.data.lazy_cube import fit_pixels as pixels_to_fit
        from hsframe.data.patches import PatchSource
        from hsframe.data.preprocess import fit_preprocessor, parse_band_list
        from hsframe.data.value_range import ValueRange

        d, scene = self.cfg.data, self.data
        b = scene.shape[2]
        # An out-of-core cube gives at most FIT_PIXELS of them (seeded), read block by block.
        fit_pixels = pixels_to_fit(scene.cube, train if d.pca_fit == "train" else None, self.cfg.seed)
        pre = fit_preprocessor(fit_pixels, d.pca_components, d.standardize, device,
                               remove_bands=parse_band_list(d.remove_bands, b), band_standardize=d.band_standardize,
                               whiten=d.whiten)
        features = pre.transform(scene.cube, device)
        with tempfile.TemporaryDirectory() as tmp:  # what `hsframe predict` needs to redo these features
            pre.save(Path(tmp) / PREPROCESSOR_FILE)
            recorder.log_file(Path(tmp) / PREPROCESSOR_FILE, "preprocess")
        # What `hsframe predict` checks a scene against (value range of the pixels the features were fitted on)
        # and where the scene lies on the ground (None: its file does not say).
        recorder.log_dict({"dataset": scene.name, "bands": b, "shape": list(scene.shape), "class_names": scene.class_names,
                           "palette": [list(c) for c in scene.palette], "label_ids": scene.original_ids,
                           "value_range": ValueRange.of(fit_pixels).to_json(),
                           "georef": None if scene.georef is None else scene.georef.to_json()}, "preprocess/scene.json")
        return SceneSamples.of(PatchSource(features, d.patch_size, d.padding), pre.metrics(), self.cfg)

    def inference_index(self, split: TaskSplit) -> np.ndarray:
        # One inference pass serves both the test metrics and the full-scene map.
        return np.arange(self.labels.size) if self.cfg.eval.full_map else split.samples.test

    def record_outputs(self, recorder: "Recorder", split: TaskSplit, index: np.ndarray, pred: np.ndarray,
                       caption: str, metrics: dict[str, float]) -> dict[str, float]:
        from hsframe.figures import false_colour, write_classification_map

        scene = self.data
        shown = to_label_value(self.by_sample(index, pred))
        if not self.cfg.eval.full_map:
            shown = np.where(self.labels > 0, shown, 0)
        self.record_map(recorder, lambda folder: write_classification_map(
            folder, scene.labels, shown.reshape(scene.labels.shape), scene.class_names, scene.palette,
            f"{caption}: OA {metrics['test_oa']:.4f}", label_ids=self.label_ids, rgb=false_colour(scene.cube, scene.rgb_bands)))
        return {}


@dataclass
class SceneSamples(Samples):
    """Patches of a ``(K, H, W)`` feature cube; a model with ``scene_forward`` infers the whole scene at once."""

    features: Any = None
    cfg: RunConfig | None = None

    @classmethod
    def of(cls, source: "PatchSource", metrics: dict[str, float], cfg: RunConfig) -> "SceneSamples":
        """Samples of ``source``'s cube, held once: ``features`` is the unpadded ``(K, H, W)`` interior of
        ``source.padded`` (a view, the same values), not a second H x W x K copy beside the padded one."""
        r = source.size // 2
        return cls(source, metrics, source.padded[:, r : r + source.height, r : r + source.width], cfg)

    def infer(self, model: Any, index: np.ndarray, batch_size: int, device: "torch.device", amp: bool) -> tuple[np.ndarray, str]:
        return infer_scene_pixels(model, self.features, self.cfg, device, index, source=self.source)


def infer_scene_pixels(model: Any, features: Any, cfg: RunConfig, device: Any, index: np.ndarray | None = None,
                       note: Any = None, source: "PatchSource | None" = None) -> tuple[np.ndarray, str]:
    """0-based classes of the pixels at ``index`` (default: every pixel) of a ``(K, H, W)`` feature cube.

    A model with ``scene_forward`` computes the whole scene fully convolutionally in tiles (cheaper
    than a fraction of its pixels patch by patch); any other model goes patch by patch over
    ``index`` only (all pixels when ``index`` is None, after ``note`` says why it is slow), reading
    its patches from ``source`` when given (the training's: no second padded copy of the cube).
    """
    from hsframe.data.patches import PatchSource
    from hsframe.inference import has_scene_forward, infer_samples, infer_scene

    p, pad, amp, bs = cfg.data.patch_size, cfg.data.padding, cfg.train.amp, cfg.eval.batch_size
    if index is None or has_scene_forward(model):
        full = infer_scene(model, features, p, pad, device, amp, tile=cfg.eval.tile, batch_size=bs, log=note)
        full = full.reshape(-1).numpy()
        how = "scene_forward (tiled)" if has_scene_forward(model) else "patch by patch"
        return (full if index is None else full[index]), how
    return infer_samples(model, source or PatchSource(features, p, pad), index, bs, device, amp), "patch by patch"


def scene_probabilities(model: Any, features: Any, cfg: RunConfig, device: Any, note: Any = None) -> tuple[np.ndarray, str]:
    """``(K_classes, H, W)`` float32 softmax of the model's logits at every pixel of a ``(K, H, W)`` feature cube,
    computed as :func:`infer_scene_pixels` computes the classes (their argmax)."""
    import torch

    from hsframe.inference import has_scene_forward, scene_logits

    p, pad, amp, bs = cfg.data.patch_size, cfg.data.padding, cfg.train.amp, cfg.eval.batch_size
    logits = scene_logits(model, features, p, pad, device, amp, tile=cfg.eval.tile, batch_size=bs, log=note)
    how = "scene_forward (tiled)" if has_scene_forward(model) else "patch by patch"
    return torch.softmax(logits, 0).numpy(), how
