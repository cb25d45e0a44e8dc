"""Training and full-scene throughput: hsframe's pipeline against the common recipe, same model, same batch.

    .venv/bin/python bench/throughput.py                       # hybridsn and conv3d, on the current device
    .venv/bin/python bench/throughput.py --models hybridsn --batches 10 --repeats 3 --device cpu

For each model, at its declared defaults (patch size, PCA components) on an Indian Pines-sized scene
(145 x 145 pixels, random features: the timing does not depend on the values), each measurement in
its own process, one after the other (the two training sides alternate, one process per repeat):

* **train, hsframe**: patches cut on the fly from the device-resident float32 feature cube
  (``PatchSource``), steps of hsframe's own optimizer (``hsframe.training.make_optimizer``: fused
  kernels where torch has them) on batches of ``--batch``; samples/s over ``--batches`` batches after
  two untimed warm-up batches, in each of ``--repeats`` processes (median, [min - max]; the ratio is
  the median of the ratios of the alternating recipe and hsframe processes).
* **train, common recipe**: every training patch materialized up front as float64 (as the widely
  copied notebooks do), in a ``TensorDataset`` / shuffling ``DataLoader``, each batch cast to float32
  and moved to the device, the same model, a plain ``torch.optim.Adam`` and the same batch.
* **train, hsframe, compiled** (with ``--compile``): the same, the model through ``torch.compile`` as
  ``train.compile=true`` wraps it; the compilation happens in the untimed warm-up batches.
* **map, hsframe**: every pixel of the scene through ``infer_scene`` (``scene_forward`` where the
  model has it, patch by patch otherwise); pixels/s.
* **map, common recipe**: materialized float64 patches of ``--map-pixels`` random pixels, batch by
  batch through ``forward``; pixels/s (its cost is per pixel, so a subset gives its rate).
* **split** (ms per batch, one process, the variants interleaved so that each sees the same load):
  the data path alone (a float32 batch on the device) of each side; the model step alone
  (forward, backward, optimizer step on one fixed batch) with the recipe's and with hsframe's optimizer;
  the same step and the inference forward with the model and input in channels-last memory format
  (``channels_last_3d`` for 5-D tensors, ``channels_last`` for 4-D ones), against contiguous. The
  training ratio it predicts is (data + step of the recipe) / (data + step of hsframe).
"""
from __future__ import annotations

import argparse
import json
import statistics
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
    return torch, model, features, p, device, index, targets, cfg


def _materialize(features, p: int, index):
    """The notebook way: a float64 array holding the p x p patch of every listed pixel."""
    import numpy as np

    k, h, w = features.shape
    r = p // 2
    padded = np.zeros((k, h + 2 * r, w + 2 * r))
    padded[:, r:-r, r:-r] = features.numpy().astype(np.float64)
    rows, cols = np.divmod(index, w)
    return np.stack([padded[:, i:i + p, j:j + p] for i, j in zip(rows, cols)])[:, None]  # (N, 1, K, p, p) float64


def _sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _recipe_batches(torch, features, p: int, index, targets, batch: int, device):
    """Endless float32 batches on the device, the common recipe's way (a DataLoader over float64 patches)."""
    from torch.utils.data import DataLoader, TensorDataset

    data = TensorDataset(torch.from_numpy(_materialize(features, p, index)), torch.from_numpy(targets[index]))
    while True:
        for x, y in DataLoader(data, batch_size=batch, shuffle=True):
            yield x.to(device, torch.float32, non_blocking=True), y.to(device)


def _hsframe_batches(torch, features, p: int, index, targets, batch: int, device):
    """Endless float32 batches on the device, hsframe's way (patches cut from the device-resident cube)."""
    from hsframe.data.patches import PatchSource

    source = PatchSource(features.to(device), p)
    generator = torch.Generator().manual_seed(0)
    while True:
        yield from source.batches(index, targets[index], batch, shuffle=True, generator=generator)


def _train_timed(torch, model, optimizer, batches, device, n: int, repeats: int) -> list[float]:
    """Samples/s of ``repeats`` runs of ``n`` training batches, after two untimed warm-up batches."""
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()

    def step(x, y) -> int:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
        return len(y)

    for _ in range(2):  # kernel selection, allocator
        step(*next(batches))
    rates = []
    for _ in range(repeats):
        _sync(torch, device)
        started, seen = time.perf_counter(), 0
        for _ in range(n):
            seen += step(*next(batches))
        _sync(torch, device)
        rates.append(seen / (time.perf_counter() - started))
    return rates


def _channels_last(torch, model):
    """The model with its 5-D parameters in channels_last_3d and its 4-D ones in channels_last."""
    for t in [*model.parameters(), *model.buffers()]:
        if t.dim() in (4, 5):
            t.data = t.data.contiguous(memory_format=torch.channels_last_3d if t.dim() == 5 else torch.channels_last)
    return model


def _split(torch, model, features, p, device, index, targets, cfg, batch: int, n: int, repeats: int) -> dict:
    """ms per batch of each data path alone and of the model step alone (see the module docstring)."""
    import copy

    from hsframe.training import make_optimizer

    recipe_data = _recipe_batches(torch, features, p, index, targets, batch, device)
    hsframe_data = _hsframe_batches(torch, features, p, index, targets, batch, device)
    x, y = next(hsframe_data)
    x_last = x.contiguous(memory_format=torch.channels_last_3d) if x.dim() == 5 else x.contiguous(memory_format=torch.channels_last)
    loss_fn = torch.nn.CrossEntropyLoss()
    cfg.train.lr = 1e-3  # what the recipe trains at (the rate does not change the time)
    plain, hsframe_model, last = model, copy.deepcopy(model), _channels_last(torch, copy.deepcopy(model))
    optimizers = {"plain": torch.optim.Adam(plain.parameters(), lr=1e-3), "hsframe": make_optimizer(hsframe_model, cfg.train),
                  "last": make_optimizer(last, cfg.train)}

    def stepper(net, optimizer, xb):
        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(xb), y).backward()
            optimizer.step()
        return step

    def forward(net, xb):
        def run() -> None:
            with torch.no_grad():
                net(xb)
        return run

    plain.train(), hsframe_model.train(), last.train()
    infer_plain, infer_last = copy.deepcopy(hsframe_model).eval(), copy.deepcopy(last).eval()
    variants = {
        "data_recipe": lambda: next(recipe_data),
        "data_hsframe": lambda: next(hsframe_data),
        "step_recipe": stepper(plain, optimizers["plain"], x),
        "step_hsframe": stepper(hsframe_model, optimizers["hsframe"], x),
        "step_channels_last": stepper(last, optimizers["last"], x_last),
        "forward_contiguous": forward(infer_plain, x),
        "forward_channels_last": forward(infer_last, x_last),
    }
    for run in variants.values():
        run(), run()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):  # interleaved: every variant sees the same load
        for name, run in variants.items():
            _sync(torch, device)
            started = time.perf_counter()
            for _ in range(n):
                run()
            _sync(torch, device)
            times[name].append((time.perf_counter() - started) / n * 1e3)
    return times


def measure(kind: str, model_name: str, device_name: str, batch: int, n: int, repeats: int, map_pixels: int) -> dict:
    torch, model, features, p, device, index, targets, cfg = _setup(model_name, device_name)
    if kind in ("train-hsframe", "train-hsframe-compile"):
        from hsframe.device import check_compiler, compiled
        from hsframe.training import make_optimizer

        cfg.train.lr = 1e-3
        optimizer = make_optimizer(model, cfg.train)
        if kind == "train-hsframe-compile":  # train.compile=true: the model through torch.compile, as training wraps it
            check_compiler(device)
            model = compiled(model, True)
        batches = _hsframe_batches(torch, features, p, index, targets, batch, device)
        return {"samples_per_s": _train_timed(torch, model, optimizer, batches, device, n, repeats)}
    if kind == "train-recipe":
        batches = _recipe_batches(torch, features, p, index, targets, batch, device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        return {"samples_per_s": _train_timed(torch, model, optimizer, batches, device, n, repeats)}
    if kind == "split":
        return _split(torch, model, features, p, device, index, targets, cfg, batch, max(n // 2, 1), repeats)
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


def _spread(values: list[float], fmt: str = ".0f") -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="hybridsn,conv3d")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=30, help="timed training batches per repeat (the split times half as many)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each training measurement (median and range printed)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads torch uses (0: its default); 1 steadies timings on a loaded machine")
    ap.add_argument("--map-pixels", type=int, default=2048, help="pixels the common recipe's map rate is measured on")
    ap.add_argument("--compile", action="store_true", help="also train hsframe with train.compile=true (the warm-up batches pay the compilation)")
    ap.add_argument("--one", nargs=2, metavar=("KIND", "MODEL"), help=argparse.SUPPRESS)  # a child process
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], args.device, args.batch, args.batches, args.repeats, args.map_pixels)))
        return
    def child(kind: str, model: str, repeats: int) -> dict:
        options = ["--device", args.device, "--batch", str(args.batch), "--batches", str(args.batches), "--repeats", str(repeats),
                   "--threads", str(args.threads), "--map-pixels", str(args.map_pixels)]
        out = subprocess.run([sys.executable, __file__, "--one", kind, model, *options], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    rows = []
    for model in args.models.split(","):
        got: dict = {"train-recipe": {"samples_per_s": []}, "train-hsframe": {"samples_per_s": []}}
        for _ in range(args.repeats):  # the two sides alternate, one repeat per process: a pair sees about the same load
            for kind in ("train-recipe", "train-hsframe"):
                got[kind]["samples_per_s"] += child(kind, model, 1)["samples_per_s"]
        for kind in ("map-recipe", "map-hsframe", "split", *(("train-hsframe-compile",) if args.compile else ())):
            got[kind] = child(kind, model, args.repeats)  # compiled: one process, the compilation paid once
        rows.append((model, got))
    print(f"device {args.device}, {torch.get_num_threads()} CPU threads, batch {args.batch}, {args.repeats} x {args.batches} timed "
          f"training batches, {SIZE}x{SIZE} scene; median [min-max] over the repeats (x: of the paired ratios)")
    print(f"{'model':<10} {'train recipe /s':>18} {'train hsframe /s':>18} {'x':>17} {'map recipe':>12} {'map hsframe':>12} {'x':>7}  map path")
    for model, g in rows:
        tr, th = g["train-recipe"]["samples_per_s"], g["train-hsframe"]["samples_per_s"]
        ratios = [h / r for h, r in zip(th, tr)]
        mr, mh = g["map-recipe"]["pixels_per_s"], g["map-hsframe"]["pixels_per_s"]
        path = "scene_forward" if g["map-hsframe"]["scene_forward"] else "patch by patch"
        print(f"{model:<10} {_spread(tr):>18} {_spread(th):>18} {_spread(ratios, '.2f'):>16}x {mr:>10.0f}/s {mh:>10.0f}/s {mh / mr:>6.1f}x  {path}")
        if "train-hsframe-compile" in g:
            tc = g["train-hsframe-compile"]["samples_per_s"]
            print(f"{'':<10} {'train.compile=true':>18} {_spread(tc):>18} {statistics.median(tc) / statistics.median(tr):>16.2f}x")
    print("\nsplit, ms per batch, median [min-max]: data = a float32 batch on the device; step = forward + backward + optimizer step")
    for model, g in rows:
        s = g["split"]
        med = {k: statistics.median(v) for k, v in s.items()}
        print(f"{model}: data recipe {_spread(s['data_recipe'], '.2f')}, data hsframe {_spread(s['data_hsframe'], '.2f')}; "
              f"step recipe (plain Adam) {_spread(s['step_recipe'], '.2f')}, step hsframe (its optimizer) {_spread(s['step_hsframe'], '.2f')}")
        print(f"{'':<{len(model)}}  channels-last: step {_spread(s['step_channels_last'], '.2f')} "
              f"({med['step_hsframe'] / med['step_channels_last']:.2f}x), inference forward {_spread(s['forward_channels_last'], '.2f')} "
              f"against contiguous {_spread(s['forward_contiguous'], '.2f')} ({med['forward_contiguous'] / med['forward_channels_last']:.2f}x)")
        recipe, hsframe = med["data_recipe"] + med["step_recipe"], med["data_hsframe"] + med["step_hsframe"]
        print(f"{'':<{len(model)}}  predicted training ratio {recipe / hsframe:.2f}x; data is {med['data_recipe'] / recipe:.0%} of the "
              f"recipe's batch, so a free data path alone gives at most {recipe / med['step_recipe']:.2f}x")


if __name__ == "__main__":
    main()
