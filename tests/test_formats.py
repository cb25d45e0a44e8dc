"""The file-format registry: each built-in format reads back a real file of its kind, and a plugin's format
is detected, opened and named exactly like a built-in one, by every reader."""
from __future__ import annotations

import types
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import h5py
import numpy as np
import pytest
import scipy.io
import spectral.io.envi as envi
import tifffile
from test_readers import write_mat_v73

from hsframe.data import readers
from hsframe.data.io import Array, FileFormat, Source, detect_format
from hsframe.data.readers import open_scene, read_array
from hsframe.data.volume_readers import open_labeled_volume
from hsframe.errors import HsframeError
from hsframe.hookspecs import hookimpl
from hsframe.plugins import Plugins, load_plugins

CUBE = np.random.default_rng(0).random((16, 16, 8)).astype(np.float32)  # (H, W, B): the shape alone says HWB


def _use(monkeypatch: pytest.MonkeyPatch, plugins: Plugins) -> None:
    """Make the readers see ``plugins`` as the process's registry."""
    monkeypatch.setattr("hsframe.plugins.get_plugins", lambda: plugins)


# ----------------------------------------------------------------------------- every built-in format

def _hdf5(d: Path) -> Path:
    with h5py.File(d / "c.h5", "w") as f:
        f.create_dataset("scene/cube", data=CUBE)
    return d / "c.h5"


def _mat_v73(d: Path) -> Path:
    write_mat_v73(d / "c73.mat", {"cube": CUBE})
    return d / "c73.mat"


def _mat_v5(d: Path) -> Path:
    scipy.io.savemat(d / "c.mat", {"cube": CUBE})
    return d / "c.mat"


def _npy(d: Path) -> Path:
    np.save(d / "c.npy", CUBE)
    return d / "c.npy"


def _npz(d: Path) -> Path:
    np.savez_compressed(d / "c.npz", cube=CUBE)
    return d / "c.npz"


def _tiff(d: Path) -> Path:
    tifffile.imwrite(d / "c.tif", np.moveaxis(CUBE, -1, 0), photometric="minisblack", planarconfig="separate")
    return d / "c.tif"


def _envi(d: Path) -> Path:
    envi.save_image(str(d / "c.hdr"), CUBE, dtype=np.float32, interleave="bil", ext=".img")
    return d / "c.img"  # the image: its header beside it says ENVI


# Registered name -> a writer of the test cube in that format; a new built-in format needs one here.
WRITERS: dict[str, Callable[[Path], Path]] = {
    "hdf5": _hdf5, "mat-v7.3": _mat_v73, "mat-v5": _mat_v5, "npy": _npy, "npz": _npz, "tiff": _tiff, "envi": _envi,
}
BUILTIN = load_plugins()
BUILTIN_NAMES = [name for name, fmt in BUILTIN.formats.items() if fmt.plugin == "builtin-formats"]


def test_every_builtin_format_is_registered_and_has_a_smoke_test() -> None:
    assert sorted(BUILTIN_NAMES) == sorted(WRITERS)
    assert all(fmt.package == "hsframe" for fmt in BUILTIN.formats.values() if fmt.name in WRITERS)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_format_reads_back_its_file(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, BUILTIN)
    fmt = BUILTIN.formats[name]
    assert isinstance(fmt, FileFormat) and fmt.title
    path = WRITERS[name](tmp_path)
    assert detect_format(path) is fmt  # the registered instance, not some other copy of it
    with fmt.open(path) as src:
        assert isinstance(src, Source) and src.format == name and src.arrays
    got = read_array(path)
    assert got.metadata["format"] == name
    np.testing.assert_array_equal(got.data, CUBE)
    assert open_scene(path).name in ("c", "c73")  # the format's suffix is stripped from the name


# ----------------------------------------------------------------------------- a plugin's format


class CsvCube(FileFormat):
    """A text cube: a ``# csvcube H W [B]`` line, then the values, comma-separated, in C order."""

    name = "csvcube"
    title = "a CSV cube"
    suffixes = (".csvcube",)

    def sniff(self, path: Path, head: bytes) -> bool:
        return head.startswith(b"# csvcube")

    @contextmanager
    def open(self, path: Path) -> Iterator[Source]:
        header, *rows = path.read_text().splitlines()
        shape = tuple(int(v) for v in header.split()[2:])
        data = np.loadtxt(rows, delimiter=",", ndmin=1).reshape(shape)
        yield Source(self.name, {"": Array(data, tuple(range(data.ndim)))}, named=False)


@hookimpl
def register_formats(register: Callable[[FileFormat], None]) -> None:
    register(CsvCube())


# The plugin: a module holding the hook implementation, as a third-party package's entry point would be.
TOY = types.ModuleType("toy_format")
TOY.register_formats = register_formats  # type: ignore[attr-defined]


def _write_csvcube(path: Path, data: np.ndarray) -> Path:
    rows = data.reshape(-1, data.shape[-1]).tolist()
    path.write_text(f"# csvcube {' '.join(map(str, data.shape))}\n" + "\n".join(",".join(map(repr, row)) for row in rows))
    return path


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Plugins:
    plugins = load_plugins(extra={"toy-format": TOY})
    assert plugins.formats["csvcube"].plugin == "toy-format" and not plugins.problems
    _use(monkeypatch, plugins)
    return plugins


def test_without_the_plugin_the_suffix_is_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, BUILTIN)
    path = _write_csvcube(tmp_path / "c.csvcube", CUBE.astype(np.float64))
    with pytest.raises(HsframeError, match=r"unsupported file type '\.csvcube'"):
        read_array(path)
    assert ".csvcube" not in readers.SUPPORTED_SUFFIXES


def test_plugin_format_is_read_by_read_array_and_open_scene(toy: Plugins, tmp_path: Path) -> None:
    cube = CUBE.astype(np.float64)
    labels = np.random.default_rng(1).integers(0, 4, (16, 16)).astype(np.float64)
    cube_path = _write_csvcube(tmp_path / "field.csvcube", cube)
    labels_path = _write_csvcube(tmp_path / "gt.csvcube", labels)

    got = read_array(cube_path)
    assert got.metadata["format"] == "csvcube" and got.metadata["source_dtype"] == "float64"
    np.testing.assert_array_equal(got.data, cube.astype(np.float32))

    scene = open_scene(cube_path, labels_path)
    assert scene.name == "field"  # the plugin's suffix is stripped like a built-in one
    np.testing.assert_array_equal(scene.cube, cube.astype(np.float32))
    np.testing.assert_array_equal(scene.labels, labels.astype(np.int64))

    # Found by content too: the plugin's sniff() runs for a file whose suffix says nothing.
    renamed = cube_path.rename(tmp_path / "field.txt")
    assert read_array(renamed).metadata["format"] == "csvcube"


def test_plugin_format_is_read_by_the_volume_readers(toy: Plugins, tmp_path: Path) -> None:
    volume = np.random.default_rng(2).integers(0, 50, (3, 4, 5)).astype(np.float64)  # (D, H, W)
    mask = (volume > 25).astype(np.float64)
    lv = open_labeled_volume(_write_csvcube(tmp_path / "v.csvcube", volume), _write_csvcube(tmp_path / "m.csvcube", mask))
    assert lv.name == "v" and lv.volume.shape == (1, 3, 4, 5)
    np.testing.assert_array_equal(lv.volume[0], volume.astype(np.float32))
    np.testing.assert_array_equal(lv.labels, mask.astype(np.int64))


def test_unsupported_file_error_lists_the_plugin_suffix(toy: Plugins, tmp_path: Path) -> None:
    assert ".csvcube" in readers.SUPPORTED_SUFFIXES and ".mat" in readers.SUPPORTED_SUFFIXES
    (tmp_path / "x.unknown").write_text("1,2,3\n")
    with pytest.raises(HsframeError, match=r"unsupported file type '\.unknown'.*Supported: .*\.h5.*\.csvcube") as err:
        read_array(tmp_path / "x.unknown")
    assert all(s in str(err.value) for s in readers.SUPPORTED_SUFFIXES)


def test_a_run_trains_on_a_scene_in_the_plugin_format(toy: Plugins, tmp_path: Path) -> None:
    import hsframe
    from hsframe.recording import MemoryRecorder

    rng = np.random.default_rng(3)
    labels = np.repeat(np.repeat(rng.integers(1, 4, (4, 4)), 4, 0), 4, 1).astype(np.float64)  # 16x16, 3 classes
    cube = rng.normal(size=(16, 16, 6)) + labels[..., None]
    cube_path = _write_csvcube(tmp_path / "field.csvcube", cube)
    labels_path = _write_csvcube(tmp_path / "gt.csvcube", labels)
    rec = MemoryRecorder()
    summary = hsframe.run({"model": "nin", "data": {"dataset": str(cube_path), "labels": str(labels_path), "patch_size": 5,
                                                    "pca_components": 4}, "train.epochs": 1, "split.train_fraction": 0.3},
                          recorder=rec, quiet=True, plugins=toy)
    run = rec.runs[summary.run_id]
    assert run.status == "FINISHED" and run.params["dataset"] == "field.csvcube"
    assert run.params["dataset_shape"] == "16x16x6" and 0 <= summary.metrics["test_oa"] <= 1
