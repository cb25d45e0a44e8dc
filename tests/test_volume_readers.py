"""Volume and time-series readers on small generated files: what is written is what is read."""
from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from hsframe.data.volume_readers import (
    FileVolumes,
    Hdf5Volumes,
    NpyVolumes,
    open_frame_series,
    open_labeled_volume,
    open_volume_set,
)
from hsframe.data.volumes import LabeledVolume, VolumeSet
from hsframe.errors import HsframeError

RNG = np.random.default_rng(0)


def _vols(*shape: int) -> np.ndarray:
    """Whole-number float32 values, exact in every dtype the tests store them as."""
    return RNG.integers(-100, 100, size=shape).astype(np.float32)


def _h5(path: Path, **arrays: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    return path


def _nii(path: Path, data: np.ndarray, zooms: tuple[float, ...] | None = None) -> Path:
    nib = pytest.importorskip("nibabel")
    img = nib.Nifti1Image(data, np.eye(4))
    if zooms is not None:
        img.header.set_zooms(zooms)
    nib.save(img, str(path))
    return path


# --------------------------------------------------------------------------- HDF5 volume sets


def test_hdf5_5d_set_reads_exactly_in_requested_order(tmp_path: Path) -> None:
    vols = _vols(6, 2, 3, 4, 5)
    labels = np.array([1, 2, 1, 3, 2, 1], dtype=np.int32)
    p = _h5(tmp_path / "set.h5", volumes=vols, labels=labels)
    vs = open_volume_set(p)
    assert isinstance(vs, VolumeSet) and isinstance(vs.volumes, Hdf5Volumes)
    assert (len(vs), vs.sample_shape, vs.name, vs.kind) == (6, (2, 3, 4, 5), "set", "volume")
    np.testing.assert_array_equal(vs.labels, labels)
    assert vs.labels.dtype == np.int64
    assert vs.class_names == ["class 1", "class 2", "class 3"]
    assert vs.sources == [f"set.h5[{i}]" for i in range(6)]
    np.testing.assert_array_equal(vs.volumes.read(np.arange(6)), vols)
    got = vs.volumes.read(np.array([3, 0, 3]))  # unsorted, with a repeat
    assert got.dtype == np.float32 and got.shape == (3, 2, 3, 4, 5)
    np.testing.assert_array_equal(got, vols[[3, 0, 3]])
    np.testing.assert_array_equal(vs.volumes.read(np.array([], dtype=np.int64)), np.empty((0, 2, 3, 4, 5)))
    with pytest.raises(IndexError):
        vs.volumes.read(np.array([6]))


def test_hdf5_4d_set_has_one_channel(tmp_path: Path) -> None:
    vols = _vols(4, 3, 4, 5).astype(np.int16)
    p = _h5(tmp_path / "set.hdf5", x=vols, y=np.array([2, 1, 2, 1], dtype=np.uint8))
    vs = open_volume_set(p, kind="sequence", name="clips")
    assert (vs.sample_shape, vs.kind, vs.name) == ((1, 3, 4, 5), "sequence", "clips")
    np.testing.assert_array_equal(vs.volumes.read(np.array([2, 1])), vols[[2, 1], None].astype(np.float32))


def test_hdf5_reads_only_the_requested_volumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every access to the HDF5 datasets is recorded: opening reads no volume, a read touches only its indices."""
    vols = _vols(10, 1, 4, 4, 4)
    p = _h5(tmp_path / "big.h5", volumes=vols, labels=np.ones(10, dtype=np.int64))
    accesses: list[tuple[str, object]] = []
    original = h5py.Dataset.__getitem__

    def recording(self, args, *rest, **kw):  # type: ignore[no-untyped-def]
        accesses.append((self.name, args))
        return original(self, args, *rest, **kw)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", recording)
    vs = open_volume_set(p)
    assert [a for a in accesses if a[0] == "/volumes"] == []  # the shape comes from the header
    accesses.clear()
    np.testing.assert_array_equal(vs.volumes.read(np.array([7, 2, 7])), vols[[7, 2, 7]])
    assert len(accesses) == 1
    name, key = accesses[0]
    assert name == "/volumes"
    np.testing.assert_array_equal(key, [2, 7])  # one selection of the sorted unique indices
    accesses.clear()
    np.testing.assert_array_equal(vs.volumes.read(np.array([4, 3])), vols[[4, 3]])
    assert accesses == [("/volumes", slice(3, 5))]  # a contiguous run is one hyperslab


def test_hdf5_reader_survives_pickling(tmp_path: Path) -> None:
    vols = _vols(3, 1, 2, 3, 4)
    p = _h5(tmp_path / "s.h5", volumes=vols, labels=np.array([1, 1, 2]))
    reader = open_volume_set(p).volumes
    reader.read(np.array([0]))  # opens the file handle
    clone = pickle.loads(pickle.dumps(reader))
    np.testing.assert_array_equal(clone.read(np.array([2, 1])), vols[[2, 1]])
    reader.close()


def test_hdf5_key_errors_name_the_options(tmp_path: Path) -> None:
    vols = _vols(3, 2, 3, 4)
    p = _h5(tmp_path / "two.h5", a=vols, b=vols, labels=np.array([1, 2, 1]))
    with pytest.raises(HsframeError, match=r"data\.cube_key") as err:
        open_volume_set(p)
    assert "a (3, 2, 3, 4)" in str(err.value) and "b (3, 2, 3, 4)" in str(err.value)
    assert open_volume_set(p, volumes_key="b").sample_shape == (1, 2, 3, 4)
    with pytest.raises(HsframeError, match=r"key 'c' is not in .*data\.cube_key"):
        open_volume_set(p, volumes_key="c")
    with pytest.raises(HsframeError, match=r"must be \(N, D, H, W\) or \(N, C, D, H, W\).*data\.cube_key"):
        open_volume_set(p, volumes_key="labels")

    p2 = _h5(tmp_path / "nolabels.h5", v=vols, f=np.array([0.5, 1.0, 2.0]))
    with pytest.raises(HsframeError, match=r"no 1-D integer array.*data\.labels_key"):
        open_volume_set(p2)
    with pytest.raises(HsframeError, match=r"whole numbers.*data\.labels_key"):
        open_volume_set(p2, labels_key="f")

    p3 = _h5(tmp_path / "count.h5", v=vols, y=np.array([1, 2]))
    with pytest.raises(HsframeError, match=r"2 labels in .* for 3 volumes"):
        open_volume_set(p3)

    p4 = _h5(tmp_path / "no_volumes.h5", v=vols[0], y=np.array([1, 2]))
    with pytest.raises(HsframeError, match=r"no 4-D \(N, D, H, W\) or 5-D"):
        open_volume_set(p4)


def test_hdf5_with_a_separate_labels_file(tmp_path: Path) -> None:
    vols = _vols(3, 2, 3, 4)
    p = _h5(tmp_path / "v.h5", volumes=vols)
    (tmp_path / "y.txt").write_text("label\n2\n0\n1\n")
    vs = open_volume_set(p, tmp_path / "y.txt")
    np.testing.assert_array_equal(vs.labels, [2, 0, 1])


# --------------------------------------------------------------------------- .npy volume sets


def test_npy_volumes_are_memory_mapped_with_labels_files(tmp_path: Path) -> None:
    vols = _vols(5, 3, 4, 5)
    np.save(tmp_path / "v.npy", vols)
    np.save(tmp_path / "y.npy", np.array([[1], [2], [2], [1], [3]], dtype=np.uint8))  # (N, 1) is fine
    vs = open_volume_set(tmp_path / "v.npy", tmp_path / "y.npy")
    assert isinstance(vs.volumes, NpyVolumes) and vs.sample_shape == (1, 3, 4, 5)
    np.testing.assert_array_equal(vs.volumes.read(np.array([4, 0, 4])), vols[[4, 0, 4], None])
    assert isinstance(vs.volumes._mm, np.memmap)  # rows come from the mapped file, not a loaded copy
    clone = pickle.loads(pickle.dumps(vs.volumes))
    assert clone._mm is None
    np.testing.assert_array_equal(clone.read(np.arange(5)), vols[:, None])

    (tmp_path / "y.csv").write_text("1,2,2,1,3\n")
    np.testing.assert_array_equal(open_volume_set(tmp_path / "v.npy", tmp_path / "y.csv").labels, [1, 2, 2, 1, 3])
    (tmp_path / "y2.csv").write_text("# labels\n1.0\n2.0\n2.0\n1.0\n3.0\n")
    np.testing.assert_array_equal(open_volume_set(tmp_path / "v.npy", tmp_path / "y2.csv").labels, [1, 2, 2, 1, 3])


def test_npy_volume_set_errors(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", _vols(4, 3, 4, 5))
    with pytest.raises(HsframeError, match=r"needs a labels file with its 4 labels.*data\.labels"):
        open_volume_set(tmp_path / "v.npy")
    (tmp_path / "short.txt").write_text("1\n2\n")
    with pytest.raises(HsframeError, match=r"2 labels in .*short\.txt for 4 volumes"):
        open_volume_set(tmp_path / "v.npy", tmp_path / "short.txt")
    (tmp_path / "cols.csv").write_text("a.npy,1\nb.npy,2\n")
    with pytest.raises(HsframeError, match=r"numbers only"):
        open_volume_set(tmp_path / "v.npy", tmp_path / "cols.csv")
    (tmp_path / "frac.txt").write_text("1\n2.5\n1\n1\n")
    with pytest.raises(HsframeError, match=r"whole numbers"):
        open_volume_set(tmp_path / "v.npy", tmp_path / "frac.txt")
    with pytest.raises(HsframeError, match=r"file not found"):
        open_volume_set(tmp_path / "v.npy", tmp_path / "missing.txt")
    np.save(tmp_path / "flat.npy", np.zeros((4, 5)))
    with pytest.raises(HsframeError, match=r"must be \(N, D, H, W\) or \(N, C, D, H, W\); the array is \(4, 5\)"):
        open_volume_set(tmp_path / "flat.npy", tmp_path / "short.txt")
    with pytest.raises(HsframeError, match=r"not found"):
        open_volume_set(tmp_path / "nothere.npy")
    (tmp_path / "cube.tif").write_bytes(b"II*\x00" + b"\x00" * 64)
    with pytest.raises(HsframeError, match=r"holds no volume set"):
        open_volume_set(tmp_path / "cube.tif")
    with pytest.raises(HsframeError, match=r"kind must be"):
        open_volume_set(tmp_path / "v.npy", kind="movie")


# --------------------------------------------------------------------------- class folders


def _folder(root: Path, files: dict[str, np.ndarray]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        np.save(root / rel, data)
    return root


def test_class_folder_of_npy_files(tmp_path: Path) -> None:
    a, b, c = _vols(3, 4, 5), _vols(1, 3, 4, 5), _vols(3, 4, 5)
    root = _folder(tmp_path / "scans", {"tumour/b.npy": b, "healthy/z.npy": c, "healthy/a.npy": a})
    (root / "healthy" / "notes.txt").write_text("ignored")
    vs = open_volume_set(root)
    assert isinstance(vs.volumes, FileVolumes)
    assert (vs.name, vs.class_names, vs.sample_shape) == ("scans", ["healthy", "tumour"], (1, 3, 4, 5))
    assert vs.sources == ["healthy/a.npy", "healthy/z.npy", "tumour/b.npy"]
    np.testing.assert_array_equal(vs.labels, [1, 1, 2])
    np.testing.assert_array_equal(vs.volumes.read(np.array([2, 0, 2])), np.stack([b, a[None], b]))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(vs.volumes)).read(np.array([1])), c[None, None])
    assert open_volume_set(root, class_names=["ok", "bad"]).class_names == ["ok", "bad"]
    with pytest.raises(HsframeError, match=r"1 class names were given for the 2 class folders"):
        open_volume_set(root, class_names=["ok"])


def test_class_folder_inconsistent_shapes_name_both_files(tmp_path: Path) -> None:
    root = _folder(tmp_path / "r", {"x/a.npy": _vols(3, 4, 5), "y/b.npy": _vols(3, 4, 6)})
    with pytest.raises(HsframeError) as err:
        open_volume_set(root)
    msg = str(err.value)
    assert "every volume of a dataset must have one shape" in msg and "resample or crop" in msg.lower()
    assert "x/a.npy is (3, 4, 5)" in msg and "y/b.npy is (3, 4, 6)" in msg


def test_class_folder_errors(tmp_path: Path) -> None:
    flat = _folder(tmp_path / "flat", {"a.npy": _vols(3, 4, 5)})
    with pytest.raises(HsframeError, match=r"no class sub-folders.*a\.npy"):
        open_volume_set(flat)
    root = _folder(tmp_path / "r", {"x/a.npy": _vols(3, 4, 5)})
    (root / "empty").mkdir()
    (root / "empty" / "scan.mat").write_bytes(b"x")
    with pytest.raises(HsframeError, match=r"class folder .*empty holds no volume file.*scan\.mat"):
        open_volume_set(root)
    (root / "empty" / "scan.mat").unlink()
    (root / "empty").rmdir()
    with pytest.raises(HsframeError, match=r"leave data\.labels unset"):
        open_volume_set(root, tmp_path / "y.txt")
    with pytest.raises(HsframeError, match=r"do not apply to a folder"):
        open_volume_set(root, label_remap={1: 1})
    with pytest.raises(HsframeError, match=r"do not apply to a folder"):
        open_volume_set(root, zero_label="class")
    _folder(root, {"z/bad.npy": _vols(3, 4)})
    with pytest.raises(HsframeError, match=r"bad\.npy is \(3, 4\): a \.npy volume must be 3-D"):
        open_volume_set(root)
    (root / "z" / "bad.npy").write_bytes((root / "x" / "a.npy").read_bytes()[:100])
    with pytest.raises(HsframeError, match=r"truncated"):
        open_volume_set(root)


def test_class_folder_of_nifti_files(tmp_path: Path) -> None:
    pytest.importorskip("nibabel")
    root = tmp_path / "mri"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    x3 = _vols(4, 5, 6).astype(np.int16)
    x4 = _vols(4, 5, 6, 2)  # NIfTI: (X, Y, Z, C), channels last
    _nii(root / "a" / "s1.nii", x3)
    _nii(root / "a" / "s2.nii.gz", x4[..., :1])
    np.save(root / "b" / "s3.npy", x4[..., 0][None])
    vs = open_volume_set(root)
    assert vs.sample_shape == (1, 4, 5, 6) and vs.sources == ["a/s1.nii", "a/s2.nii.gz", "b/s3.npy"]
    got = vs.volumes.read(np.array([0, 1, 2]))
    np.testing.assert_array_equal(got[0, 0], x3)
    np.testing.assert_array_equal(got[1, 0], x4[..., 0])
    np.testing.assert_array_equal(got[2, 0], x4[..., 0])

    two = tmp_path / "two"
    (two / "k").mkdir(parents=True)
    _nii(two / "k" / "v.nii.gz", x4)
    vs2 = open_volume_set(two)
    assert vs2.sample_shape == (2, 4, 5, 6)
    np.testing.assert_array_equal(vs2.volumes.read(np.array([0]))[0], np.moveaxis(x4, -1, 0))

    _nii(root / "b" / "odd.nii", _vols(4, 5, 7))
    with pytest.raises(HsframeError, match=r"a/s1\.nii is \(4, 5, 6\) but b/odd\.nii is \(4, 5, 7\)"):
        open_volume_set(root)


def test_missing_nibabel_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nibabel", None)  # `import nibabel` now raises ImportError
    (tmp_path / "c" / "k").mkdir(parents=True)
    (tmp_path / "c" / "k" / "v.nii.gz").write_bytes(b"not read")
    with pytest.raises(HsframeError, match=r"needs nibabel.*pip install 'hsframe\[nifti\]'"):
        open_volume_set(tmp_path / "c")
    np.save(tmp_path / "y.npy", np.zeros((2, 2, 2), dtype=np.uint8))
    with pytest.raises(HsframeError, match=r"needs nibabel.*hsframe\[nifti\]"):
        open_labeled_volume(tmp_path / "c" / "k" / "v.nii.gz", tmp_path / "y.npy")


# --------------------------------------------------------------------------- labels: remap and zero_label


def test_label_remap_and_zero_label(tmp_path: Path) -> None:
    vols = _vols(5, 2, 2, 2)
    p = _h5(tmp_path / "s.h5", v=vols, y=np.array([0, 1, 8, 5, 8]))
    vs = open_volume_set(p, label_remap={1: 1, 8: 2})
    np.testing.assert_array_equal(vs.labels, [0, 1, 2, 0, 2])  # 5 is not in the map: unlabeled
    assert vs.class_names == ["class 1", "class 2"]
    vs = open_volume_set(p, label_remap={"8": "3", "0": "1"})  # keys/values as text, as from a config
    np.testing.assert_array_equal(vs.labels, [1, 0, 3, 0, 3])
    assert vs.num_classes == 3
    vs = open_volume_set(p, zero_label="class")
    np.testing.assert_array_equal(vs.labels, [1, 2, 4, 3, 4])  # ids 1, 2, 6, 9 (stored 0, 1, 5, 8) renumbered 1..4
    assert vs.class_names == ["background", "class 1", "class 5", "class 8"] and vs.label_ids == [1, 2, 6, 9]
    names = [f"n{i}" for i in range(9)]
    assert open_volume_set(p, zero_label="class", class_names=names).class_names == names
    with pytest.raises(HsframeError, match=r"8 class names .* up to class id 9.*first name is stored 0's"):
        open_volume_set(p, zero_label="class", class_names=names[:8])
    with pytest.raises(HsframeError, match=r"cannot be combined"):
        open_volume_set(p, zero_label="class", label_remap={1: 1})
    with pytest.raises(HsframeError, match=r"zero_label must be"):
        open_volume_set(p, zero_label="background")  # type: ignore[arg-type]
    with pytest.raises(HsframeError, match=r"negative ids"):
        open_volume_set(p, label_remap={1: -1})
    with pytest.raises(HsframeError, match=r"must map whole numbers"):
        open_volume_set(p, label_remap={"one": 1})

    neg = _h5(tmp_path / "neg.h5", v=vols, y=np.array([-1, 1, 2, -1, 1]))
    with pytest.raises(HsframeError, match=r"2 negative values.*data\.label_remap"):
        open_volume_set(neg)
    np.testing.assert_array_equal(open_volume_set(neg, label_remap={1: 1, 2: 2}).labels, [0, 1, 2, 0, 1])


# --------------------------------------------------------------------------- dense volumes


def test_dense_volume_from_npy_and_hdf5(tmp_path: Path) -> None:
    vol = _vols(4, 5, 6)
    lab = RNG.integers(0, 3, size=(4, 5, 6))
    np.save(tmp_path / "v.npy", vol)
    np.save(tmp_path / "y.npy", lab.astype(np.float32))  # float labels holding whole numbers are fine
    lv = open_labeled_volume(tmp_path / "v.npy", tmp_path / "y.npy")
    assert isinstance(lv, LabeledVolume) and lv.volume.shape == (1, 4, 5, 6) and lv.spacing is None
    np.testing.assert_array_equal(lv.volume[0], vol)
    np.testing.assert_array_equal(lv.labels, lab)
    assert lv.labels.dtype == np.int64 and lv.volume.dtype == np.float32 and lv.name == "v"

    vol4 = _vols(2, 4, 5, 6).astype(">i2")
    p = _h5(tmp_path / "both.h5", image=vol4, mask=lab.astype(np.uint8))
    with pytest.raises(HsframeError, match=r"data\.cube_key"):
        open_labeled_volume(p, p)
    lv = open_labeled_volume(p, p, volume_key="image", labels_key="mask", zero_label="class")
    np.testing.assert_array_equal(lv.volume, vol4.astype(np.float32))
    np.testing.assert_array_equal(lv.labels, lab + 1)
    assert lv.class_names == ["background", "class 1", "class 2"]


def test_dense_volume_errors(tmp_path: Path) -> None:
    vol = _vols(4, 5, 6)
    np.save(tmp_path / "v.npy", vol)
    np.save(tmp_path / "short.npy", np.zeros((4, 5, 7), dtype=np.uint8))
    with pytest.raises(HsframeError) as err:
        open_labeled_volume(tmp_path / "v.npy", tmp_path / "short.npy")
    assert "(4, 5, 7)" in str(err.value) and "(4, 5, 6)" in str(err.value)
    np.save(tmp_path / "t.npy", np.zeros((6, 5, 4), dtype=np.uint8))
    with pytest.raises(HsframeError, match=r"looks transposed"):
        open_labeled_volume(tmp_path / "v.npy", tmp_path / "t.npy")
    np.save(tmp_path / "frac.npy", np.full((4, 5, 6), 0.5))
    with pytest.raises(HsframeError, match=r"whole numbers"):
        open_labeled_volume(tmp_path / "v.npy", tmp_path / "frac.npy")
    np.save(tmp_path / "flat.npy", np.zeros((4, 5)))
    with pytest.raises(HsframeError, match=r"must be 3-D \(D, H, W\) or 4-D \(C, D, H, W\)"):
        open_labeled_volume(tmp_path / "flat.npy", tmp_path / "short.npy")
    bad = vol.copy()
    bad[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(HsframeError, match=r"1 non-finite values \(1 NaN, 0 Inf.*fill them"):
        open_labeled_volume(tmp_path / "nan.npy", tmp_path / "short.npy")
    with pytest.raises(HsframeError, match=r"file not found"):
        open_labeled_volume(tmp_path / "v.npy", tmp_path / "missing.npy")
    with pytest.raises(HsframeError, match=r"file not found"):
        open_labeled_volume(tmp_path / "v.nii.gz", tmp_path / "short.npy")
    np.savez(tmp_path / "two.npz", a=np.zeros((4, 5, 6), np.uint8), b=np.ones((4, 5, 6), np.uint8))
    with pytest.raises(HsframeError, match=r"2 3-D integer-valued arrays.*data\.labels_key"):
        open_labeled_volume(tmp_path / "v.npy", tmp_path / "two.npz")
    np.testing.assert_array_equal(open_labeled_volume(tmp_path / "v.npy", tmp_path / "two.npz", labels_key="b").labels, 1)


def test_dense_volume_from_nifti_keeps_spacing(tmp_path: Path) -> None:
    pytest.importorskip("nibabel")
    vol = _vols(4, 5, 6, 3)  # (X, Y, Z, C)
    mask = RNG.integers(0, 2, size=(4, 5, 6, 1)).astype(np.uint8)  # a mask saved with a trailing axis
    _nii(tmp_path / "v.nii.gz", vol, zooms=(1.5, 2.0, 3.0, 1.0))
    _nii(tmp_path / "m.nii.gz", mask)
    lv = open_labeled_volume(tmp_path / "v.nii.gz", tmp_path / "m.nii.gz", class_names=["lesion"])
    assert lv.volume.shape == (3, 4, 5, 6) and lv.spacing == (1.5, 2.0, 3.0) and lv.name == "v"
    np.testing.assert_array_equal(lv.volume, np.moveaxis(vol, -1, 0))
    np.testing.assert_array_equal(lv.labels, mask[..., 0])
    assert lv.class_names == ["lesion"]
    np.save(tmp_path / "v.npy", vol[..., 0])
    assert open_labeled_volume(tmp_path / "v.npy", tmp_path / "m.nii.gz").spacing == (1.0, 1.0, 1.0)  # the labels' header
    _nii(tmp_path / "odd.nii", _vols(4, 5, 7))
    with pytest.raises(HsframeError, match=r"\(4, 5, 7\).*\(4, 5, 6\)"):
        open_labeled_volume(tmp_path / "v.nii.gz", tmp_path / "odd.nii")


# --------------------------------------------------------------------------- frame series


def test_frame_series_shapes_round_trip(tmp_path: Path) -> None:
    frames = _vols(7, 5, 6)
    np.save(tmp_path / "f.npy", frames)
    np.save(tmp_path / "px.npy", RNG.integers(0, 4, size=(5, 6, 1)).astype(np.uint16))
    fs = open_frame_series(tmp_path / "f.npy", tmp_path / "px.npy", timestamps=[f"d{i}" for i in range(7)])
    assert fs.shape == (7, 5, 6, 1) and fs.per_pixel and fs.labels.shape == (5, 6)
    np.testing.assert_array_equal(fs.frames[..., 0], frames)
    np.testing.assert_array_equal(fs.labels, np.load(tmp_path / "px.npy")[..., 0])
    assert fs.timestamps == [f"d{i}" for i in range(7)] and fs.name == "f"

    frames4 = _vols(7, 5, 6, 3)
    np.save(tmp_path / "f4.npy", frames4)
    (tmp_path / "t.json").write_text(json.dumps([f"2020-01-0{i + 1}" for i in range(7)]))
    np.save(tmp_path / "per_frame.npy", np.array([1, 1, 2, 2, 2, 0, 1]))
    fs = open_frame_series(tmp_path / "f4.npy", tmp_path / "per_frame.npy", timestamps=tmp_path / "t.json")
    assert not fs.per_pixel and fs.timestamps[0] == "2020-01-01"
    np.testing.assert_array_equal(fs.frames, frames4)
    np.testing.assert_array_equal(fs.labels, [1, 1, 2, 2, 2, 0, 1])

    both = tmp_path / "both.npz"
    np.savez(both, frames=frames4, mask=np.ones((5, 6), dtype=np.uint8))
    fs = open_frame_series(both, both, class_names=["field", "extra"])
    np.testing.assert_array_equal(fs.frames, frames4)
    assert fs.class_names == ["field", "extra"]


def test_frame_series_errors(tmp_path: Path) -> None:
    frames = _vols(7, 5, 6)
    np.save(tmp_path / "f.npy", frames)
    np.save(tmp_path / "wrong.npy", np.zeros((5, 7), dtype=np.uint8))
    with pytest.raises(HsframeError) as err:
        open_frame_series(tmp_path / "f.npy", tmp_path / "wrong.npy")
    msg = str(err.value)
    assert "(5, 7)" in msg and "(7, 5, 6, 1)" in msg and "(H, W) = (5, 6)" in msg and "(T,) = (7,)" in msg
    np.save(tmp_path / "tr.npy", np.zeros((6, 5), dtype=np.uint8))
    with pytest.raises(HsframeError, match=r"looks transposed"):
        open_frame_series(tmp_path / "f.npy", tmp_path / "tr.npy")
    np.save(tmp_path / "frac.npy", np.full((5, 6), 1.5))
    with pytest.raises(HsframeError, match=r"whole numbers"):
        open_frame_series(tmp_path / "f.npy", tmp_path / "frac.npy")
    np.save(tmp_path / "ok.npy", np.zeros((5, 6), dtype=np.uint8))
    for bad_value, what in ((np.nan, r"1 NaN, 0 Inf"), (np.inf, r"0 NaN, 1 Inf")):
        bad = frames.copy()
        bad[3, 2, 1] = bad_value
        np.save(tmp_path / "bad.npy", bad)
        with pytest.raises(HsframeError, match=rf"{what}.*not filled silently: fill them"):
            open_frame_series(tmp_path / "bad.npy", tmp_path / "ok.npy")
    np.save(tmp_path / "flat.npy", np.zeros((5, 6)))
    with pytest.raises(HsframeError, match=r"must be \(T, H, W\) or \(T, H, W, C\)"):
        open_frame_series(tmp_path / "flat.npy", tmp_path / "ok.npy")
    with pytest.raises(HsframeError, match=r"3 timestamps for 7 frames"):
        open_frame_series(tmp_path / "f.npy", tmp_path / "ok.npy", timestamps=["a", "b", "c"])
    with pytest.raises(HsframeError, match=r"file not found"):
        open_frame_series(tmp_path / "nope.npy", tmp_path / "ok.npy")
    np.savez(tmp_path / "two.npz", a=frames, b=frames)
    with pytest.raises(HsframeError, match=r"data\.cube_key"):
        open_frame_series(tmp_path / "two.npz", tmp_path / "ok.npy")
    np.testing.assert_array_equal(open_frame_series(tmp_path / "two.npz", tmp_path / "ok.npy", frames_key="b").frames[..., 0], frames)


# --------------------------------------------------------------------------- round trips across dtypes


@pytest.mark.parametrize("dtype", ["<i2", ">i2", "u1", "<f8", ">f4"])
@pytest.mark.parametrize("channels", [None, 2])
def test_volume_set_round_trip(tmp_path: Path, dtype: str, channels: int | None) -> None:
    shape = (4, 3, 5, 6) if channels is None else (4, channels, 3, 5, 6)
    vols = RNG.integers(0, 200, size=shape).astype(dtype)
    labels = np.array([1, 2, 2, 1])
    expect = vols.astype(np.float32) if channels else vols.astype(np.float32)[:, None]
    p = _h5(tmp_path / "s.h5", v=vols, y=labels)
    np.save(tmp_path / "s.npy", vols)
    np.save(tmp_path / "y.npy", labels)
    root = _folder(tmp_path / "folder", {f"{'ab'[k - 1]}/{i}.npy": vols[i] for i, k in enumerate(labels)})
    for vs in (open_volume_set(p), open_volume_set(tmp_path / "s.npy", tmp_path / "y.npy")):
        np.testing.assert_array_equal(vs.volumes.read(np.arange(4)), expect)
        np.testing.assert_array_equal(vs.labels, labels)
    vs = open_volume_set(root)  # files sorted per class: a/0, a/3, b/1, b/2
    np.testing.assert_array_equal(vs.volumes.read(np.arange(4)), expect[[0, 3, 1, 2]])
    np.testing.assert_array_equal(vs.labels, [1, 1, 2, 2])
