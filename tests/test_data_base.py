"""The four data containers share LabeledData: class count, default palette, one class-id check."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from hsframe.data.base import LabeledData, default_palette
from hsframe.data.scene import Scene
from hsframe.data.scene import default_palette as scene_default_palette
from hsframe.data.series import FrameSeries
from hsframe.data.volumes import ArrayVolumes, LabeledVolume, VolumeSet
from hsframe.errors import HsframeError

NAMES = ["a", "b", "c"]


def _scene(labels: np.ndarray) -> Scene:  # labels (4, 5)
    return Scene("s", np.zeros((4, 5, 2), np.float32), labels, NAMES)


def _volume_set(labels: np.ndarray) -> VolumeSet:  # labels (20,)
    return VolumeSet("vs", ArrayVolumes(np.zeros((labels.size, 1, 2, 2, 2), np.float32)), labels.reshape(-1), NAMES)


def _labeled_volume(labels: np.ndarray) -> LabeledVolume:  # labels (4, 5) -> (1, 4, 5)
    return LabeledVolume("lv", np.zeros((1, 1, 4, 5), np.float32), labels[None], NAMES)


def _series(labels: np.ndarray) -> FrameSeries:  # per-pixel labels (4, 5)
    return FrameSeries("fs", np.zeros((3, 4, 5, 1), np.float32), labels, NAMES)


MAKERS: list[Callable[[np.ndarray], LabeledData]] = [_scene, _volume_set, _labeled_volume, _series]


def _labels(top: int = 3) -> np.ndarray:
    """(4, 5) ids 0..top."""
    return (np.arange(20, dtype=np.int64) % (top + 1)).reshape(4, 5)


@pytest.mark.parametrize("make", MAKERS)
def test_containers_share_the_base(make: Callable[[np.ndarray], LabeledData]) -> None:
    data = make(_labels())
    assert isinstance(data, LabeledData)
    assert data.num_classes == 3
    assert data.palette == default_palette(3)


@pytest.mark.parametrize("make", MAKERS)
def test_given_palette_is_kept(make: Callable[[np.ndarray], LabeledData]) -> None:
    data = make(_labels())
    data2 = type(data)(**{**vars(data), "palette": [(1, 2, 3)] * 3})  # keyword construction with every field
    assert data2.palette == [(1, 2, 3)] * 3


@pytest.mark.parametrize("make", MAKERS)
def test_class_ids_above_k_are_refused_by_name(make: Callable[[np.ndarray], LabeledData]) -> None:
    labels = _labels()
    labels[0, 0], labels[1, 1] = 5, 7
    with pytest.raises(HsframeError, match=r"labels hold class ids 1, 2, 3, 5, 7 \(5 ids\), but 3 class names were given"):
        make(labels)


@pytest.mark.parametrize("make", MAKERS)
def test_negative_ids_are_refused(make: Callable[[np.ndarray], LabeledData]) -> None:
    labels = _labels()
    labels[2, 2] = -1
    with pytest.raises(HsframeError, match=r"negative class ids -1; ids must be >= 0"):
        make(labels)


def test_default_palette_still_importable_from_scene() -> None:
    assert scene_default_palette is default_palette
    assert len(default_palette(45)) == 45  # more than the 40 colours of tab20 + tab20b
