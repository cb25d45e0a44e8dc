"""Where a run computes: device choice, seeding, and mixed precision. Same code path on CPU and GPU."""
from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

from hsframe.errors import HsframeError


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; anything else is taken as a torch device string."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise HsframeError(f"train.device '{name}' is not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HsframeError("train.device is cuda but no CUDA GPU is visible; use train.device=auto or cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise HsframeError("train.device is mps but MPS is not available; use train.device=auto or cpu")
    return device


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


# What torch.compile builds with; a test sets "eager" to check the wiring without minutes of compilation.
COMPILE_BACKEND = "inductor"


def check_compiler(device: torch.device) -> None:
    """Refuse ``train.compile`` where inductor cannot build code: no C++ compiler (CPU), no triton (CUDA), or MPS."""
    import importlib.util
    import shutil

    if device.type == "cuda":
        missing = None if importlib.util.find_spec("triton") else "triton (pip install triton, shipped with CUDA builds of torch)"
    elif device.type == "cpu":
        missing = None if any(shutil.which(c) for c in ("g++", "c++", "clang++")) else "a C++ compiler (g++ or clang++ on PATH)"
    else:
        missing = f"inductor support for {device.type}"
    if missing:
        raise HsframeError(f"train.compile needs {missing}, which this machine lacks; install it or set train.compile=false")


def compiled(model: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """``model`` through torch.compile when ``enabled`` (it shares the module's parameters), else itself."""
    return torch.compile(model, backend=COMPILE_BACKEND) if enabled else model


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (no loss scaling needed, unlike fp16); a no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# Where hsframe steps Adam, AdamW and SGD with torch's fused kernels: one pass over the parameters per step instead
# of one per elementwise op. About 10x faster steps on the CPU (HybridSN, 0.9 M parameters: 5 ms -> 0.5 ms on 2 cores;
# bench/throughput.py prints the whole step), the same update up to float rounding.
FUSED_OPTIMIZER_DEVICES = frozenset({"cpu", "cuda"})


def fused_optimizer(params: list[torch.Tensor]) -> bool:
    """Whether the optimizer of ``params`` should run fused: all of them floating point on one fused-capable device type."""
    types = {p.device.type for p in params}
    return len(types) == 1 and types <= FUSED_OPTIMIZER_DEVICES and all(p.is_floating_point() for p in params)
