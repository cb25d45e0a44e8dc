"""Training and full-scene throughput: hsframe's pipeline against the common recipe, same model, same batch.

    .venv/bin/python bench/throughput.py                       # hybridsn and conv3d, on the current device
    .venv/bin/python bench/throughput.py --models hybridsn --batches 10 --device cpu

For each model, at its declared defaults (patch size, PCA components) on an Indian Pines-sized scene
(145 x 145 pixels, random features: the timing does not depend on the values), each measurement in
its own process, one after the other:

* **train, hsframe**: patches cut on the fly from the device-resident float32 feature cube
  (``PatchSource``), Adam steps on batches of ``--batch``; samples/s over ``--batches`` batches after
  two untimed warm-up batches.
* **train, common recipe**: every training patch materialized up front as float64 (as the widely
  copied notebooks do), in a ``TensorDataset`` / shuffling ``DataLoader``, each batch cast to float32
  and moved to the device, the same model, optimizer and batch.
* **map, hsframe**: every pixel of the scene through ``infer_scene`` (``scene_forward`` where the
  model has it, patch by patch otherwise); pixels/s.
* **map, common recipe**: materialized float64 patches of ``--map-pixels`` random pixels, batch by
  batch through ``forward``; pixels/s (its cost is per pixel, so a subset gives its rate).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

SIZE, TRAIN_FRACTION = 145, 0.3


def _setup(model_name: str, device_name: str):
    import torch

    from hsframe.config import build_config
    from hsframe.device import select_device
    from hsframe.plugins import load_plugins
    from hsframe.registry import InputSpec

    plugins = load_plugins()
    cfg = build_config(plugins, model_name)
    p, k = cfg.data.patch_size, cfg.data.pca_components or 30
    device = select_device(device_name)
    torch.manual_seed(0)
    features = torch.randn(k, SIZE, SIZE)
    model = plugins.model(model_name).create(InputSpec(1, k, p, p, 16), cfg.model_options).to(device)
    n_train = int(SIZE * SIZE * TRAIN_FRACTION)
    index = torch.randperm(SIZE * SIZE)[:n_train].numpy()
    targets = torch.randint(0, 16, (SIZE * SIZE,)).numpy()
    return torch, model, features, p, device, index, targets


def _materialize(features, p: int, index):
    """The notebook way: a float64 array holding the p x p patch of every listed pixel."""
    import numpy as np

    k, h, w = features.shape
    r = p // 2
    padded = np.zeros((k, h + 2 * r, w + 2 * r))
    padded[:, r:-r, r:-r] = features.numpy().astype(np.float64)
    rows, cols = np.divmod(index, w)
    return np.stack([padded[:, i:i + p, j:j + p] for i, j in zip(rows, cols)])[:, None]  # (N, 1, K, p, p) float64


def _train_timed(torch, model, batches, device, n: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    seen, started = 0, None
    for b, (x, y) in enumerate(batches):
        if b == 2:  # two untimed warm-up batches (kernel selection, allocator)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seen, started = 0, time.perf_counter()
        if b == n + 2:
            break
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x.to(device, torch.float32, non_blocking=True)), y.to(device)).backward()
        optimizer.step()
        seen += len(y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - started)


def measure(kind: str, model_name: str, device_name: str, batch: int, n: int, map_pixels: int) -> dict:
    torch, model, features, p, device, index, targets = _setup(model_name, device_name)
    if kind == "train-hsframe":
        from hsframe.data.patches import PatchSource

        source = PatchSource(features.to(device), p)

        def epochs():
            while True:
                yield from source.batches(index, targets[index], batch, shuffle=True, generator=torch.Generator().manual_seed(0))

        return {"samples_per_s": _train_timed(torch, model, epochs(), device, n)}
    if kind == "train-recipe":
        from torch.utils.data import DataLoader, TensorDataset

        data = TensorDataset(torch.from_numpy(_materialize(features, p, index)), torch.from_numpy(targets[index]))

        def epochs():
            while True:
                yield from DataLoader(data, batch_size=batch, shuffle=True)

        return {"samples_per_s": _train_timed(torch, model, epochs(), device, n)}
    model.eval()
    if kind == "map-hsframe":
        from hsframe.inference import has_scene_forward, infer_scene

        infer_scene(model, features[:, :32, :32], p, device=device, batch_size=batch)  # warm-up
        t0 = time.perf_counter()
        infer_scene(model, features, p, device=device, batch_size=batch)
        return {"pixels_per_s": SIZE * SIZE / (time.perf_counter() - t0), "scene_forward": has_scene_forward(model)}
    pixels = torch.randperm(SIZE * SIZE)[:map_pixels].numpy()
    patches = torch.from_numpy(_materialize(features, p, pixels))
    with torch.no_grad():
        model(patches[:batch].to(device, torch.float32))  # warm-up
        t0 = time.perf_counter()
        for s in range(0, len(patches), batch):
            model(patches[s:s + batch].to(device, torch.float32)).argmax(1).cpu()
    return {"pixels_per_s": len(patches) / (time.perf_counter() - t0)}


KINDS = ("train-recipe", "train-hsframe", "map-recipe", "map-hsframe")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="hybridsn,conv3d")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=20, help="timed training batches")
    ap.add_argument("--map-pixels", type=int, default=2048, help="pixels the common recipe's map rate is measured on")
    ap.add_argument("--one", nargs=2, metavar=("KIND", "MODEL"), help=argparse.SUPPRESS)  # a child process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], args.device, args.batch, args.batches, args.map_pixels)))
        return
    rows = []
    for model in args.models.split(","):
        got = {}
        for kind in KINDS:
            out = subprocess.run([sys.executable, __file__, "--one", kind, model, "--device", args.device, "--batch", str(args.batch),
                                  "--batches", str(args.batches), "--map-pixels", str(args.map_pixels)],
                                 capture_output=True, text=True, check=True)
            got[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((model, got))
    print(f"device {args.device}, batch {args.batch}, {args.batches} timed training batches, {SIZE}x{SIZE} scene")
    print(f"{'model':<10} {'train recipe':>14} {'train hsframe':>14} {'x':>6} {'map recipe':>12} {'map hsframe':>12} {'x':>7}  map path")
    for model, g in rows:
        tr, th = g["train-recipe"]["samples_per_s"], g["train-hsframe"]["samples_per_s"]
        mr, mh = g["map-recipe"]["pixels_per_s"], g["map-hsframe"]["pixels_per_s"]
        path = "scene_forward" if g["map-hsframe"]["scene_forward"] else "patch by patch"
        print(f"{model:<10} {tr:>12.0f}/s {th:>12.0f}/s {th / tr:>5.2f}x {mr:>10.0f}/s {mh:>10.0f}/s {mh / mr:>6.1f}x  {path}")


if __name__ == "__main__":
    main()
