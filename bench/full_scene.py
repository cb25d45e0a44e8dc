"""Full-scene inference: the common recipe's patch-by-patch batches vs infer_scene's tiled pass.

    .venv/bin/python bench/full_scene.py                     # both scenes (about 5 minutes on 2 cores)
    .venv/bin/python bench/full_scene.py --ip-pixels 2000    # quicker: (a) on a subset, extrapolated

HybridSN with the published sizes (25x25 patches) and random weights, on random features (the
timing does not depend on the values) of two scene sizes:

* Indian Pines-sized: 145x145 pixels, 30 components, 16 classes (21,025 pixels).
* Pavia University-sized: 610x340 pixels, 15 components, 9 classes (207,400 pixels).

(a) The common recipe: materialize the centred 25x25 patches of a batch of pixels (batch 256),
    run ``forward``, keep the logits; every pixel's convolutions are computed from scratch.
(b) :func:`hsframe.inference.infer_scene`: ``scene_forward`` on overlapping 256x256 tiles (the
    timed call is ``scene_logits(...).argmax(0)``, which is what infer_scene does, so the
    logits are at hand for the check).

Where (a) over a whole scene would take too long (Pavia: about half an hour on 2 cores), it is timed
on a random subset of pixels and extrapolated linearly (its cost is per pixel), and the printed
line says so. Both are checked on the pixels (a) computed: same predictions, max logit difference.
Each side gets one untimed warm-up call first (oneDNN builds its kernels on the first call).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import torch

from hsframe.data.patches import PatchSource
from hsframe.inference import scene_logits

PATCH = 25


@dataclass
class SceneSize:
    name: str
    height: int
    width: int
    components: int
    classes: int


SCENES = {
    "indian_pines": SceneSize("Indian Pines-sized", 145, 145, 30, 16),
    "pavia_university": SceneSize("Pavia University-sized", 610, 340, 15, 9),
}


@torch.no_grad()
def patch_by_patch(model: torch.nn.Module, source: PatchSource, index: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(a): ``(N, K_classes)`` logits of the pixels at ``index``, one materialized batch of patches at a time."""
    out = []
    for start in range(0, len(index), batch_size):
        patches = source.patches(index[start : start + batch_size])  # (B, 1, D, p, p)
        out.append(model(patches))
    return torch.cat(out)


def bench(size: SceneSize, pixels: int | None, tile: int, batch_size: int, seed: int) -> float:
    """Time (a) and (b) on one scene size, print the line, return the ratio (a) / (b)."""
    from hsframe_hybridsn.model import HybridSN

    torch.manual_seed(seed)
    model = HybridSN(bands=size.components, patch_size=(PATCH, PATCH), num_classes=size.classes).eval()
    features = torch.randn(size.components, size.height, size.width)  # (K, H, W), like standardized PCA output
    source = PatchSource(features, PATCH, "zero")
    n = size.height * size.width
    subset = pixels is not None and pixels < n
    index = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:pixels].sort().values if subset else torch.arange(n)

    patch_by_patch(model, source, index[:batch_size], batch_size)  # warm-up
    t0 = time.perf_counter()
    logits_a = patch_by_patch(model, source, index, batch_size)  # (N, K)
    measured_a = time.perf_counter() - t0
    time_a = measured_a * n / len(index)

    scene_logits(model, features[:, :8, :8], PATCH, tile=tile)  # warm-up
    t0 = time.perf_counter()
    logits_b = scene_logits(model, features, PATCH, "zero", tile=tile)  # (K, H, W)
    pred_b = logits_b.argmax(0)
    time_b = time.perf_counter() - t0

    flat_b = logits_b.reshape(size.classes, -1).T[index]  # (N, K), the pixels (a) computed
    agree = int((pred_b.reshape(-1)[index] == logits_a.argmax(1)).sum())
    diff = (flat_b - logits_a).abs().max().item()
    ratio = time_a / time_b
    how = (f"timed on {len(index):,} random pixels ({measured_a:.1f} s) and EXTRAPOLATED linearly to {n:,}"
           if subset else f"all {n:,} pixels, measured")
    print(f"{size.name} {size.height}x{size.width}, {size.components} components, {PATCH}x{PATCH} patches, "
          f"{size.classes} classes, {n:,} pixels:")
    print(f"  (a) patch by patch (batch {batch_size}) {time_a:8.1f} s   [{how}]")
    print(f"  (b) infer_scene (tile {tile})      {time_b:8.1f} s   [all {n:,} pixels, measured]")
    print(f"  (b) is {ratio:.1f}x faster; predictions agree on {agree:,}/{len(index):,} pixels, "
          f"max |logit (a) - (b)| = {diff:.2e}", flush=True)
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", default="indian_pines,pavia_university", help=f"comma-separated, of {', '.join(SCENES)}")
    parser.add_argument("--ip-pixels", type=int, default=None, help="pixels for (a) on Indian Pines (default: all)")
    parser.add_argument("--pavia-pixels", type=int, default=4000, help="pixels for (a) on Pavia University (default: 4000)")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")
    pixels = {"indian_pines": args.ip_pixels, "pavia_university": args.pavia_pixels}
    for key in args.scenes.split(","):
        ratio = bench(SCENES[key], pixels[key], args.tile, args.batch_size, args.seed)
        if key == "indian_pines":
            print(f"  target (b) >= 50x faster than (a): {'met' if ratio >= 50 else 'NOT met'}")
        print()


if __name__ == "__main__":
    main()
