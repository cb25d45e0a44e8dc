"""The volume and time-series readers on real files from ../shared/datasets (skipped without it)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED

from hsframe.data.series import FrameSeries
from hsframe.data.volume_readers import open_frame_series, open_labeled_volume
from hsframe.data.volumes import LabeledVolume

NDVI = SHARED / "timeseries" / "eolearn_ndvi"
MRI = SHARED / "volumes" / "mri"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data folder {SHARED} is absent")

# eo-learn land-use classes {1, 2, 3, 4, 8} -> ids 1..5; stored 0 stays unlabeled.
LULC_REMAP = {1: 1, 2: 2, 3: 3, 4: 4, 8: 5}
LULC_COUNTS = [155, 11, 7601, 1777, 358, 198]  # id 0 (unlabeled), then ids 1..5
MRI_SHAPE = (33, 41, 25)
MRI_MASK_VOXELS = 330


def test_real_ndvi_series() -> None:
    fs = open_frame_series(NDVI / "data_NDVI.npy", NDVI / "mask_timeless_LULC.npy", label_remap=LULC_REMAP,
                           timestamps=NDVI / "timestamps.json")
    assert isinstance(fs, FrameSeries)
    assert fs.shape == (68, 101, 100, 1) and fs.frames.dtype == np.float32
    assert fs.per_pixel and fs.labels.shape == (101, 100)
    assert fs.num_classes == 5
    assert np.bincount(fs.labels.ravel(), minlength=6).tolist() == LULC_COUNTS
    np.testing.assert_array_equal(fs.frames, np.load(NDVI / "data_NDVI.npy"))
    assert fs.timestamps == json.loads((NDVI / "timestamps.json").read_text())
    assert fs.timestamps[0].startswith("2015-07")


def test_real_mri_volume_and_mask() -> None:
    nib = pytest.importorskip("nibabel")
    lv = open_labeled_volume(MRI / "anatomical.nii", MRI / "anatomical_label.nii.gz")
    assert isinstance(lv, LabeledVolume)
    assert lv.volume.shape == (1, *MRI_SHAPE) and lv.volume.dtype == np.float32
    assert lv.labels.shape == MRI_SHAPE
    assert int((lv.labels == 1).sum()) == MRI_MASK_VOXELS and lv.num_classes == 1
    assert lv.spacing == (2.0, 2.0, 2.0)
    img = nib.load(str(MRI / "anatomical.nii"))
    np.testing.assert_array_equal(lv.volume[0], img.get_fdata())

    bg = open_labeled_volume(MRI / "anatomical.nii", MRI / "anatomical_label.nii.gz", zero_label="class")
    assert bg.class_names == ["background", "class 1"]
    assert np.bincount(bg.labels.ravel()).tolist() == [0, 33 * 41 * 25 - MRI_MASK_VOXELS, MRI_MASK_VOXELS]


def test_real_mri_big_endian_int16_is_converted() -> None:
    """The intensities equal a manual parse of the file's big-endian int16 voxels (Fortran order after the header)."""
    nib = pytest.importorskip("nibabel")
    path = MRI / "anatomical.nii"
    img = nib.load(str(path))
    assert img.header.get_data_dtype() == np.dtype(">i2")
    slope, inter = img.header.get_slope_inter()
    assert slope in (None, 1.0) and inter in (None, 0.0)  # unscaled: stored values are the intensities
    n = int(np.prod(MRI_SHAPE))
    offset = int(img.dataobj.offset)
    raw = path.read_bytes()
    assert len(raw) == offset + 2 * n
    manual = np.frombuffer(raw, dtype=">i2", count=n, offset=offset).reshape(MRI_SHAPE, order="F")
    lv = open_labeled_volume(path, MRI / "anatomical_label.nii.gz")
    np.testing.assert_array_equal(lv.volume[0], manual.astype(np.float32))
    assert manual.min() < 0 or manual.max() > 255  # real int16 range, so a byte-order slip would show
