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

FLOP columns (``torch.utils.flop_counter.FlopCounterMode``, on the meta device: nothing is computed):
MFLOP of ``forward`` on one patch, and of ``scene_forward`` per pixel of the whole scene (its tiles,
border included); their ratio is the speed-up the scene path would have if both ran at the same
FLOP rate. The counter sees matrix products and convolutions only; this bench adds the FFT path's
transforms (2.5 n log2 n each) and counts its complex products as 4 real ones. A model whose patch
is 1x1 (or whose network reads only the centre pixels) shares nothing between pixels: its ratio is
near 1 by construction, and no scene path can make it 50x. Measured speed-ups above the ratio come
from the patch-by-patch side's overhead (gathering patches, small batches), not from fewer FLOPs.
"""
from __future__ import annotations

import argparse
import math
import time

import torch
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from hsframe.config import build_config
from hsframe.inference import has_scene_forward, patch_logits, scene_logits, tile_windows
from hsframe.plugins import load_plugins
from hsframe.registry import InputSpec

RAW_BANDS = 200  # the embedded scene's bands, for models that read every band
CLASSES = 16


def _timed(fn, *args, **kwargs) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _raw(formula):
    formula._get_raw = True  # FlopCounterMode then passes the tensors, not their shapes
    return formula


def _fft_flops(x: torch.Tensor, dims, *args, out_val: torch.Tensor, **kwargs) -> int:
    """2.5 n log2 n flops per transform of n points (the split-radix count); n from the real side."""
    real = out_val if out_val.is_floating_point() else x  # c2r: the output is the real side
    n = math.prod(real.shape[d] for d in dims)
    return int(real.numel() // n * 2.5 * n * math.log2(max(n, 2)))


def _complex_aware(formula):
    """A matrix product's count, times 4 when its operands are complex (4 real multiply-adds each)."""
    def count(*args, out_val=None, **kwargs) -> int:
        flops = formula(*args, out_val=out_val, **kwargs)
        return 4 * flops if any(isinstance(a, torch.Tensor) and a.is_complex() for a in args) else flops
    return _raw(count)


def _counter() -> FlopCounterMode:
    aten = torch.ops.aten
    mapping = {op: _complex_aware(flop_registry[op]) for op in (aten.mm, aten.bmm, aten.addmm, aten.baddbmm)}
    mapping.update({op: _raw(_fft_flops) for op in (aten._fft_r2c, aten._fft_c2c, aten._fft_c2r)})
    return FlopCounterMode(display=False, custom_mapping=mapping)


def flops(model: torch.nn.Module, p: int, bands: int, size: int, tile: int) -> tuple[float, float]:
    """``(FLOPs of forward on one patch, FLOPs of scene_forward per pixel of the size x size scene)``.

    On the meta device (shapes only, nothing computed); moves ``model`` there, so call it last.
    """
    model = model.to("meta")
    with torch.no_grad():
        with _counter() as c:
            model(torch.zeros(1, 1, bands, p, p, device="meta"))
        patch = c.get_total_flops()
        padded = torch.zeros(bands, size + p - 1, size + p - 1, device="meta")
        with _counter() as c:
            for _, _, rows, cols in tile_windows(size, size, p, tile):
                model.scene_forward(padded[None, None, :, rows, cols])
        return patch, c.get_total_flops() / size**2


def bench(plugins, name: str, size: int, tile: int, batch_size: int, budget: float, patch: int | None = None) -> dict | None:
    """One table row: seconds for the whole scene each way (patch by patch maybe extrapolated)."""
    cfg = build_config(plugins, name)
    p, bands = patch or cfg.data.patch_size, cfg.data.pca_components or RAW_BANDS
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
    patch_flops, scene_flops = flops(model, p, bands, size, tile)
    return {"model": name, "plugin": plugins.model(name).plugin, "patch": p, "bands": bands,
            "patch_mflop": patch_flops / 1e6, "scene_mflop": scene_flops / 1e6,
            "patch_s": t_patch, "extrapolated": rows < size, "rows": rows, "scene_s": t_scene, "diff": diff}


def _note(r: dict) -> str:
    ratio = r["patch_mflop"] / r["scene_mflop"]
    if r["patch"] == 1:
        return "1x1 patch: nothing shared, ~1x by construction"
    return "50x reachable only via patch-side overhead" if ratio < 50 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=None, help="comma-separated (default: every registered model with scene_forward)")
    parser.add_argument("--size", type=int, default=145, help="scene side in pixels (default 145, the embedded scene)")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--patch", action="append", default=[], metavar="MODEL=P",
                        help="another patch size for a model, e.g. hybridsn=25 (the paper's); repeatable")
    parser.add_argument("--patch-budget", type=float, default=20.0,
                        help="seconds of patch-by-patch timing per model before extrapolating (default 20)")
    args = parser.parse_args()
    patches = {k: int(v) for k, v in (item.split("=") for item in args.patch)}
    plugins = load_plugins()
    names = args.models.split(",") if args.models else sorted(
        n for n, s in plugins.models.items() if s.fitting().per_layer)
    n_px = args.size * args.size
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; scene {args.size}x{args.size} "
          f"({n_px:,} pixels), batch {args.batch_size}, tile {args.tile}\n", flush=True)
    rows = []
    for name in names:
        row = bench(plugins, name, args.size, args.tile, args.batch_size, args.patch_budget, patches.get(name))
        if row is not None:
            rows.append(row)
            print(f"  {name}: {row['patch_s'] / row['scene_s']:.1f}x", flush=True)
    head = (f"{'model':<16} {'plugin':<9} {'patch':>5} {'bands':>5} {'patch-by-patch s':>17} {'scene_forward s':>16} "
            f"{'px/s patch':>11} {'px/s scene':>11} {'speed-up':>9} {'MFLOP/patch':>12} {'MFLOP/px scene':>15} {'FLOP ratio':>11} "
            f"{'max |diff|':>11}  note")
    print(head)
    print("-" * len(head))
    for r in rows:
        mark = "*" if r["extrapolated"] else " "
        print(f"{r['model']:<16} {r['plugin']:<9} {r['patch']:>5} {r['bands']:>5} {r['patch_s']:>16.1f}{mark} "
              f"{r['scene_s']:>16.2f} {n_px / r['patch_s']:>11,.0f} {n_px / r['scene_s']:>11,.0f} "
              f"{r['patch_s'] / r['scene_s']:>8.1f}x {r['patch_mflop']:>12.2f} {r['scene_mflop']:>15.3f} "
              f"{r['patch_mflop'] / r['scene_mflop']:>10.1f}x {r['diff']:>11.1e}  {_note(r)}")
    strips = ", ".join(f"{r['model']} {r['rows']}" for r in rows if r["extrapolated"])
    print(f"\n* timed on the first rows of the scene ({strips}) and extrapolated linearly (patch-by-patch cost is per pixel)")
    print("FLOP ratio: MFLOP/patch over MFLOP/px scene, the speed-up at equal FLOP rates (module docstring).")


if __name__ == "__main__":
    main()
