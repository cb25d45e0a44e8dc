"""Training samples/s of HybridSN at the paper's sizes with bf16 autocast and torch.compile each on and off.

    .venv/bin/python bench/train_modes.py                  # the current device; one process per mode
    .venv/bin/python bench/train_modes.py --samples 2048   # a shorter timed epoch

Each mode runs in its own process: hsframe's own training loop (:func:`hsframe.training.train`) on
``--samples`` pixels of an Indian Pines-sized scene (145 x 145, 30 random components, 25 x 25
patches, batch 256), one untimed epoch first (kernel choice, compilation), then one timed epoch.
On the CPU autocast is a no-op (hsframe autocasts on CUDA only), so amp on/off differ only on a GPU.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def one(amp: bool, compile_: bool, samples: int, device_name: str) -> float:
    import numpy as np
    import torch
    from rich.console import Console

    from hsframe.config import TrainConfig
    from hsframe.data.patches import PatchSource
    from hsframe.device import select_device
    from hsframe.progress import TrainingProgress
    from hsframe.training import train
    from hsframe_hybridsn.model import HybridSN

    device = select_device(device_name)
    torch.manual_seed(0)
    source = PatchSource(torch.randn(30, 145, 145, device=device), 25)
    targets = np.random.default_rng(0).integers(0, 16, 145 * 145)
    index = np.random.default_rng(1).permutation(145 * 145)[:samples]
    model = HybridSN(bands=30, patch_size=(25, 25), num_classes=16)
    quiet = TrainingProgress(Console(quiet=True), 1, 1)
    cfg = TrainConfig(epochs=1, batch_size=256, amp=amp, compile=compile_, checkpoint_dir=None)
    val = index[:256]
    train(model, source, targets, index, val, cfg, device, torch.Generator().manual_seed(0), quiet)  # warm-up epoch
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    train(model, source, targets, index, val, cfg, device, torch.Generator().manual_seed(1), quiet)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return samples / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=6307, help="training pixels per epoch (30%% of 145x145 by default)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--modes", default="off/off,on/off,off/on,on/on", help="amp/compile pairs")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0] == "on", args.one[1] == "on", args.samples, args.device)))
        return
    print(f"{'amp':<5} {'compile':<8} {'samples/s':>10}")
    for mode in args.modes.split(","):
        amp, comp = mode.split("/")
        out = subprocess.run([sys.executable, __file__, "--one", amp, comp, "--samples", str(args.samples), "--device", args.device],
                             capture_output=True, text=True)
        rate = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
        shown = f"{rate:10.0f}" if rate else f"failed: {out.stderr.strip().splitlines()[-1][:80] if out.stderr.strip() else out.returncode}"
        print(f"{amp:<5} {comp:<8} {shown}", flush=True)


if __name__ == "__main__":
    main()
