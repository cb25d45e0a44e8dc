"""Built-in datasets, registered through the same hook as any plugin's."""
from __future__ import annotations

from hsframe.data.scene import Scene
from hsframe.hookspecs import hookimpl
from hsframe.registry import DatasetSpec


def _synthetic_pines(seed: int = 0) -> Scene:
    from hsframe.data.synthetic import synthetic_pines

    return synthetic_pines(seed)


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
