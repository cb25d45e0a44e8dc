"""Build the model and check its contract on a tiny batch, before any run starts."""
from __future__ import annotations

from typing import Any

from hsframe.errors import HsframeError
from hsframe.registry import InputSpec, ModelSpec


def build_checked_model(spec: ModelSpec, input_spec: InputSpec, options: dict[str, Any]) -> Any:
    """``spec``'s model for ``input_spec``; a forward pass that fails or returns the wrong shape is an HsframeError."""
    import torch

    model = spec.create(input_spec, options)
    shape = (2, *input_spec.as_tuple())
    who = f"model '{spec.name}' (package {spec.package})"
    model.eval()  # eval: no dropout draw, so the check leaves the seeded RNG untouched
    try:
        with torch.no_grad():
            out = model(torch.zeros(shape))
    except Exception as exc:
        raise HsframeError(f"{who}: the forward pass fails on a batch of shape {shape} (N, C, D, H, W): "
                           f"{type(exc).__name__}: {exc}") from None
    if tuple(out.shape) != (2, input_spec.num_classes):
        raise HsframeError(f"{who}: the forward pass returns {tuple(out.shape)} for input {shape}; "
                           f"the contract is (N, num_classes) = (2, {input_spec.num_classes}) logits")
    return model
