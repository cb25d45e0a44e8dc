"""Fuzzing every registered file format: a small valid file of the format, damaged at random (bytes flipped,
cut short, replaced by random bytes) and read as ``hsframe run --dataset FILE`` reads it, gives a scene or one
line of HsframeError: never another exception, never a hang, never a huge allocation."""
from __future__ import annotations

import resource
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import spectral.io.envi as envi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_formats import WRITERS

from hsframe import load_config
from hsframe.data.resolve import file_dataset, load_dataset
from hsframe.data.scene import Scene
from hsframe.errors import HsframeError
from hsframe.plugins import load_plugins

FORMATS = sorted(load_plugins().formats)  # every registered format: a new one is fuzzed once it has a writer
EXAMPLE_TIMEOUT_S = 10  # one damaged file; a hang fails the example
RSS_GROWTH_BOUND = 1 << 30  # peak memory may not grow by more than 1 GiB over all the examples of a test
# derandomize: the same examples on every CI run, so a failure is reproducible rather than a draw.
FUZZ = settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_every_registered_format_is_fuzzed() -> None:
    assert set(FORMATS) <= set(WRITERS), f"write a small file of {sorted(set(FORMATS) - set(WRITERS))} in test_formats.WRITERS"


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def hang(signum, frame):
        raise TimeoutError(f"reading a damaged file took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _load(path: Path):
    """What ``hsframe run --dataset PATH`` does with the file: resolve it as a scene and load it."""
    cfg = load_config({"data.dataset": str(path)}, model="hybridsn")
    return load_dataset(cfg, file_dataset(cfg, path))


def _read(path: Path) -> None:
    """:func:`_load`, which must give a scene or one line of HsframeError, in time."""
    with _time_limit(EXAMPLE_TIMEOUT_S):
        try:
            data = _load(path)
        except HsframeError as exc:
            message = str(exc)
            assert message and "\n" not in message, f"not one line: {message!r}"
            return
    assert isinstance(data, Scene) and data.cube.ndim == 3


@contextmanager
def _damaged(name: str, damage) -> Iterator[Path]:
    """A fresh folder with the format's file (and companions, e.g. an ENVI header) written, one of them damaged."""
    with tempfile.TemporaryDirectory(prefix="hsframe-fuzz-") as folder:
        d = Path(folder)
        path = WRITERS[name](d)
        files = sorted(p for p in d.iterdir() if p.is_file())
        target = damage.target(files)
        target.write_bytes(damage.apply(target.read_bytes()))
        yield path


class _Flips:
    def __init__(self, flips: list[tuple[float, int]], pick: int) -> None:
        self.flips, self.pick = flips, pick

    def target(self, files: list[Path]) -> Path:
        return files[self.pick % len(files)]

    def apply(self, data: bytes) -> bytes:
        out = bytearray(data)
        for where, xor in self.flips:
            out[min(int(where * len(out)), len(out) - 1)] ^= xor
        return bytes(out)

    def __repr__(self) -> str:
        return f"flips{self.flips} in file {self.pick}"


class _Cut(_Flips):
    def apply(self, data: bytes) -> bytes:
        return data[: int(self.flips[0][0] * len(data))]

    def __repr__(self) -> str:
        return f"cut at {self.flips[0][0]:.4f} of file {self.pick}"


class _Random(_Flips):
    def __init__(self, content: bytes, pick: int) -> None:
        self.content, self.pick = content, pick

    def apply(self, data: bytes) -> bytes:
        return self.content

    def __repr__(self) -> str:
        return f"{len(self.content)} random bytes in file {self.pick}"


_where = st.floats(0, 1, exclude_max=True)
_pick = st.integers(0, 3)
DAMAGE = st.one_of(
    st.builds(_Flips, st.lists(st.tuples(_where, st.integers(1, 255)), min_size=1, max_size=16), _pick),
    st.builds(_Cut, st.lists(st.tuples(_where, st.just(0)), min_size=1, max_size=1), _pick),
    st.builds(_Random, st.binary(max_size=4096), _pick),
)


@pytest.mark.parametrize("name", FORMATS)
@FUZZ
@given(damage=DAMAGE)
def test_a_damaged_file_is_a_scene_or_one_line_of_error(name: str, damage) -> None:
    before = _peak_rss()
    with _damaged(name, damage) as path:
        _read(path)
    assert _peak_rss() - before < RSS_GROWTH_BOUND, f"{damage}: peak memory grew by {(_peak_rss() - before) >> 20} MiB"


# ----------------------------------------------------------------------------- ENVI headers that lie

CUBE = np.arange(6 * 5 * 4, dtype=np.float32).reshape(6, 5, 4)
FIELDS = {
    "data type": st.one_of(st.integers(-3, 20), st.just(99), st.sampled_from(["x", "4.5", ""])),
    "samples": st.one_of(st.integers(-2, 50), st.just(10**12), st.just("five")),
    "lines": st.one_of(st.integers(-2, 50), st.just(10**6)),
    "bands": st.one_of(st.integers(-2, 50), st.just(10**6)),
    "header offset": st.one_of(st.integers(-5, 2000), st.just(10**15)),
    "interleave": st.sampled_from(["bsq", "bil", "bip", "xyz", ""]),
    "byte order": st.sampled_from(["0", "1", "2", "x"]),
}


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(sorted(FIELDS)), st.none(), min_size=1, max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries({k: FIELDS[k] for k in keys})))
def test_an_envi_header_that_disagrees_with_its_image_is_one_line(changes: dict) -> None:
    before = _peak_rss()
    with tempfile.TemporaryDirectory(prefix="hsframe-fuzz-") as folder:
        header = Path(folder) / "c.hdr"
        envi.save_image(str(header), CUBE, dtype=np.float32, interleave="bsq", ext=".img")
        lines = [line for line in header.read_text().splitlines() if line.split("=")[0].strip().lower() not in changes]
        header.write_text("\n".join([*lines, *(f"{k} = {v}" for k, v in changes.items())]) + "\n")
        _read(header)
    assert _peak_rss() - before < RSS_GROWTH_BOUND


@pytest.mark.parametrize("field, value, expected", [
    ("data type", 99, r"c\.hdr: ENVI 'data type = 99' is not a data type ENVI defines; valid: 1 \(uint8\), 2 \(int16\)"),
    ("samples", 4, r"ENVI image .*c\.img does not match its header .*c\.hdr: 6x4x4 float32 values need 384 bytes .* has 480"),  # was read
    ("samples", 7, r"ENVI image .*c\.img does not match its header .*c\.hdr: 6x7x4 float32 values need 672 bytes .* has 480"),
    ("data type", 5, r"ENVI image .*c\.img does not match its header .*c\.hdr: 6x5x4 float64 values need 960 bytes .* has 480"),
])
def test_envi_header_errors_name_the_header_and_the_field(tmp_path: Path, field: str, value: int, expected: str) -> None:
    header = tmp_path / "c.hdr"
    envi.save_image(str(header), CUBE, dtype=np.float32, interleave="bsq", ext=".img")
    text = header.read_text()
    kept = [line for line in text.splitlines() if line.split("=")[0].strip().lower() != field]
    header.write_text("\n".join([*kept, f"{field} = {value}"]) + "\n")
    with pytest.raises(HsframeError, match=expected):
        _load(header)


def test_a_damaged_copy_leaves_the_original_writer_intact(tmp_path: Path) -> None:
    """The fixtures themselves read back (so a failure above is the damage, not the writer)."""
    for name in FORMATS:
        folder = tmp_path / name
        folder.mkdir()
        assert isinstance(_load(WRITERS[name](folder)), Scene)
        shutil.rmtree(folder)


# ----------------------------------------------------------------------------- headers that claim a huge array

HUGE = (10**6, 10**6, 1000)  # 4 * 10^15 bytes of float32


def _npz_claiming_huge(d: Path) -> Path:
    import io
    import zipfile

    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": HUGE})
    member.write(b"\0" * 64)
    with zipfile.ZipFile(d / "huge.npz", "w") as z:
        z.writestr("cube.npy", member.getvalue())
    return d / "huge.npz"


def _hdf5_claiming_huge(d: Path) -> Path:
    import h5py

    with h5py.File(d / "huge.h5", "w") as f:
        f.create_dataset("cube", shape=HUGE, dtype="f4", chunks=(1, 64, 64))  # no chunk written: a tiny file
    return d / "huge.h5"


@pytest.mark.parametrize("write", [_npz_claiming_huge, _hdf5_claiming_huge])
def test_a_header_claiming_a_huge_array_is_refused_before_anything_is_allocated(tmp_path: Path, write) -> None:
    path = write(tmp_path)
    before = _peak_rss()
    with pytest.raises(HsframeError, match=r"not enough memory to read .*huge\.\w+ \(it claims 1000000x1000000x1000 float32 values "
                                           r"\(3,725,290\.3 GiB\), more than this machine's .* GiB of memory\): if the file is not that "
                                           r"big, it is damaged"):
        _load(path)
    assert _peak_rss() - before < RSS_GROWTH_BOUND


def test_a_library_error_over_several_lines_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hsframe.data.io.npy import NpyFormat

    def broken(self, path):
        raise ValueError("bad header\n  at byte 12\n")

    monkeypatch.setattr(NpyFormat, "open", broken)
    with pytest.raises(HsframeError) as info:
        _load(WRITERS["npy"](tmp_path))
    assert str(info.value).startswith(f"could not read {tmp_path / 'c.npy'} as a NumPy .npy file: ValueError: bad header at byte 12. ")
