"""HybridSN network."""
from __future__ import annotations

import torch
import torch.nn as nn


class HybridSN(nn.Module):
    """HybridSN for hyperspectral patches.

    Args:
        in_channels: C of the ``(N, C, D, H, W)`` input (1 for a plain patch).
        bands: D, spectral depth after PCA; at least 13 (the three 3-D kernels eat 12 bands).
        patch_size: (H, W) of the patch; each at least 9 (four 3x3 valid convolutions eat 8).
        num_classes: K.
        dropout: rate after each hidden dense layer.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits.
    """

    def __init__(
        self,
        in_channels: int = 1,
        bands: int = 30,
        patch_size: tuple[int, int] = (25, 25),
        num_classes: int = 16,
        dropout: float = 0.4,
    ) -> None:
        super().__init__()
        h, w = patch_size
        if bands < 13:
            raise ValueError(f"HybridSN needs at least 13 bands (PCA components); got {bands}")
        if h < 9 or w < 9:
            raise ValueError(f"HybridSN needs patches of at least 9x9; got {h}x{w}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2; got {num_classes}")
        self.conv3d = nn.Sequential(
            nn.Conv3d(in_channels, 8, (7, 3, 3)), nn.ReLU(inplace=True),
            nn.Conv3d(8, 16, (5, 3, 3)), nn.ReLU(inplace=True),
            nn.Conv3d(16, 32, (3, 3, 3)), nn.ReLU(inplace=True),
        )
        depth_left = bands - 12
        self.conv2d = nn.Sequential(nn.Conv2d(32 * depth_left, 64, 3), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * (h - 8) * (w - 8), 256), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(x)  # (N, 32, D-12, H-6, W-6)
        n, c, d, h, w = x.shape
        x = self.conv2d(x.reshape(n, c * d, h, w))  # fold depth into channels: (N, 64, H-8, W-8)
        return self.head(x)
