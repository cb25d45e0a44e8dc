"""hsframe plugin: published hyperspectral baselines, implemented from their papers.

Registers ``hu_cnn1d``, ``hamida_3dcnn``, ``li_3dcnn``, ``chen_3dcnn``, ``he_m3dcnn``, ``lee_contextual``,
``luo_hsicnn``, ``sharma_hscnn``, ``mou_rnn``, ``spectralformer`` and ``ssftt`` (torch modules), and the
scikit-learn estimators ``svm_rbf`` and ``random_forest``. One module per family (``cnn1d``, ``cnn3d``,
``hybrid``, ``rnn``, ``transformers``, ``classical``; shared layers in ``layers``); torch and
scikit-learn are imported only inside each ``build_*``, so listing plugins stays fast.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from hsframe import EstimatorSpec, InputSpec, ModelSpec, hookimpl
from hsframe_zoo.classical import SVM_SEARCH, build_random_forest, build_svm_rbf

if TYPE_CHECKING:  # keep torch out of import time
    import torch.nn as nn

HSFRAME_PLUGIN_API = 1

# Training settings shared by every zoo model so their runs line up in MLflow; each model adds its input.
TRAIN_DEFAULTS: dict[str, Any] = {"train.epochs": 20, "train.batch_size": 64, "train.optimizer": "adam", "train.lr": 1e-3}


def _patch(spec: InputSpec) -> tuple[int, int]:
    return (spec.height, spec.width)


def build_hu_cnn1d(spec: InputSpec, filters: int = 20, hidden: int = 100) -> "nn.Module":
    from hsframe_zoo.cnn1d import HuCNN1D

    return HuCNN1D(spec.channels * spec.depth, spec.num_classes, patch_size=spec.height, filters=filters, hidden=hidden)


def build_hamida_3dcnn(spec: InputSpec) -> "nn.Module":
    from hsframe_zoo.cnn3d import HamidaCNN3D

    return HamidaCNN3D(spec.channels, spec.depth, _patch(spec), spec.num_classes)


def build_li_3dcnn(spec: InputSpec, planes: int = 2) -> "nn.Module":
    from hsframe_zoo.cnn3d import LiCNN3D

    return LiCNN3D(spec.channels, spec.depth, _patch(spec), spec.num_classes, planes=planes)


def build_chen_3dcnn(spec: InputSpec, widths: Sequence[int] = (128, 192, 256), dropout: float = 0.5) -> "nn.Module":
    from hsframe_zoo.cnn3d import ChenCNN3D

    return ChenCNN3D(spec.channels, spec.depth, _patch(spec), spec.num_classes, widths=widths, dropout=dropout)


def build_he_m3dcnn(spec: InputSpec, dropout: float = 0.6) -> "nn.Module":
    from hsframe_zoo.cnn3d import HeM3DCNN

    return HeM3DCNN(spec.channels, spec.depth, _patch(spec), spec.num_classes, dropout=dropout)


def build_lee_contextual(spec: InputSpec, width: int = 128, dropout: float = 0.5) -> "nn.Module":
    from hsframe_zoo.hybrid import LeeContextualCNN

    return LeeContextualCNN(spec.channels, spec.depth, _patch(spec), spec.num_classes, width=width, dropout=dropout)


def build_luo_hsicnn(spec: InputSpec, planes: int = 90, hidden: int = 1024) -> "nn.Module":
    from hsframe_zoo.hybrid import LuoHSICNN

    return LuoHSICNN(spec.channels, spec.depth, _patch(spec), spec.num_classes, planes=planes, hidden=hidden)


def build_sharma_hscnn(spec: InputSpec, hidden: int = 1024, dropout: float = 0.5) -> "nn.Module":
    from hsframe_zoo.hybrid import SharmaHSCNN

    return SharmaHSCNN(spec.channels, spec.depth, _patch(spec), spec.num_classes, hidden=hidden, dropout=dropout)


def build_mou_rnn(spec: InputSpec, hidden: int = 64) -> "nn.Module":
    from hsframe_zoo.rnn import MouRNN

    return MouRNN(spec.channels * spec.depth, spec.num_classes, patch_size=spec.height, hidden=hidden)


def build_spectralformer(spec: InputSpec, dim: int = 64, depth: int = 5, heads: int = 4, dim_head: int = 16,
                         mlp_dim: int = 8, band_group: int = 3, dropout: float = 0.1, caf: bool = True) -> "nn.Module":
    from hsframe_zoo.transformers import SpectralFormer

    return SpectralFormer(spec.channels * spec.depth, _patch(spec), spec.num_classes, dim=dim, depth=depth, heads=heads,
                          dim_head=dim_head, mlp_dim=mlp_dim, band_group=band_group, dropout=dropout, emb_dropout=dropout, caf=caf)


def build_ssftt(spec: InputSpec, dim: int = 64, num_tokens: int = 4, depth: int = 1, heads: int = 8, mlp_dim: int = 8,
                dropout: float = 0.1) -> "nn.Module":
    from hsframe_zoo.transformers import SSFTT

    return SSFTT(spec.channels, spec.depth, _patch(spec), spec.num_classes, dim=dim, num_tokens=num_tokens, depth=depth,
                 heads=heads, mlp_dim=mlp_dim, dropout=dropout, emb_dropout=dropout)


@dataclass(frozen=True)
class ZooModel:
    """One entry: its build(), the paper (the one line `hsframe plugins` shows) and the input it defaults to."""

    build: Callable[..., "nn.Module"]
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)

    def all_defaults(self) -> dict[str, Any]:
        return {**TRAIN_DEFAULTS, **self.defaults}


RAW = {"data.pca_components": None}  # every band, as these papers feed them

MODELS: dict[str, ZooModel] = {
    "hu_cnn1d": ZooModel(build_hu_cnn1d, "Hu et al., 2015: 1-D spectral CNN (conv, max pool, dense; tanh)",
                         {"data.patch_size": 1, **RAW}),
    "hamida_3dcnn": ZooModel(build_hamida_3dcnn, "Ben Hamida et al., 2018: 3-D CNN with strided spectral pooling convs",
                             {"data.patch_size": 5, **RAW}),
    "li_3dcnn": ZooModel(build_li_3dcnn, "Li et al., 2017: two-layer 3-D CNN (2@7x3x3, 4@3x3x3)",
                         {"data.patch_size": 5, **RAW}),
    "chen_3dcnn": ZooModel(build_chen_3dcnn, "Chen et al., 2016: 3-D CNN, three 32-band-deep convs with 2x2 pooling",
                           # CPU-sized: the paper's widths 128/192/256 on every band cost ~100 GMAC per patch. At
                           # widths 8, Adam at 1e-3 turned off every ReLU of conv2 on a toy batch; 3e-4 fits it.
                           {"data.patch_size": 27, "data.pca_components": 100, "model_options.widths": [8, 8, 8],
                            "eval.full_map": False, "train.lr": 3e-4}),
    "he_m3dcnn": ZooModel(build_he_m3dcnn, "He et al., 2017: multi-scale 3-D CNN (M3D-DCNN)",
                          {"data.patch_size": 7, **RAW}),
    "lee_contextual": ZooModel(build_lee_contextual, "Lee & Kwon, 2017: contextual deep CNN (multi-scale filter bank, residual 1x1 convs)",
                               {"data.patch_size": 5, **RAW}),
    "luo_hsicnn": ZooModel(build_luo_hsicnn, "Luo et al., 2018: HSI-CNN (3-D conv, rows reshaped to a 2-D map, 2-D conv)",
                           {"data.patch_size": 3, "data.pca_components": 51}),
    "sharma_hscnn": ZooModel(build_sharma_hscnn, "Sharma et al., 2016: HS-CNN (band-deep conv, 2-D convs, dense 1024)",
                             {"data.patch_size": 65, "data.pca_components": 30, "eval.full_map": False}),
    "mou_rnn": ZooModel(build_mou_rnn, "Mou et al., 2017: spectral GRU with PRetanh",
                        {"data.patch_size": 1, **RAW}),
    "spectralformer": ZooModel(build_spectralformer, "Hong et al., 2021: SpectralFormer (group-wise spectral embedding, CAF skips)",
                               {"data.patch_size": 7, **RAW, "train.lr": 5e-4, "train.weight_decay": 5e-3}),
    "ssftt": ZooModel(build_ssftt, "Sun et al., 2022: SSFTT (3-D + 2-D conv, Gaussian-weighted tokenizer, transformer)",
                      {"data.patch_size": 13, "data.pca_components": 30}),
}


SPECTRA = {"data.patch_size": 1, **RAW}  # the classical baselines read each pixel's spectrum

ESTIMATORS: dict[str, EstimatorSpec] = {
    "svm_rbf": EstimatorSpec(name="svm_rbf", build=build_svm_rbf, defaults=SPECTRA, search=SVM_SEARCH,
                             description="Melgani & Bruzzone, 2004: SVM, RBF kernel, C and gamma by a grid on validation pixels"),
    # A random forest's trees are skops' sklearn.tree._tree.Tree, which skops does not trust by default
    # (raw node indices); this package vouches for the type so its own runs can be read back.
    "random_forest": EstimatorSpec(name="random_forest", build=build_random_forest, defaults=SPECTRA,
                                   trusted_types=("sklearn.tree._tree.Tree",),
                                   description="Ham et al., 2005: random forest (Breiman, 2001) of 200 trees on spectra"),
}


@hookimpl
def register_models(register) -> None:
    for name, model in MODELS.items():
        register(ModelSpec(name=name, build=model.build, defaults=model.all_defaults(), data_kinds=("hsi",),
                           description=model.description))
    for spec in ESTIMATORS.values():
        register(spec)
