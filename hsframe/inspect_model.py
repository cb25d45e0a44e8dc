"""Layer-by-layer summary of a model: output shapes, parameters and multiply-accumulates (MACs).

:func:`summarize` runs one forward pass on a zero batch of 1 with forward hooks on every leaf
module (a module without children), so the rows come out in execution order.

Conventions (the CLI table repeats them in its caption):

* MACs are per sample (the batch is 1). A multiply-add counts once; bias additions are not MACs.
* ``Conv1d/2d/3d``: output elements x ``in_channels / groups`` x kernel elements.
  ``ConvTranspose1d/2d/3d``: input elements x ``out_channels / groups`` x kernel elements.
* ``Linear``: ``in_features x out_features`` per sample, times any extra leading dimensions
  (i.e. output elements x ``in_features``).
* Normalization (BatchNorm, LayerNorm, GroupNorm, ...), activations, pooling, dropout, flatten,
  embedding look-ups and every other parameter-free module: 0 MACs.
* Any other leaf module that holds parameters (RNNs, attention, custom layers) is *not counted*:
  its row has ``macs_counted = False`` and the type is listed in ``ModelSummary.uncounted_types``.
* Work done in a ``forward()`` outside leaf modules (reshapes, residual additions, direct
  ``F.conv2d`` calls) is not seen by hooks and is not counted.

Parameters in the totals always come from ``model.parameters()`` (each tensor once), so they are
exact even when a module is called twice or a weight is tied between modules. A row counts only
the parameters no earlier row has counted, so the rows add up to the total unless some parameters
belong to no leaf module that ran (``ModelSummary.unattributed_params``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch
import torch.nn as nn

# Leaf types whose parameters do per-element work we define as 0 MACs (see the module docstring).
_ZERO_MAC_WITH_PARAMS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,  # BatchNorm*d, InstanceNorm*d
    nn.LayerNorm,
    nn.GroupNorm,
    nn.PReLU,
    nn.Embedding,
    nn.EmbeddingBag,
) + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())


@dataclass
class LayerRow:
    """One executed leaf module (or, with ``depth``, a group of them under one ancestor).

    Attributes:
        name: dotted module path (``""`` for a model that is itself a single leaf).
        type: class name of the module.
        output_shape: shape of the (first tensor of the) output, batch of 1 included.
        params: parameters first counted at this row (0 for a second call of the same module).
        macs: multiply-accumulates per sample counted for this row.
        macs_counted: False when the row (or part of a group) is of a type whose MACs are unknown.
        call: 1 for a module's first call, 2 for its second, ...
    """

    name: str
    type: str
    output_shape: tuple[int, ...] | None
    params: int
    macs: int
    macs_counted: bool = True
    call: int = 1


@dataclass
class ModelSummary:
    """What :func:`summarize` returns; ``to_dict()`` is its JSON form."""

    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    total_macs: int
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] | None = None
    # Parameters of no leaf module that ran (direct nn.Parameter on a container, unused modules).
    unattributed_params: int = 0
    uncounted_types: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rows"] = [
            {**r, "output_shape": list(r["output_shape"]) if r["output_shape"] is not None else None}
            for r in out["rows"]
        ]
        out["input_shape"] = list(self.input_shape)
        out["output_shape"] = list(self.output_shape) if self.output_shape is not None else None
        return out


def _first_shape(value: Any) -> tuple[int, ...] | None:
    """Shape of the first tensor in a (possibly nested) output, e.g. an LSTM's ``(out, (h, c))``."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            shape = _first_shape(item)
            if shape is not None:
                return shape
    return None


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def layer_macs(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int | None:
    """MACs of one call of a leaf module under the conventions above; None when not counted.

    Counts the whole call, so it is per sample only because :func:`summarize` uses a batch of 1
    (a layer may reshape the batch, e.g. pixels into sequences, so dividing by ``shape[0]`` would be wrong).
    """
    out = _first_tensor(output)
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        x = _first_tensor(inputs)
        if x is None:
            return None
        return x.numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.modules.conv._ConvNd):
        if out is None:
            return None
        return out.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return None if out is None else out.numel() * module.in_features
    if isinstance(module, _ZERO_MAC_WITH_PARAMS):
        return 0
    if next(module.parameters(recurse=False), None) is None:
        return 0  # parameter-free: activations, pooling, dropout, flatten, reshapes
    return None


def summarize(model: nn.Module, input_shape: Sequence[int], *, depth: int | None = None) -> ModelSummary:
    """Run ``model`` once on ``torch.zeros(1, *input_shape)`` and tabulate its leaf modules.

    Args:
        model: any ``nn.Module``; it runs in eval mode under ``no_grad`` (BatchNorm cannot train
            on a batch of 1) and each module's train/eval flag is restored afterwards.
        input_shape: shape of one sample without the batch dimension, e.g. ``(C, D, H, W)``.
        depth: when given, leaves nested deeper than ``depth`` dotted levels are merged into their
            ancestor at that level (consecutive calls only): params and MACs add up, the output
            shape is the ancestor's.

    Returns:
        A :class:`ModelSummary`; the forward pass's exception propagates if the model rejects the input.
    """
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be positive sizes without the batch dimension; got {tuple(input_shape)}")
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be at least 1; got {depth}")

    names = {m: n for n, m in model.named_modules()}  # first name of a module registered twice
    leaves = [m for m in names if next(m.children(), None) is None]
    rows: list[LayerRow] = []
    calls: dict[nn.Module, int] = {}
    seen_params: set[int] = set()
    uncounted: list[str] = []
    # (leaf rows finished so far, module name, output shape) of every container call, for --depth.
    container_outputs: list[tuple[int, str, tuple[int, ...] | None]] = []

    def on_leaf(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        calls[module] = calls.get(module, 0) + 1
        new = [p for p in module.parameters() if id(p) not in seen_params]
        seen_params.update(id(p) for p in new)
        macs = layer_macs(module, inputs, output)
        kind = type(module).__name__
        if macs is None and kind not in uncounted:
            uncounted.append(kind)
        rows.append(LayerRow(names[module], kind, _first_shape(output), sum(p.numel() for p in new),
                             macs or 0, macs is not None, calls[module]))

    def on_container(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        container_outputs.append((len(rows), names[module], _first_shape(output)))

    training = {m: m.training for m in model.modules()}
    handles = [m.register_forward_hook(on_leaf if m in leaves else on_container) for m in names]
    try:
        param = next(model.parameters(), None)
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.get_default_dtype()
        device = param.device if param is not None else torch.device("cpu")
        model.eval()
        with torch.no_grad():
            output = model(torch.zeros((1, *shape), dtype=dtype, device=device))
    finally:
        for handle in handles:
            handle.remove()
        for module, flag in training.items():
            module.training = flag

    unique = {id(p): p for p in model.parameters()}.values()  # parameters() already de-duplicates; be explicit
    total = sum(p.numel() for p in unique)
    if depth is not None:
        rows = _collapse(model, rows, container_outputs, depth)
    return ModelSummary(
        rows=rows,
        total_params=total,
        trainable_params=sum(p.numel() for p in unique if p.requires_grad),
        total_macs=sum(r.macs for r in rows),
        input_shape=shape,
        output_shape=_first_shape(output),
        unattributed_params=total - sum(r.params for r in rows),
        uncounted_types=uncounted,
    )


def _collapse(
    model: nn.Module,
    rows: list[LayerRow],
    container_outputs: list[tuple[int, str, tuple[int, ...] | None]],
    depth: int,
) -> list[LayerRow]:
    """Merge consecutive rows that share an ancestor ``depth`` levels down (see :func:`summarize`)."""
    merged: list[LayerRow] = []
    ends: list[int] = []  # index just past the last leaf row merged into each output row
    for i, row in enumerate(rows):
        parts = row.name.split(".") if row.name else []
        if len(parts) <= depth:
            merged.append(row)
            ends.append(i + 1)
            continue
        group = ".".join(parts[:depth])
        last = merged[-1] if merged else None
        if last is not None and last.name == group and ends[-1] == i and last.call == 0:
            last.params += row.params
            last.macs += row.macs
            last.macs_counted = last.macs_counted and row.macs_counted
            last.output_shape = row.output_shape
            ends[-1] = i + 1
        else:
            # call == 0 marks a group row while it is still being filled
            merged.append(LayerRow(group, type(model.get_submodule(group)).__name__, row.output_shape,
                                   row.params, row.macs, row.macs_counted, 0))
            ends.append(i + 1)
    group_calls: dict[str, int] = {}
    for row, end in zip(merged, ends):
        if row.call == 0:
            # The ancestor's own output (it may add a residual): its call that ended right after the group.
            row.output_shape = next((s for n_rows, name, s in container_outputs if name == row.name and n_rows >= end),
                                    row.output_shape)
            group_calls[row.name] = row.call = group_calls.get(row.name, 0) + 1
    return merged
