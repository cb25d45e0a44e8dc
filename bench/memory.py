"""Peak memory of a whole training run: hsframe vs the common recipe that materializes every patch.

    .venv/bin/python bench/memory.py            # both, side by side (about 5 minutes on 2 cores)

Both train HybridSN on an Indian Pines-sized cube (the 145x145x200 synthetic-pines scene) with the
published settings: 25x25 patches, 30 PCA components, 30% training pixels, batch 256, one epoch
(peak memory does not grow with epochs), then predict the test pixels. Each side runs in its own
process; the figure is that process's peak resident set size (ru_maxrss). hsframe is measured
twice: as is, and with `train.micro_batch_size=16` (gradient accumulation: the same batch-256
update) and `eval.batch_size=32`, because batch-256 activations alone take about 1.2 GiB in both
pipelines.

The common recipe, as in the widely copied HybridSN notebook: PCA on the whole image (float64),
zero padding, then `createImageCubes`, which builds a float64 array of a 25x25x30 patch for EVERY
pixel (21,025 x 25 x 25 x 30 x 8 B = 3.2 GB), drops the unlabeled ones (a copy) and splits with
train_test_split (more copies) before training.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PATCH, COMPONENTS, TRAIN = 25, 30, 0.3


def common_recipe() -> None:
    import torch
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    from hsframe.data.synthetic import synthetic_pines
    from hsframe_hybridsn.model import HybridSN

    scene = synthetic_pines()
    x = scene.cube.astype(np.float64)  # scipy.io.loadmat hands the notebook float64 data
    h, w, b = x.shape
    x = PCA(COMPONENTS, whiten=True).fit_transform(x.reshape(-1, b)).reshape(h, w, COMPONENTS)  # whole image
    r = PATCH // 2
    padded = np.zeros((h + 2 * r, w + 2 * r, COMPONENTS))
    padded[r:-r, r:-r] = x
    patches = np.zeros((h * w, PATCH, PATCH, COMPONENTS))  # every pixel's patch, float64
    labels = np.zeros(h * w)
    i = 0
    for row in range(r, h + r):
        for col in range(r, w + r):
            patches[i] = padded[row - r : row + r + 1, col - r : col + r + 1]
            labels[i] = scene.labels[row - r, col - r]
            i += 1
    patches = patches[labels > 0]  # removeZeroLabels
    labels = labels[labels > 0] - 1
    xtr, xte, ytr, yte = train_test_split(patches, labels, train_size=TRAIN, random_state=345, stratify=labels)
    xtr = xtr.reshape(-1, PATCH, PATCH, COMPONENTS, 1)
    xte = xte.reshape(-1, PATCH, PATCH, COMPONENTS, 1)
    torch.manual_seed(0)
    model = HybridSN(bands=COMPONENTS, patch_size=(PATCH, PATCH), num_classes=scene.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = np.random.default_rng(0).permutation(len(xtr))
    for start in range(0, len(xtr), 256):  # one epoch; (N, H, W, D, 1) -> (N, 1, D, H, W) per batch
        sel = order[start : start + 256]
        xb = torch.from_numpy(xtr[sel]).float().permute(0, 4, 3, 1, 2)
        loss = torch.nn.functional.cross_entropy(model(xb), torch.from_numpy(ytr[sel]).long())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        correct = sum(
            int((model(torch.from_numpy(xte[s : s + 512]).float().permute(0, 4, 3, 1, 2)).argmax(1).numpy() == yte[s : s + 512]).sum())
            for s in range(0, len(xte), 512)
        )
    print(json.dumps({"test_oa": correct / len(xte)}))


def hsframe_run(micro: bool) -> None:
    from click.testing import CliRunner

    from hsframe.cli import cli

    # Micro-batches of 16 accumulate to the same batch-256 update; inference in batches of 32.
    extra = ["--set", "train.micro_batch_size=16", "--set", "eval.batch_size=32"] if micro else []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.json"
        r = CliRunner().invoke(cli, ["run", "--model", "hybridsn", "--preset", "paper", "--set", "train.epochs=1",
                                     "--set", "eval.full_map=false", *extra, "--tracking-uri", f"sqlite:///{tmp}/m.db",
                                     "--summary-json", str(out)])
        if r.exit_code != 0:
            raise SystemExit(r.output)
        print(json.dumps({"test_oa": json.loads(out.read_text())["metrics"]["test_oa"]}))


def measure(which: str) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", which], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{which} failed:\n{proc.stdout}\n{proc.stderr}")
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB -> GiB, max over children so far
    return peak_gb, time.perf_counter() - t0, proc.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=["common", "hsframe", "hsframe-micro"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "common":
            common_recipe()
        else:
            hsframe_run(micro=args.child == "hsframe-micro")
        return
    # Smallest first: RUSAGE_CHILDREN is a running maximum over the children measured so far.
    micro, t_micro, res_micro = measure("hsframe-micro")
    plain, t_plain, res_plain = measure("hsframe")
    theirs, t_theirs, res_theirs = measure("common")
    print(f"Indian Pines-sized cube 145x145x200, {PATCH}x{PATCH} patches, {COMPONENTS} components, {TRAIN:.0%} train, "
          f"batch 256, 1 epoch; peak resident memory of the whole run")
    print(f"  common recipe (every patch materialized, float64)     {theirs:5.2f} GiB  ({t_theirs:4.0f} s)  {res_theirs}")
    print(f"  hsframe, patches on the fly                           {plain:5.2f} GiB  ({t_plain:4.0f} s)  {res_plain}"
          f"  -> {theirs / plain:.1f}x lower")
    print(f"  hsframe, patches on the fly + micro-batches of 16     {micro:5.2f} GiB  ({t_micro:4.0f} s)  {res_micro}"
          f"  -> {theirs / micro:.1f}x lower")


if __name__ == "__main__":
    main()
