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


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (no loss scaling needed, unlike fp16); a no-op elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
