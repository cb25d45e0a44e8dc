"""Spectral recurrent network (Mou et al., 2017): a GRU reads the spectrum band by band."""
from __future__ import annotations

import torch
import torch.nn as nn

from hsframe_zoo.layers import PixelClassifier, PRetanh


class PRetanhGRUCell(nn.Module):
    """A GRU cell whose candidate state uses PRetanh instead of tanh (the paper's proposal).

    Shapes: ``x`` ``(M, input_size)``, ``h`` ``(M, hidden)`` -> ``(M, hidden)``.
    """

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.x2h = nn.Linear(input_size, 3 * hidden)  # update, reset, candidate: input parts
        self.h2h = nn.Linear(hidden, 3 * hidden)      # the same, from the previous state
        self.act = PRetanh()

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        xz, xr, xc = self.x2h(x).chunk(3, dim=1)
        hz, hr, hc = self.h2h(h).chunk(3, dim=1)
        z = torch.sigmoid(xz + hz)
        r = torch.sigmoid(xr + hr)
        candidate = self.act(xc + r * hc)
        return (1 - z) * h + z * candidate


class MouRNN(PixelClassifier):
    """Mou, Ghamisi and Zhu (2017), "Deep recurrent neural networks for hyperspectral image classification".

    The spectrum is a sequence, one band per time step (input size 1); a GRU with PRetanh and
    ``hidden`` units reads it and the last state is classified by one dense layer.

    Args:
        bands: sequence length (C*D); any length of 1 or more.
        num_classes: K.
        patch_size: side of the patch the model is fed (only its centre pixel is read).

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    # The GRU steps band by band, a few small ops per step: larger blocks pay those per-op costs less often
    # (145 x 145 scene, 200 bands, 2 CPU threads: 5.4 s at 256 pixels a block, 2.7 s at 1024, 2.0 s at 4096, 2.4 s whole).
    scene_chunk: int = 4096

    def __init__(self, bands: int, num_classes: int, patch_size: int = 1, hidden: int = 64) -> None:
        super().__init__()
        if hidden < 1:
            raise ValueError(f"mou_rnn needs hidden >= 1; got {hidden}")
        self.patch_size = patch_size
        self.cell = PRetanhGRUCell(1, hidden)
        self.head = nn.Linear(hidden, num_classes)

    def classify(self, spectra: torch.Tensor) -> torch.Tensor:
        """``(M, L)`` -> ``(M, K)``: L steps of the GRU, then the dense layer on the last state."""
        h = spectra.new_zeros(spectra.shape[0], self.cell.hidden)
        steps = spectra.unsqueeze(-1)  # (M, L, 1)
        for t in range(steps.shape[1]):
            h = self.cell(steps[:, t], h)
        return self.head(h)
