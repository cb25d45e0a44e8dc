"""hsframe plugin: HybridSN. Torch is imported only when a model is built, so listing plugins stays fast."""
from __future__ import annotations

from hsframe import InputSpec, ModelSpec, hookimpl

HSFRAME_PLUGIN_API = 1

# CPU-friendly defaults: a 2-core laptop trains the default scene in about a minute.
# `--preset paper` restores the published recipe (25x25 patches, 30 components, 100 epochs).
DEFAULTS = {
    "data.patch_size": 15,
    "data.pca_components": 15,
    "train.epochs": 20,
    "train.batch_size": 64,
    "train.optimizer": "adam",
    "train.lr": 1e-3,
}


def build(spec: InputSpec, dropout: float = 0.4):
    from hsframe_hybridsn.model import HybridSN

    return HybridSN(
        in_channels=spec.channels,
        bands=spec.depth,
        patch_size=(spec.height, spec.width),
        num_classes=spec.num_classes,
        dropout=dropout,
    )


@hookimpl
def register_models(register) -> None:
    register(
        ModelSpec(
            name="hybridsn",
            build=build,
            defaults=DEFAULTS,
            data_kinds=("hsi",),
            description="HybridSN: Conv3D x3 then Conv2D, dense head (Roy et al., 2019)",
        )
    )
