"""Peak memory of one training epoch on a scene larger than the process may hold: data.out_of_core.

    nice -n 10 .venv/bin/python bench/large_scene.py              # 2000 x 2000 x 224 float32 (3.6 GB .npy), about 2 minutes
    .venv/bin/python bench/large_scene.py --size 500 --in-ram      # smaller, and the old in-memory path beside it

Writes a synthetic scene (five classes in horizontal bands, class spectra plus noise) as a .npy, block by
block, and a sparse label map (a 50 x 50 grid of labeled pixels: 2,500), runs `hsframe run` on it in
a child process (conv3d, 7x7 patches, 8 PCA components, 20% training pixels, one epoch, eval.full_map=false)
and prints that child's peak resident memory (ru_maxrss, in GiB and in decimal GB: issue #12's target is 1.5 GB)
and wall time. The files are deleted afterwards, even on error. With --in-ram the same run on the in-memory path
(data.out_of_core=false) runs after it; without, the figure it needs at least (the float32 cube, O(H x W x B)) is
printed instead.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CLASSES, LABELED_PER_SIDE = 5, 50


def write_scene(folder: Path, size: int, bands: int) -> tuple[Path, Path]:
    """``cube.npy`` (size x size x bands float32, written 10 rows at a time) and ``labels.npy``."""
    rng = np.random.default_rng(0)
    spectra = np.cumsum(rng.normal(0, 0.05, (CLASSES, bands)), axis=1).astype(np.float32) + 0.5
    region = (np.arange(size) * CLASSES // size)  # class of each image row
    # Plain writes, 10 rows at a time: this process stays small, and a child's ru_maxrss starts from its parent's
    # (Linux carries the parent's peak into a vfork'ed child), so a memmap written here would count in the child.
    with open(folder / "cube.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (size, size, bands)})
        for lo in range(0, size, 10):
            hi = min(lo + 10, size)
            noise = rng.normal(0, 0.1, (hi - lo, size, bands)).astype(np.float32)
            fh.write((spectra[region[lo:hi]][:, None, :] + noise).tobytes())
    labels = np.zeros((size, size), np.int64)
    step = max(1, size // LABELED_PER_SIDE)
    labels[::step, ::step] = (region[::step] + 1)[:, None]
    np.save(folder / "labels.npy", labels)
    return folder / "cube.npy", folder / "labels.npy"


def run(cube: Path, labels: Path, out_of_core: bool, folder: Path) -> tuple[float, float, dict]:
    """Peak RSS (bytes) and wall time (s) of `hsframe run` in a child process, and its test metrics."""
    summary = folder / f"summary-{out_of_core}.json"
    args = [sys.executable, "-m", "hsframe", "run", "--dataset", str(cube), "--labels", str(labels), "--model", "conv3d",
            "--set", "data.patch_size=7", "--set", "data.pca_components=8", "--set", "split.train_fraction=0.2",
            "--set", "train.epochs=1", "--set", "eval.full_map=false", "--set", f"data.out_of_core={str(out_of_core).lower()}",
            "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}", "--summary-json", str(summary)]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"hsframe run (out_of_core={out_of_core}) failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    # A running maximum over the children so far: the smaller run goes first.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    return peak, wall, json.loads(summary.read_text())["metrics"]


def _size(n_bytes: float) -> str:
    """``n_bytes`` in binary and decimal units: the issue's targets are in GB (10^9 bytes), ru_maxrss reads naturally in GiB."""
    return f"{n_bytes / 2**30:5.2f} GiB = {n_bytes / 1e9:5.2f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000, help="H = W of the scene (default 2000)")
    parser.add_argument("--bands", type=int, default=224)
    parser.add_argument("--in-ram", action="store_true", help="also run the in-memory path (needs several times the cube's size)")
    parser.add_argument("--dir", default=None, help="where to write the scene (default: the system's temporary folder)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hsframe-large-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        cube, labels = write_scene(folder, args.size, args.bands)
        size = cube.stat().st_size
        print(f"scene {args.size}x{args.size}x{args.bands} float32: {_size(size)} on disk, written in {time.perf_counter() - t0:.0f} s")
        peak, wall, m = run(cube, labels, True, folder)
        print(f"  out of core (data.out_of_core=true)   peak RSS {_size(peak)}   {wall:5.0f} s   test OA {m['test_oa']:.3f}")
        if args.in_ram:
            peak2, wall2, m2 = run(cube, labels, False, folder)
            print(f"  in memory   (data.out_of_core=false)  peak RSS {_size(peak2)}   {wall2:5.0f} s   test OA {m2['test_oa']:.3f}")
        else:
            print(f"  in memory   (data.out_of_core=false)  not run: it holds the float32 cube alone, {_size(size)} "
                  "(O(H x W x B)), plus its copies while projecting")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
