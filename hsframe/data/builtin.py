"""Built-in datasets, registered through the same hook as any plugin's."""
from __future__ import annotations

from hsframe.data.scene import Scene
from hsframe.data.series import FrameSeries
from hsframe.data.volumes import VolumeSet
from hsframe.hookspecs import hookimpl
from hsframe.registry import DatasetSpec


def _synthetic_pines(seed: int = 0) -> Scene:
    from hsframe.data.synthetic import synthetic_pines

    return synthetic_pines(seed)


def _synthetic_volumes(seed: int = 0, n: int = 600, size: int = 24) -> VolumeSet:
    from hsframe.data.synthetic_volumes import synthetic_volumes

    return synthetic_volumes(seed, n=n, size=size)


def _synthetic_sequences(seed: int = 0, segments: int = 300, segment_length: int = 16, size: int = 32) -> FrameSeries:
    from hsframe.data.synthetic_sequences import synthetic_sequences

    return synthetic_sequences(seed, segments=segments, segment_length=segment_length, size=size)


@hookimpl
def register_datasets(register) -> None:
    register(
        DatasetSpec(
            name="synthetic-pines",
            load=_synthetic_pines,
            kind="hsi",
            description="Embedded Indian Pines-style scene (145x145x200, 16 classes), generated from the seed.",
        )
    )
    register(
        DatasetSpec(
            name="synthetic-volumes",
            load=_synthetic_volumes,
            kind="volume",
            description=(
                "Embedded 3-D shapes (600 volumes 1x24x24x24, randomly posed; 6 classes: sphere, cube, "
                "cylinder, cone, torus, hollow sphere), generated from the seed."
            ),
            defaults={"split.train_fraction": 0.5, "split.val_fraction": 0.2},
        )
    )
    register(
        DatasetSpec(
            name="synthetic-sequences",
            load=_synthetic_sequences,
            kind="sequence",
            description=(
                "Embedded motion series (4800 frames 32x32x1, 16-frame segments; 4 classes: moving right, "
                "left, down, up), generated from the seed."
            ),
            # Windows of 8 frames every 4 overlap only their neighbour: a 1-window margin between
            # blocks of 16 windows keeps test windows free of training frames.
            defaults={
                "data.window": 8,
                "data.stride": 4,
                "split.method": "blocks",
                "split.block_size": 16,
                "split.margin": 1,
                "split.train_fraction": 0.5,
                "split.val_fraction": 0.2,
            },
        )
    )
