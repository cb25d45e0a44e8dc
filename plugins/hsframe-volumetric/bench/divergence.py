"""How far do td_conv2d and conv3d_133 drift apart in training, when everything but the kernel code is equal?

Both are built from the same seed (PyTorch gives them identical weights: same fan-in, same draws),
see the same batches and the same dropout masks. Only the floating-point summation order of a
Conv2d over folded frames and of a Conv3d with (1, 3, 3) kernels differs (about 1e-8 on the
logits); the optimiser amplifies it. Prints the largest logit and weight differences on a fixed
evaluation batch after some steps. About 15 s (SGD, 100 steps) to 30 s (Adam, 200 steps) on 1 core.

    python plugins/hsframe-volumetric/bench/divergence.py --optimizer adam --steps 200
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import hsframe_volumetric as hv
from hsframe import InputSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    spec = InputSpec(1, 8, 32, 32, 10)  # a sequence: 8 frames of 32x32, 10 classes
    torch.manual_seed(0)
    a = hv.build_td_conv2d(spec)
    torch.manual_seed(0)
    b = hv.build_conv3d_133(spec)
    g = torch.Generator().manual_seed(1)
    data, labels = torch.randn(256, *spec.as_tuple(), generator=g), torch.randint(0, 10, (256,), generator=g)
    probe = torch.randn(8, *spec.as_tuple(), generator=g)

    def make(params):
        if args.optimizer == "sgd":
            return torch.optim.SGD(params, lr=0.01, momentum=0.9)
        return torch.optim.Adam(params, lr=1e-3)

    opts = (make(a.parameters()), make(b.parameters()))
    print(f"optimizer {args.optimizer}; step, max |logit difference| on 8 probe samples, max |weight difference|")
    checkpoints = {1, 10, 50, 100, 200, args.steps}
    for step in range(1, args.steps + 1):
        index = torch.randint(0, 256, (16,), generator=g)
        for model, opt in zip((a, b), opts):
            model.train()
            torch.manual_seed(step)  # the same dropout mask for both
            loss = F.cross_entropy(model(data[index]), labels[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if step in checkpoints:
            a.eval()
            b.eval()
            with torch.no_grad():
                logits = (a(probe) - b(probe)).abs().max().item()
            weights = max((p.reshape(-1) - q.reshape(-1)).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))
            print(f"{step:5d}  {logits:.2e}  {weights:.2e}")


if __name__ == "__main__":
    main()
