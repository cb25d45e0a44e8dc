"""2-D convolutions on the three orthogonal planes of a volume, through permute and reshape.

Axis names: in the hsframe sample ``(N, C, D, H, W)``, x is W, y is H and z is D. So

- plane ``xy`` = the (H, W) plane, perpendicular to D (the frames of a sequence, the image of a band),
- plane ``xz`` = the (D, W) plane, perpendicular to H,
- plane ``yz`` = the (D, H) plane, perpendicular to W.

The two in-plane axes keep their order in the sample (D before H before W), so a plane's 2-D
images are ``(D|H, H|W)`` laid out as in the input.

Two ways to run a 2-D stack on a plane:

- **slice mode** (:func:`slice_branch`): the perpendicular axis is folded into the batch; one 2-D
  stack is shared by every slice, and the slices' outputs are stacked back into a feature volume.
- **channel mode** (:func:`channel_branch`): the perpendicular axis is folded into the channels, so
  the first kernel is as deep as that axis (HybridSN's and hsframe-blocks' bands-as-channels trick,
  for any plane); the output is a 2-D map of the plane.

Equivariance (slice mode, proved by the tests): with ``swap(x, a, b)`` exchanging two axes,
``slice_branch(swap(x, H, W), "xz", s) == swap(slice_branch(x, "yz", s), H, W)`` and
``slice_branch(swap(x, D, H), "xy", s) == swap(slice_branch(x, "xz", s), D, H)``: exchanging two axes
exchanges the planes that contain them, with the same stack ``s``. Both swaps keep the in-plane
axis order; exchanging D and W flips it (the (H, W) image becomes (W, H)-ordered), so the xy <-> yz
pair agrees only with transposed kernels. Hence an :class:`OrthoPlaneNet` whose xz and yz branches
share weights (``share_weights=True``) and are fused by sum gives the same logits for a sample and
for the sample with H and W exchanged.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from hsframe_volumetric.layers import (
    check_dropout,
    check_input_size,
    check_num_classes,
    check_positive,
    conv_bn_relu,
)

# plane -> the axis of (N, C, D, H, W) perpendicular to it
PLANES: dict[str, int] = {"xy": 2, "xz": 3, "yz": 4}
MODES = ("slice", "channel")
FUSIONS = ("sum", "concat")


def _check_sample(x: torch.Tensor, plane: str) -> int:
    if plane not in PLANES:
        raise ValueError(f"unknown plane {plane!r}; expected one of {', '.join(PLANES)}")
    if x.dim() != 5:
        raise ValueError(f"expected a batch of shape (N, C, D, H, W); got a {x.dim()}-D tensor of shape {tuple(x.shape)}")
    return PLANES[plane]


def slices_of(x: torch.Tensor, plane: str) -> torch.Tensor:
    """``(N, C, D, H, W)`` -> ``(N, L, C, A, B)``: the L slices parallel to ``plane``, each a ``(C, A, B)`` image.

    L is the length of the perpendicular axis, (A, B) the in-plane axes in sample order.
    """
    axis = _check_sample(x, plane)
    in_plane = [a for a in (2, 3, 4) if a != axis]
    return x.permute(0, axis, 1, *in_plane)


def slice_branch(x: torch.Tensor, plane: str, stack: nn.Module) -> torch.Tensor:
    """Slice mode: ``stack`` on every slice parallel to ``plane``, stacked back into a feature volume.

    ``(N, C, D, H, W)`` -> ``(N*L, C, A, B)`` (the perpendicular axis, length L, folded into the
    batch) -> ``stack`` -> ``(N*L, F, A', B')`` -> ``(N, F, D', H', W')`` with L back at its axis and
    A', B' in place of the in-plane axes. With a size-keeping stack the output is ``(N, F, D, H, W)``
    whatever the plane, so the three planes' volumes line up voxel for voxel.
    """
    axis = _check_sample(x, plane)
    s = slices_of(x, plane)
    n, length, c, a, b = s.shape
    y = stack(s.reshape(n * length, c, a, b))
    f, a2, b2 = y.shape[1:]
    y = y.reshape(n, length, f, a2, b2)  # dims: 0 N, 1 L, 2 F, 3 A', 4 B'
    in_plane = iter((3, 4))
    order = [0, 2] + [1 if ax == axis else next(in_plane) for ax in (2, 3, 4)]
    return y.permute(*order)


def channel_branch(x: torch.Tensor, plane: str, stack: nn.Module) -> torch.Tensor:
    """Channel mode: the axis perpendicular to ``plane`` is folded into the channels, then ``stack``.

    ``(N, C, D, H, W)`` -> ``(N, C*L, A, B)`` (channel-major: the L slices of input channel 0 first)
    -> ``stack`` -> ``(N, F, A', B')``. The first conv of ``stack`` must take ``C*L`` channels: its
    kernel spans the whole perpendicular axis.
    """
    s = slices_of(x, plane)
    n, length, c, a, b = s.shape
    return stack(s.transpose(1, 2).reshape(n, c * length, a, b))


def plane_stack(in_channels: int, width: int, depth: int) -> nn.Sequential:
    """``depth`` x [Conv2d 3x3 (padding 1) -> BN2d -> ReLU] with ``width`` channels: ``(B, in, A, B)`` -> ``(B, width, A, B)``."""
    layers: list[nn.Module] = []
    c = in_channels
    for _ in range(depth):
        layers += conv_bn_relu(nn.Conv2d(c, width, 3, padding=1, bias=False), width, dims=2)
        c = width
    return nn.Sequential(*layers)


def parse_planes(planes: str | Sequence[str]) -> tuple[str, ...]:
    """``"xy,xz,yz"`` or ``["xy", "yz"]`` -> a tuple of plane names; letter order is free (``"zx"`` is ``"xz"``)."""
    items = planes.split(",") if isinstance(planes, str) else list(planes)
    out: list[str] = []
    for item in items:
        name = "".join(sorted(str(item).strip().lower()))
        if name not in PLANES:
            raise ValueError(f"planes must name some of xy, xz, yz (comma-separated, e.g. 'xy,xz,yz'); "
                             f"got {item!r} in {planes!r}")
        if name in out:
            raise ValueError(f"plane {name!r} is listed twice in planes={planes!r}")
        out.append(name)
    if not out:
        raise ValueError(f"planes must name at least one of xy, xz, yz; got {planes!r}")
    return tuple(out)


class OrthoPlaneNet(nn.Module):
    """2-D conv stacks on orthogonal planes of the sample, fused into one classifier.

    Per plane, a stack of ``depth`` x [Conv2d 3x3 -> BN -> ReLU] with ``width`` channels runs in
    ``mode`` (see the module docstring): ``"slice"`` gives a ``(N, F, D, H, W)`` feature volume per
    plane, ``"channel"`` a ``(N, F, A, B)`` map of the plane. Each branch output is average-pooled
    to ``(N, F)``; the planes are fused by ``"sum"`` (``(N, F)``) or ``"concat"`` (``(N, P*F)``), then
    Dropout -> Linear to K logits. Pooling is linear, so in slice mode this equals fusing the
    feature volumes voxel by voxel and pooling afterwards.

    Works on volumes, frame sequences (xy = the frames, xz/yz = space-time slices) and
    hyperspectral patches (bands as depth: xy = band images, xz/yz = spectral-spatial slices).

    Args:
        in_channels: C of the sample.
        num_classes: K.
        planes: which planes, e.g. ``"xy,xz,yz"`` (default) or ``"xy"``.
        mode: ``"slice"`` or ``"channel"``.
        fusion: ``"sum"`` or ``"concat"``.
        width: channels of every conv (F).
        depth: convs per branch.
        dropout: rate before the classifier.
        share_weights: slice mode only: one stack for every plane (C input channels for all).
        input_size: ``(D, H, W)``; required in channel mode (the kernel depth is the folded axis's
            length), checked against the input there.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits. :meth:`branch` gives one plane's branch output.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 16,
        planes: str | Sequence[str] = "xy,xz,yz",
        mode: str = "slice",
        fusion: str = "sum",
        width: int = 16,
        depth: int = 3,
        dropout: float = 0.2,
        share_weights: bool = False,
        input_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, width=width, depth=depth)
        check_num_classes(num_classes)
        check_dropout(dropout)
        if mode not in MODES:
            raise ValueError(f"mode must be 'slice' or 'channel'; got {mode!r}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be 'sum' or 'concat'; got {fusion!r}")
        if not isinstance(share_weights, bool):
            raise ValueError(f"share_weights must be true or false; got {share_weights!r}")
        if share_weights and mode != "slice":
            raise ValueError("share_weights=True needs mode='slice': in channel mode each plane's first "
                             "kernel is as deep as a different axis")
        self.planes = parse_planes(planes)
        self.in_channels, self.mode, self.fusion, self.share_weights = in_channels, mode, fusion, share_weights
        self.input_size = check_input_size(input_size)
        if mode == "channel" and self.input_size is None:
            raise ValueError("mode='channel' folds the axis perpendicular to each plane into the channels, "
                             "so it needs input_size=(D, H, W)")

        def in_ch(plane: str) -> int:
            if mode == "slice":
                return in_channels
            return in_channels * self.input_size[PLANES[plane] - 2]  # type: ignore[index]

        if share_weights:
            self.stacks = nn.ModuleDict({"shared": plane_stack(in_channels, width, depth)})
        else:
            self.stacks = nn.ModuleDict({p: plane_stack(in_ch(p), width, depth) for p in self.planes})
        fused = width * (len(self.planes) if fusion == "concat" else 1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(fused, num_classes))

    def stack(self, plane: str) -> nn.Module:
        """The 2-D stack that ``plane`` runs (the shared one when ``share_weights``)."""
        if plane not in self.planes:
            raise ValueError(f"this model has no {plane!r} branch; its planes are {', '.join(self.planes)}")
        return self.stacks["shared" if self.share_weights else plane]

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError saying what is expected unless ``x`` fits the model."""
        if x.dim() != 5:
            raise ValueError(f"OrthoPlaneNet expects a batch of shape (N, C, D, H, W); "
                             f"got a {x.dim()}-D tensor of shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"OrthoPlaneNet was built for C = {self.in_channels} input channels; "
                             f"got C = {x.shape[1]} in input of shape {tuple(x.shape)}")
        if self.mode == "channel" and tuple(x.shape[2:]) != self.input_size:
            raise ValueError(f"OrthoPlaneNet in channel mode was built for (D, H, W) = {self.input_size} "
                             f"(its kernels span the folded axes); got {tuple(x.shape[2:])}")

    def branch(self, x: torch.Tensor, plane: str) -> torch.Tensor:
        """One plane's branch: ``(N, F, D, H, W)`` in slice mode, ``(N, F, A, B)`` in channel mode."""
        run = slice_branch if self.mode == "slice" else channel_branch
        return run(x, plane, self.stack(plane))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        # global average pool of each branch over all its spatial axes: (N, F)
        pooled = [self.branch(x, p).flatten(2).mean(2) for p in self.planes]
        fused = torch.stack(pooled).sum(0) if self.fusion == "sum" else torch.cat(pooled, dim=1)
        return self.head(fused)
