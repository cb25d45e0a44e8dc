"""Do two models compute the same function? Copy one's weights into the other and compare outputs.

Generic: nothing here knows any architecture. :func:`transfer_weights` pairs the tensors of two
modules in registration order (parameters with parameters, buffers with buffers) and copies them,
reshaping where only size-1 axes differ (a Conv2d weight ``(O, I, 3, 3)`` into a Conv3d weight
``(O, I, 1, 3, 3)``, a Linear weight ``(K, F)`` into a 1x1 conv ``(K, F, 1, 1)``);
:func:`check_equivalence` then runs both in eval mode on the same random input.

Torch is imported inside the functions: ``hsframe`` stays cheap to import.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch.nn as nn

# (source name, destination name, source shape, destination shape), one per copied tensor
Mapping = list[tuple[str, str, tuple[int, ...], tuple[int, ...]]]


class WeightTransferError(ValueError):
    """The two modules' tensors cannot be paired one to one: the message names the first bad pair."""


@dataclass
class EquivalenceResult:
    """What :func:`check_equivalence` measured.

    ``max_abs_diff`` and ``mean_abs_diff`` are over every element of the two ``(N, ...)`` outputs;
    ``mapping`` is what :func:`transfer_weights` copied (empty with ``transfer=False``).
    """

    max_abs_diff: float
    mean_abs_diff: float
    n_params_a: int
    n_params_b: int
    mapping: Mapping = field(default_factory=list)
    output_shape: tuple[int, ...] = ()

    def within(self, tolerance: float) -> bool:
        return self.max_abs_diff <= tolerance


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def transfer_weights(
    src: "nn.Module", dst: "nn.Module", allow_reshape: Literal["singleton", "numel"] = "singleton"
) -> Mapping:
    """Copy every parameter and buffer of ``src`` into ``dst``, pairing them in registration order.

    Parameters pair with parameters and buffers with buffers (BatchNorm's running statistics
    included), each in the order ``named_parameters()`` / ``named_buffers()`` list them; names are
    not compared, so the two modules may be organised differently (a ``TimeDistributed`` wrapper
    adds a level of nesting). Shapes may differ as long as the element counts match:

    - ``allow_reshape="singleton"`` (default): only size-1 axes may differ, e.g. ``(O, I, 3, 3)``
      -> ``(O, I, 1, 3, 3)``. A reshape that moves elements between axes (``(16, 9)`` -> ``(9, 16)``)
      would fit without error and scramble the weights, so it is refused.
    - ``allow_reshape="numel"``: any reshape with the same element count (row-major order).

    Returns:
        ``[(src_name, dst_name, src_shape, dst_shape), ...]`` for every copied tensor, parameters
        first, then buffers.

    Raises:
        WeightTransferError: naming the first pair that cannot be matched (different element
        counts or incompatible shapes), or the first tensor left without a partner. ``dst`` is
        not modified in that case: every pair is checked before anything is copied.
    """
    import torch

    if allow_reshape not in ("singleton", "numel"):
        raise ValueError(f"allow_reshape must be 'singleton' or 'numel'; got {allow_reshape!r}")
    pairs: list[tuple[str, torch.Tensor, str, torch.Tensor]] = []
    for kind, s_items, d_items in (
        ("parameter", list(src.named_parameters()), list(dst.named_parameters())),
        ("buffer", list(src.named_buffers()), list(dst.named_buffers())),
    ):
        for i, ((s_name, s), (d_name, d)) in enumerate(zip(s_items, d_items), start=1):
            s_shape, d_shape = tuple(s.shape), tuple(d.shape)
            where = (f"{kind} #{i} in registration order: source '{s_name}' {s_shape} "
                     f"({s.numel()} elements) -> destination '{d_name}' {d_shape} ({d.numel()} elements)")
            if s.numel() != d.numel():
                raise WeightTransferError(f"cannot match {where}: the element counts differ")
            if allow_reshape == "singleton" and _squeezed(s_shape) != _squeezed(d_shape):
                raise WeightTransferError(
                    f"cannot match {where}: the shapes differ in more than size-1 axes, so a reshape "
                    f"would move weights between axes (pass allow_reshape='numel' to reshape anyway)")
            pairs.append((s_name, s, d_name, d))
        if len(s_items) != len(d_items):
            longer, side = (s_items, "source") if len(s_items) > len(d_items) else (d_items, "destination")
            name, t = longer[min(len(s_items), len(d_items))]
            raise WeightTransferError(
                f"cannot match {kind}s: the source has {len(s_items)} and the destination {len(d_items)}; "
                f"the first {kind} without a partner is {side} '{name}' {tuple(t.shape)}")
    mapping: Mapping = []
    with torch.no_grad():
        for s_name, s, d_name, d in pairs:
            d.copy_(s.detach().reshape(d.shape))
            mapping.append((s_name, d_name, tuple(s.shape), tuple(d.shape)))
    return mapping


def check_equivalence(
    model_a: "nn.Module",
    model_b: "nn.Module",
    input_shape: tuple[int, ...],
    seed: int = 0,
    transfer: bool = True,
) -> EquivalenceResult:
    """Run ``model_a`` and ``model_b`` on the same random input and measure how far their outputs differ.

    Args:
        model_a, model_b: modules taking one tensor of ``input_shape``; their outputs must have the
            same shape (e.g. ``(N, K)`` logits).
        input_shape: the full input shape including the batch, e.g. ``(1, 1, 8, 32, 32)`` for
            ``(N, C, D, H, W)``.
        seed: seed of the standard-normal input (a private generator: the global RNG is untouched).
        transfer: first copy ``model_a``'s weights into ``model_b`` (:func:`transfer_weights`;
            ``model_b`` is modified). False compares the models as they are.

    Both run in eval mode (BatchNorm on running statistics, no dropout) without gradients; their
    train/eval flags are restored afterwards.

    Raises:
        WeightTransferError: when ``transfer`` and the weights cannot be paired.
        ValueError: when the outputs' shapes differ.
    """
    import torch

    mapping = transfer_weights(model_a, model_b) if transfer else []
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(tuple(input_shape), generator=generator)
    modes = (model_a.training, model_b.training)
    try:
        model_a.eval()
        model_b.eval()
        with torch.no_grad():
            ya, yb = model_a(x.clone()), model_b(x.clone())  # clones: neither model can see the other's in-place edits
    finally:
        model_a.train(modes[0])
        model_b.train(modes[1])
    if ya.shape != yb.shape:
        raise ValueError(f"the outputs differ in shape: {tuple(ya.shape)} vs {tuple(yb.shape)} for input {tuple(x.shape)}")
    diff = (ya.double() - yb.double()).abs()
    return EquivalenceResult(
        max_abs_diff=float(diff.max()) if diff.numel() else 0.0,
        mean_abs_diff=float(diff.mean()) if diff.numel() else 0.0,
        n_params_a=sum(p.numel() for p in model_a.parameters()),
        n_params_b=sum(p.numel() for p in model_b.parameters()),
        mapping=mapping,
        output_shape=tuple(ya.shape),
    )
