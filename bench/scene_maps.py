"""Full-scene maps: patch by patch vs ``scene_forward``, for every registered model that has one.

    nice -n 10 .venv/bin/python bench/scene_maps.py                 # every model (a few minutes on 2 cores)
    nice -n 10 .venv/bin/python bench/scene_maps.py --models ssftt,hybridsn --patch-budget 5

One process, one table. Each model is built from the registry at its declared defaults (patch
size, PCA components or every band of the embedded scene, model options), 16 classes, random
weights and random standardized features (the timing does not depend on the values), on a scene
of ``--size`` x ``--size`` pixels (145: the embedded scene, Indian Pines-sized).

- patch by patch: :func:`hsframe.inference.patch_logits` (what hsframe does for a model without
  ``scene_forward``: ``--batch-size`` patches at a time). Its cost is per pixel, so when the
  whole scene would take longer than ``--patch-budget`` seconds it is timed on the first rows of
  the scene and extrapolated linearly; the table marks those with ``*``.
- scene_forward: :func:`hsframe.inference.scene_logits` on the whole scene (tiles of ``--tile``).

Both ways are checked against each other on the rows patch by patch computed (the same strip
through ``scene_logits``: max |logit difference|). Each side gets one untimed warm-up call (oneDNN builds its kernels on the first one).
"""
from __future__ import annotations

import argparse
import time

import torch

from hsframe.config import build_config
from hsframe.inference import has_scene_forward, patch_logits, scene_logits
from hsframe.plugins import load_plugins
from hsframe.registry import InputSpec

RAW_BANDS = 200  # the embedded scene's bands, for models that read every band
CLASSES = 16


def _timed(fn, *args, **kwargs) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def bench(plugins, name: str, size: int, tile: int, batch_size: int, budget: float) -> dict | None:
    """One table row: seconds for the whole scene each way (patch by patch maybe extrapolated)."""
    cfg = build_config(plugins, name)
    p, bands = cfg.data.patch_size, cfg.data.pca_components or RAW_BANDS
    torch.manual_seed(0)
    model = plugins.model(name).build(InputSpec(1, bands, p, p, CLASSES), **cfg.model_options).eval()
    if not has_scene_forward(model):
        return None
    features = torch.randn(bands, size, size, generator=torch.Generator().manual_seed(1))

    probe_rows = 1
    patch_logits(model, features[:, :1, :8], p, batch_size=batch_size)  # warm-up
    probe, t_probe = _timed(patch_logits, model, features[:, :probe_rows], p, batch_size=batch_size)
    per_row = t_probe / probe_rows
    rows = max(probe_rows, min(size, int(budget / per_row)))
    if rows > probe_rows:
        probe, t_rows = _timed(patch_logits, model, features[:, :rows], p, batch_size=batch_size)
        per_row = t_rows / rows
    t_patch = per_row * size

    scene_logits(model, features[:, :8, :8], p, tile=tile)  # warm-up
    _, t_scene = _timed(scene_logits, model, features, p, tile=tile)
    diff = (scene_logits(model, features[:, :rows], p, tile=tile) - probe).abs().max().item()  # the same strip both ways
    return {"model": name, "plugin": plugins.model(name).plugin, "patch": p, "bands": bands,
            "patch_s": t_patch, "extrapolated": rows < size, "rows": rows, "scene_s": t_scene, "diff": diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=None, help="comma-separated (default: every registered model with scene_forward)")
    parser.add_argument("--size", type=int, default=145, help="scene side in pixels (default 145, the embedded scene)")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--patch-budget", type=float, default=20.0,
                        help="seconds of patch-by-patch timing per model before extrapolating (default 20)")
    args = parser.parse_args()
    plugins = load_plugins()
    names = args.models.split(",") if args.models else sorted(
        n for n, s in plugins.models.items() if s.fitting().per_layer)
    n_px = args.size * args.size
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; scene {args.size}x{args.size} "
          f"({n_px:,} pixels), batch {args.batch_size}, tile {args.tile}\n", flush=True)
    rows = []
    for name in names:
        row = bench(plugins, name, args.size, args.tile, args.batch_size, args.patch_budget)
        if row is not None:
            rows.append(row)
    head = (f"{'model':<16} {'plugin':<9} {'patch':>5} {'bands':>5} {'patch-by-patch s':>17} {'scene_forward s':>16} "
            f"{'px/s patch':>11} {'px/s scene':>11} {'speed-up':>9} {'max |diff|':>11}")
    print(head)
    print("-" * len(head))
    for r in rows:
        mark = "*" if r["extrapolated"] else " "
        print(f"{r['model']:<16} {r['plugin']:<9} {r['patch']:>5} {r['bands']:>5} {r['patch_s']:>16.1f}{mark} "
              f"{r['scene_s']:>16.2f} {n_px / r['patch_s']:>11,.0f} {n_px / r['scene_s']:>11,.0f} "
              f"{r['patch_s'] / r['scene_s']:>8.1f}x {r['diff']:>11.1e}")
    strips = ", ".join(f"{r['model']} {r['rows']}" for r in rows if r["extrapolated"])
    print(f"\n* timed on the first rows of the scene ({strips}) and extrapolated linearly (patch-by-patch cost is per pixel)")


if __name__ == "__main__":
    main()
