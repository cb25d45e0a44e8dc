"""File readers: every format reads back exactly, real scenes read as published, bad input -> HsframeError."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np
import pytest
import scipy.io
import spectral.io.envi as envi
import tifffile

from hsframe.data.io import source
from hsframe.data.readers import SUPPORTED_SUFFIXES, ArrayFile, open_scene, read_array
from hsframe.errors import HsframeError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
HSI = SHARED / "hsi"
PINES_GT = HSI / "ground_truth" / "Indian_pines_gt.mat"
# Published per-class pixel counts of Indian Pines (classes 1..16), 10,249 in all.
PINES_COUNTS = [46, 1428, 830, 237, 483, 730, 28, 478, 20, 972, 2455, 593, 205, 1265, 386, 93]
PINES_BANDS = 24
PINES_WAVELENGTHS = np.linspace(400.0, 2500.0, PINES_BANDS)
PINES_NAMES = [f"crop {k}" for k in range(1, 17)]


def needs(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not path.exists(), reason=f"shared real data not available: {path}")


# ----------------------------------------------------------------------------- writers

def write_mat_v73(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as MATLAB -v7.3 does: HDF5 behind a 512-byte MATLAB header, axes reversed."""
    classes = {np.dtype(np.float32): "single", np.dtype(np.float64): "double", np.dtype(np.uint8): "uint8",
               np.dtype(np.int16): "int16", np.dtype(np.int64): "int64"}
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, arr in arrays.items():
            ds = f.create_dataset(name, data=np.ascontiguousarray(arr.T))  # column-major -> reversed axes
            ds.attrs["MATLAB_class"] = np.bytes_(classes[arr.dtype])
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with path.open("r+b") as fh:
        fh.write(header.ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM")


def write_envi_raw(hdr: Path, cube: np.ndarray, interleave: str, dtype: str, extra: str = "") -> None:
    """Raw ENVI bytes + header written by hand (no library), so the reader is checked independently."""
    codes = {"u1": 1, "i2": 2, "i4": 3, "f4": 4, "f8": 5, "u2": 12}
    dt = np.dtype(dtype)
    order = {"bsq": (2, 0, 1), "bil": (0, 2, 1), "bip": (0, 1, 2)}[interleave]
    hdr.with_suffix(".img").write_bytes(np.ascontiguousarray(cube.transpose(order)).astype(dt).tobytes())
    h, w, b = cube.shape
    hdr.write_text(
        f"ENVI\nsamples = {w}\nlines = {h}\nbands = {b}\nheader offset = 0\nfile type = ENVI Standard\n"
        f"data type = {codes[dt.str[1:]]}\ninterleave = {interleave}\n"
        f"byte order = {1 if dt.byteorder == '>' else 0}\n{extra}"
    )


# Each writer puts the Pines cube (and its labels where the format allows) in tmp and returns
# (cube path, labels path, the cube as the reader must return it, wavelengths expected or None).
Writer = Callable[[Path, np.ndarray, np.ndarray], tuple[Path, Path, np.ndarray, Any]]


def _mat_v5(d: Path, gt: np.ndarray, cube: np.ndarray):
    p = d / "pines.mat"
    scipy.io.savemat(p, {"cube": cube, "gt": gt})
    return p, p, cube, None


def _mat_v73(d: Path, gt: np.ndarray, cube: np.ndarray):
    p = d / "pines73.mat"
    write_mat_v73(p, {"cube": cube, "gt": gt})
    return p, p, cube, None


def _envi_bsq_f4(d: Path, gt: np.ndarray, cube: np.ndarray):
    meta = {"wavelength": [f"{w:.1f}" for w in PINES_WAVELENGTHS], "wavelength units": "Nanometers",
            "default bands": [20, 12, 4]}
    envi.save_image(str(d / "bsq.hdr"), cube, dtype=np.float32, interleave="bsq", ext=".img", metadata=meta)
    envi.save_classification(str(d / "gt.hdr"), gt, dtype=np.uint8, ext=".img",
                             class_names=["Unclassified", *PINES_NAMES])
    return d / "bsq.hdr", d / "gt.img", cube, PINES_WAVELENGTHS


def _envi_bil_i2_big(d: Path, gt: np.ndarray, cube: np.ndarray):
    scaled = np.round(cube * 10000).astype(np.int16)
    wl_um = ", ".join(f"{w / 1000:.4f}" for w in PINES_WAVELENGTHS)
    write_envi_raw(d / "bil.hdr", scaled, "bil", ">i2",
                   extra=f"wavelength units = Micrometers\nwavelength = {{{wl_um}}}\nreflectance scale factor = 10000\n")
    write_envi_raw(d / "gt_bil.hdr", gt[:, :, None], "bil", "u1")
    return d / "bil.img", d / "gt_bil.hdr", scaled.astype(np.float32), PINES_WAVELENGTHS


def _envi_bip_f8_big(d: Path, gt: np.ndarray, cube: np.ndarray):
    envi.save_image(str(d / "bip.hdr"), cube.astype(np.float64), dtype=np.float64, interleave="bip",
                    byteorder=1, ext=".dat")
    envi.save_image(str(d / "gt_bip.hdr"), gt, dtype=np.uint16, interleave="bip", byteorder=1, ext=".dat")
    return d / "bip.hdr", d / "gt_bip.dat", cube, None


def _hdf5_chunked(d: Path, gt: np.ndarray, cube: np.ndarray):
    p = d / "pines.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("scene/cube", data=cube, chunks=(16, 16, PINES_BANDS), compression="gzip")
        f.create_dataset("scene/gt", data=gt)
        f.create_dataset("scene/wavelengths", data=PINES_WAVELENGTHS)
    return p, p, cube, PINES_WAVELENGTHS


def _hdf5_bands_first(d: Path, gt: np.ndarray, cube: np.ndarray):
    p = d / "pines_bhw.hdf5"
    with h5py.File(p, "w") as f:
        f.create_dataset("cube", data=np.moveaxis(cube, -1, 0).astype(np.float16))
        f.create_dataset("gt", data=gt.astype(np.int32))
    return p, p, cube.astype(np.float16).astype(np.float32), None


def _npy(d: Path, gt: np.ndarray, cube: np.ndarray):
    np.save(d / "cube.npy", cube)
    np.save(d / "gt.npy", gt)
    return d / "cube.npy", d / "gt.npy", cube, None


def _npz(d: Path, gt: np.ndarray, cube: np.ndarray):
    np.savez_compressed(d / "pines.npz", cube=cube, gt=gt.astype(np.float32))  # float labels, integral values
    return d / "pines.npz", d / "pines.npz", cube, None


def _geotiff(d: Path, gt: np.ndarray, cube: np.ndarray):
    # Bands first, one page with 24 samples (GDAL's band-interleaved layout) and a GDAL_NODATA tag.
    tifffile.imwrite(d / "cube.tif", np.moveaxis(cube, -1, 0), photometric="minisblack",
                     planarconfig="separate", extratags=[(42113, "s", 0, "-32768", True)])
    tifffile.imwrite(d / "gt.tif", gt)
    return d / "cube.tif", d / "gt.tif", cube, None


WRITERS: dict[str, Writer] = {
    "mat-v5": _mat_v5, "mat-v7.3": _mat_v73, "envi-bsq-float32": _envi_bsq_f4,
    "envi-bil-int16-bigendian": _envi_bil_i2_big, "envi-bip-float64-bigendian": _envi_bip_f8_big,
    "hdf5-chunked-gzip": _hdf5_chunked, "hdf5-bands-first-float16": _hdf5_bands_first,
    "npy": _npy, "npz": _npz, "geotiff": _geotiff,
}


@pytest.fixture(scope="module")
def pines() -> tuple[np.ndarray, np.ndarray]:
    """The real Indian Pines map (145, 145) uint8 and a (145, 145, 24) float32 cube rendered over it."""
    if not PINES_GT.exists():
        pytest.skip(f"shared real data not available: {PINES_GT}")
    gt = scipy.io.loadmat(PINES_GT)["indian_pines_gt"]
    rng = np.random.default_rng(0)
    spectra = rng.uniform(0.05, 0.9, (17, PINES_BANDS)).astype(np.float32)  # row 0: unlabeled background
    cube = spectra[gt] + rng.normal(0, 0.01, gt.shape + (PINES_BANDS,)).astype(np.float32)
    return gt, cube


# ----------------------------------------------------------------------------- 1. every format

@pytest.mark.parametrize("fmt", list(WRITERS))
def test_pines_reads_back_identically_in_every_format(fmt: str, pines, tmp_path: Path) -> None:
    gt, cube = pines
    cube_path, labels_path, expected, wavelengths = WRITERS[fmt](tmp_path, gt, cube)

    got = read_array(cube_path)  # keys and axis order all auto-detected
    assert got.data.dtype == np.float32 and got.data.shape == (145, 145, PINES_BANDS)
    np.testing.assert_array_equal(got.data, expected)
    labels = read_array(labels_path, kind="labels").data
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, gt)
    if "bigendian" in fmt:
        assert got.metadata["byte_order"] == 1 and got.metadata["source_dtype"] in (">i2", ">f8")

    scene = open_scene(cube_path, labels_path)
    assert (scene.labels > 0).sum() == 10_249
    assert np.bincount(scene.labels.ravel(), minlength=17)[1:].tolist() == PINES_COUNTS
    # The real map has 68 labeled pixels on its top row and 6 on its left column: none may be lost.
    assert (gt[0] > 0).sum() == 68 and (gt[:, 0] > 0).sum() == 6
    for edge in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        np.testing.assert_array_equal(scene.labels[edge], gt[edge])
    assert scene.num_classes == 16
    if wavelengths is not None:
        np.testing.assert_allclose(scene.wavelengths, wavelengths, atol=0.06)
    if fmt == "envi-bsq-float32":
        assert scene.class_names == PINES_NAMES  # from the ENVI classification header
        assert scene.rgb_bands == (19, 11, 3)  # ENVI default bands are 1-based
    else:
        assert scene.class_names[0] == "class 1" and len(scene.class_names) == 16


def test_mat_v73_gives_the_same_arrays_as_v5(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrays = {"cube": rng.random((4, 6, 3)).astype(np.float32), "gt": rng.integers(0, 5, (4, 6)).astype(np.uint8),
              "Y": rng.random((3, 24))}
    scipy.io.savemat(tmp_path / "v5.mat", arrays)
    write_mat_v73(tmp_path / "v73.mat", arrays)
    for key, arr in arrays.items():
        v5 = read_array(tmp_path / "v5.mat", key=key, kind="raw")
        v73 = read_array(tmp_path / "v73.mat", key=key, kind="raw")
        assert v5.metadata["format"] == "mat-v5" and v73.metadata["format"] == "mat-v7.3"
        assert v5.data.dtype == v73.data.dtype == arr.dtype
        np.testing.assert_array_equal(v5.data, arr)
        np.testing.assert_array_equal(v73.data, arr)


def test_mat_v73_text_is_not_taken_for_labels(tmp_path: Path) -> None:
    """MATLAB stores a char array as 2-D uint16: auto-detection must not mistake it for a label map."""
    gt = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_mat_v73(tmp_path / "t.mat", {"gt": gt})
    with h5py.File(tmp_path / "t.mat", "a") as f:
        ds = f.create_dataset("note", data=np.frombuffer(b"hello", np.uint8).astype(np.uint16)[:, None])
        ds.attrs["MATLAB_class"] = np.bytes_("char")
    got = read_array(tmp_path / "t.mat", kind="labels")
    assert got.metadata["key"] == "gt" and list(got.metadata["keys"]) == ["gt"]
    np.testing.assert_array_equal(got.data, gt)


def test_lazy_slabs_give_the_same_cube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With tiny slabs, the chunked conversion (with every axis permutation) must not change a value."""
    cube = np.random.default_rng(2).random((9, 11, 7)).astype(np.float32)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("c", data=np.moveaxis(cube, -1, 0), chunks=(2, 4, 4))
    write_mat_v73(tmp_path / "c.mat", {"c": cube})
    write_envi_raw(tmp_path / "bil.hdr", cube, "bil", "<f4")
    write_envi_raw(tmp_path / "bsq.hdr", cube, "bsq", ">f8")
    monkeypatch.setattr(source, "SLAB_BYTES", 64)
    for p in ("c.h5", "c.mat", "bil.hdr", "bsq.hdr"):
        np.testing.assert_array_equal(read_array(tmp_path / p).data, cube, err_msg=p)


def test_hdf5_cube_is_converted_slab_by_slab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Peak memory stays about the float32 output, far below loading the float64 dataset whole."""
    import tracemalloc

    cube = np.random.default_rng(10).random((64, 64, 32))  # float64: 1 MiB on disk, 0.5 MiB as float32
    with h5py.File(tmp_path / "big.h5", "w") as f:
        f.create_dataset("cube", data=cube)
    monkeypatch.setattr(source, "SLAB_BYTES", 64 * 1024)
    tracemalloc.start()
    try:
        got = read_array(tmp_path / "big.h5").data
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(got, cube.astype(np.float32))
    assert peak < got.nbytes + 4 * 64 * 1024 < cube.nbytes


# ----------------------------------------------------------------------------- 2. Samson / Jasper

@needs(HSI / "samson")
def test_samson_envi_and_mat_are_the_same_scene() -> None:
    img = read_array(HSI / "samson" / "samson_1.img")
    assert img.data.shape == (95, 95, 156)
    assert img.metadata["interleave"] == "bsq" and img.metadata["source_dtype"] == "int16"
    wl = img.metadata["wavelengths"]
    assert len(wl) == 156 and 400 < wl[0] < 402 and 898 < wl[-1] < 900
    assert img.metadata["rgb_bands"] == (84, 49, 9)
    np.testing.assert_array_equal(read_array(HSI / "samson" / "samson_1.img.hdr").data, img.data)

    y = read_array(HSI / "samson" / "Samson.mat", key="Y", kind="raw").data
    assert y.shape == (156, 9025) and y.dtype == np.float64
    # Pixels are in column-major order: pixel (r, c) is column r + 95 c of Y.
    fortran = np.moveaxis(y.reshape(156, 95, 95, order="F"), 0, -1)
    c_order = np.moveaxis(y.reshape(156, 95, 95), 0, -1)  # the same image transposed
    assert np.corrcoef(fortran.ravel(), img.data.ravel())[0, 1] > 0.9999
    assert np.corrcoef(c_order.ravel(), img.data.ravel())[0, 1] < 0.9
    # The .mat holds the ENVI integers with negatives clipped to 0, divided by the image maximum (1402).
    scale = float(img.data.max())
    assert scale == 1402
    np.testing.assert_allclose(fortran * scale, np.clip(img.data, 0, None), atol=1e-6)


@needs(HSI / "jasper_ridge")
def test_jasper_ridge_envi_bil() -> None:
    img = read_array(HSI / "jasper_ridge" / "jasperRidge2_R198.hdr")
    assert img.data.shape == (100, 100, 198)
    assert img.metadata["interleave"] == "bil" and img.metadata["scale_factor"] == pytest.approx(1e-4)
    assert len(img.metadata["wavelengths"]) == 198
    # Jasper.mat's Y (198, 10000) uint16 is the same scene, column-major, without the ENVI signs.
    y = read_array(HSI / "jasper_ridge" / "Jasper.mat", key="Y", kind="raw").data
    np.testing.assert_array_equal(np.moveaxis(y.reshape(198, 100, 100, order="F"), 0, -1), np.abs(img.data))


# ----------------------------------------------------------------------------- 3. EnMAP GeoTIFF

@needs(HSI / "enmap_potsdam")
def test_enmap_geotiff_tiles() -> None:
    images = sorted((HSI / "enmap_potsdam" / "images").glob("*.tif"))
    assert images
    first = images[0]
    scene = open_scene(first, HSI / "enmap_potsdam" / "labels" / first.name)
    assert scene.cube.shape == (32, 32, 224) and scene.cube.dtype == np.float32
    assert scene.name == first.stem
    np.testing.assert_array_equal(scene.cube, np.moveaxis(tifffile.imread(first), 0, -1))
    meta = read_array(first).metadata
    assert meta["ignore_value"] == -32768 and meta["axis_order"] == "BHW" and meta["axis_order_source"] == "format"
    assert len(scene.wavelengths) == 224 and np.all(np.diff(scene.wavelengths[:50]) > 0)
    for img in images:
        labels = read_array(HSI / "enmap_potsdam" / "labels" / img.name, kind="labels").data
        assert labels.shape == (32, 32) and labels.min() >= 0 and labels.max() <= 6


# ----------------------------------------------------------------------------- 4. keys and axes

def test_key_autodetection(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    cube = rng.random((6, 7, 5)).astype(np.float32)
    gt = rng.integers(0, 3, (6, 7)).astype(np.float64)  # integer-valued floats, as MATLAB saves them
    p = tmp_path / "a.npz"
    np.savez(p, cube=cube, abundance=rng.random((6, 7)), gt=gt, wl=np.arange(5.0))
    got = read_array(p)
    assert got.metadata["key"] == "cube" and got.metadata["keys"]["gt"] == (6, 7)
    np.testing.assert_array_equal(read_array(p, kind="labels").data, gt)  # the non-integer 2-D array is skipped
    assert read_array(p, kind="labels").metadata["key"] == "gt"

    np.savez(tmp_path / "two.npz", a=cube, b=cube + 1)
    with pytest.raises(HsframeError, match=r"2 3-D arrays.*a \(6, 7, 5\) float32, b \(6, 7, 5\).*data\.cube_key"):
        read_array(tmp_path / "two.npz")
    np.testing.assert_array_equal(read_array(tmp_path / "two.npz", key="b").data, cube + 1)
    with pytest.raises(HsframeError, match=r"no 2-D integer-valued arrays.*data\.labels_key"):
        read_array(tmp_path / "two.npz", kind="labels")
    with pytest.raises(HsframeError, match=r"key 'c' is not in .*a \(6, 7, 5\).*data\.cube_key"):
        read_array(tmp_path / "two.npz", key="c")
    with pytest.raises(HsframeError, match=r"one wanted.*\bkey\b"):
        read_array(tmp_path / "two.npz", kind="raw")

    with h5py.File(tmp_path / "n.h5", "w") as f:
        f.create_dataset("grp/cube", data=cube)
        f.create_dataset("grp/other", data=cube)
    np.testing.assert_array_equal(read_array(tmp_path / "n.h5", key="/grp/other").data, cube)
    with pytest.raises(HsframeError, match=r"grp/cube \(6, 7, 5\).*grp/other"):
        read_array(tmp_path / "n.h5")


def test_axis_order_detection_and_override(tmp_path: Path) -> None:
    hwb = np.random.default_rng(4).random((12, 13, 5)).astype(np.float32)
    np.save(tmp_path / "bhw.npy", np.moveaxis(hwb, -1, 0))
    np.save(tmp_path / "hwb.npy", hwb)
    got = read_array(tmp_path / "bhw.npy")
    assert got.metadata["axis_order"] == "BHW" and got.metadata["axis_order_source"] == "shape"
    np.testing.assert_array_equal(got.data, hwb)
    np.testing.assert_array_equal(read_array(tmp_path / "hwb.npy").data, hwb)
    forced = read_array(tmp_path / "bhw.npy", axis_order="HWB")
    assert forced.data.shape == (5, 12, 13) and forced.metadata["axis_order_source"] == "requested"

    # (10, 30, 10): both readings are plausible, so the shape alone cannot decide ...
    square = np.random.default_rng(5).random((10, 30, 10)).astype(np.float32)
    np.save(tmp_path / "amb.npy", square)
    with pytest.raises(HsframeError, match=r"data\.axis_order"):
        read_array(tmp_path / "amb.npy")
    # ... but the label map's shape does.
    np.save(tmp_path / "gt_bhw.npy", np.ones((30, 10), np.uint8))
    np.save(tmp_path / "gt_hwb.npy", np.ones((10, 30), np.uint8))
    assert open_scene(tmp_path / "amb.npy", tmp_path / "gt_bhw.npy").cube.shape == (30, 10, 10)
    assert open_scene(tmp_path / "amb.npy", tmp_path / "gt_hwb.npy").cube.shape == (10, 30, 10)

    # TIFF written pixel-interleaved ('YXS') is read as (H, W, B).
    tifffile.imwrite(tmp_path / "contig.tif", hwb, photometric="minisblack", planarconfig="contig")
    np.testing.assert_array_equal(read_array(tmp_path / "contig.tif").data, hwb)
    # An ENVI header fixes the order: a conflicting request is refused, not silently applied.
    write_envi_raw(tmp_path / "e.hdr", hwb, "bsq", "<f4")
    with pytest.raises(HsframeError, match=r"axis_order to 'auto'"):
        read_array(tmp_path / "e.hdr", axis_order="BHW")


# ----------------------------------------------------------------------------- 4. bad input

def _small_files(d: Path) -> dict[str, Path]:
    """One valid small file per format, each 16x16x8 float32 (big enough that half of it is data)."""
    cube = np.random.default_rng(6).random((16, 16, 8)).astype(np.float32)
    np.save(d / "c.npy", cube)
    np.savez_compressed(d / "c.npz", cube=cube)
    scipy.io.savemat(d / "c.mat", {"cube": cube})
    write_mat_v73(d / "c73.mat", {"cube": cube})
    with h5py.File(d / "c.h5", "w") as f:
        f.create_dataset("cube", data=cube)
    tifffile.imwrite(d / "c.tif", np.moveaxis(cube, -1, 0), photometric="minisblack", planarconfig="separate")
    write_envi_raw(d / "c.hdr", cube, "bil", "<f4")
    return {"npy": d / "c.npy", "npz": d / "c.npz", "mat-v5": d / "c.mat", "mat-v7.3": d / "c73.mat",
            "hdf5": d / "c.h5", "tiff": d / "c.tif", "envi": d / "c.img"}


@pytest.mark.parametrize("fmt", ["npy", "npz", "mat-v5", "mat-v7.3", "hdf5", "tiff", "envi"])
def test_truncated_file_is_a_clear_error(fmt: str, tmp_path: Path) -> None:
    path = _small_files(tmp_path)[fmt]
    assert read_array(path).data.shape == (16, 16, 8)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(HsframeError, match=r"truncated"):
        read_array(path)


def test_missing_unsupported_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(HsframeError, match=r"file not found: .*nope\.mat"):
        read_array(tmp_path / "nope.mat")
    with pytest.raises(HsframeError, match=r"directory"):
        read_array(tmp_path)
    (tmp_path / "x.csv").write_text("1,2,3\n")
    # The suffixes are listed in the format registry's order (HDF5 is sniffed before MATLAB v5).
    with pytest.raises(HsframeError, match=r"unsupported file type '\.csv'.*\.h5.*\.mat.*\.npy.*\.tif.*\.hdr") as err:
        read_array(tmp_path / "x.csv")
    assert all(s in str(err.value) for s in SUPPORTED_SUFFIXES)
    (tmp_path / "junk.mat").write_bytes(np.random.default_rng(7).bytes(2000))
    with pytest.raises(HsframeError, match=r"MATLAB.*corrupt"):
        read_array(tmp_path / "junk.mat")
    (tmp_path / "lonely.img").write_bytes(b"\x00" * 64)
    with pytest.raises(HsframeError, match=r"no header"):
        read_array(tmp_path / "lonely.img")
    write_envi_raw(tmp_path / "h.hdr", np.zeros((2, 2, 2), np.float32), "bsq", "<f4")
    (tmp_path / "h.img").unlink()
    with pytest.raises(HsframeError, match=r"no image file"):
        read_array(tmp_path / "h.hdr")


def test_shape_mismatch_in_open_scene(tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", np.zeros((12, 20, 4), np.float32))
    np.save(tmp_path / "gt.npy", np.ones((12, 19), np.uint8))
    np.save(tmp_path / "gt_t.npy", np.ones((20, 12), np.uint8))
    with pytest.raises(HsframeError, match=r"labels \(12, 19\) .* do not match the cube's \(H, W\) \(12, 20\)"):
        open_scene(tmp_path / "c.npy", tmp_path / "gt.npy")
    with pytest.raises(HsframeError, match=r"transposed"):
        open_scene(tmp_path / "c.npy", tmp_path / "gt_t.npy")


def test_nan_and_inf_in_the_cube(tmp_path: Path) -> None:
    cube = np.random.default_rng(8).random((6, 6, 4)).astype(np.float32)
    cube[0, 0, 0] = cube[5, 5, 3] = cube[2, 3, 1] = np.nan
    cube[1, 1, 1], cube[4, 4, 2] = np.inf, -np.inf
    np.save(tmp_path / "c.npy", cube)
    with pytest.raises(HsframeError, match=r"5 non-finite values \(3 NaN, 2 Inf.*data\.nan_fill"):
        read_array(tmp_path / "c.npy")
    with pytest.raises(HsframeError, match=r"data\.nan_fill"):
        open_scene(tmp_path / "c.npy")
    got = read_array(tmp_path / "c.npy", nan_fill=0.0)
    assert got.metadata["nonfinite_replaced"] == 5 and np.isfinite(got.data).all()
    assert got.data[0, 0, 0] == 0 and got.data[1, 1, 1] == 0
    assert np.isfinite(open_scene(tmp_path / "c.npy", nan_fill=-1.0).cube).all()
    # float64 beyond float32's range would become Inf on conversion: caught too.
    np.save(tmp_path / "big.npy", np.full((4, 4, 6), 1e300))
    with pytest.raises(HsframeError, match=r"96 non-finite"):
        read_array(tmp_path / "big.npy")


def test_bad_labels(tmp_path: Path) -> None:
    np.save(tmp_path / "frac.npy", np.full((4, 5), 0.5))
    with pytest.raises(HsframeError, match=r"whole numbers.*20 values"):
        read_array(tmp_path / "frac.npy", kind="labels")
    nan = np.ones((4, 5))
    nan[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(HsframeError, match=r"whole numbers.*1 values"):
        read_array(tmp_path / "nan.npy", kind="labels")
    neg = np.ones((4, 5), np.int16)
    neg[0, :2] = -1
    np.save(tmp_path / "neg.npy", neg)
    with pytest.raises(HsframeError, match=r"2 negative values \(min -1\)"):
        read_array(tmp_path / "neg.npy", kind="labels")
    np.save(tmp_path / "three.npy", np.ones((4, 5, 3), np.uint8))
    with pytest.raises(HsframeError, match=r"2-D \(H, W\) map"):
        read_array(tmp_path / "three.npy", kind="labels")
    np.save(tmp_path / "flat.npy", np.ones((4, 5), np.float32))
    with pytest.raises(HsframeError, match=r"must be 3-D"):
        read_array(tmp_path / "flat.npy")
    # A singleton band axis (an ENVI one-band file, eo-learn's (H, W, 1) masks) is dropped.
    np.save(tmp_path / "hw1.npy", np.ones((4, 5, 1), np.uint16))
    assert read_array(tmp_path / "hw1.npy", kind="labels").data.shape == (4, 5)


def test_open_scene_defaults(tmp_path: Path) -> None:
    cube = np.random.default_rng(9).random((8, 9, 5)).astype(np.float32)
    np.save(tmp_path / "my_scene.npy", cube)
    scene = open_scene(tmp_path / "my_scene.npy")
    assert scene.name == "my_scene" and scene.class_names == [] and not scene.labels.any()
    assert scene.labels.shape == (8, 9) and scene.labels.dtype == np.int64
    gt = np.zeros((8, 9), np.uint8)
    gt[0, 0], gt[7, 8] = 1, 3
    np.save(tmp_path / "gt.npy", gt)
    scene = open_scene(tmp_path / "my_scene.npy", tmp_path / "gt.npy", name="x")
    assert scene.name == "x" and scene.class_names == ["class 1", "class 3"]  # ids 1, 3 renumbered 1, 2
    assert scene.label_ids == [1, 3] and scene.labels[7, 8] == 2
    named = open_scene(tmp_path / "my_scene.npy", tmp_path / "gt.npy", class_names=["a", "b", "c", "d"])
    assert named.class_names == ["a", "b", "c", "d"]
    two = open_scene(tmp_path / "my_scene.npy", tmp_path / "gt.npy", class_names=["a", "b"])  # one name per id present
    assert two.class_names == ["a", "b"] and two.label_ids == [1, 3]
    with pytest.raises(HsframeError, match=r"class ids 1, 3 \(2 ids\), but 1 class names were given"):
        open_scene(tmp_path / "my_scene.npy", tmp_path / "gt.npy", class_names=["a"])


def test_read_array_returns_arrayfile_with_format_metadata(tmp_path: Path) -> None:
    files = _small_files(tmp_path)
    for fmt, path in files.items():
        got = read_array(path)
        assert isinstance(got, ArrayFile) and got.metadata["format"] == fmt
        assert got.metadata["axis_order"] in ("HWB", "BHW")
