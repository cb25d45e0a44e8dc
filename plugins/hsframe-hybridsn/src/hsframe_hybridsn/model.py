"""HybridSN network."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from hsframe.sliding import depth_folded_conv3d, fold_depth, slide_linear


class HybridSN(nn.Module):
    """HybridSN for hyperspectral patches.

    Args:
        in_channels: C of the ``(N, C, D, H, W)`` input (1 for a plain patch).
        bands: D, spectral depth after PCA; at least 13 (the three 3-D kernels eat 12 bands).
        patch_size: (H, W) of the patch; each at least 9 (four 3x3 valid convolutions eat 8).
        num_classes: K.
        dropout: rate after each hidden dense layer.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)`` logits; :meth:`scene_forward` gives the same logits
    for every pixel of a whole padded scene in one fully convolutional pass.
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
        self.patch_size = (h, w)  # plain attribute (no state): scene_forward needs the dense layer's window
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

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every pixel of a padded scene at once, equal to :meth:`forward` on each pixel's patch.

        The patch classifier is slid over the scene fully convolutionally: the convolutions are
        valid ones over the whole scene, so windows that overlap share their work, and the dense
        head runs as convolutions with views of the Linear weights (nothing copied, state_dict
        unchanged). Dropout is skipped: this is inference (what ``forward`` gives in eval mode).

        Args:
            x: ``(N, C, D, H + p_h - 1, W + p_w - 1)``, the ``(C, D, H, W)`` scene padded by
                ``p // 2`` on each side (as :class:`hsframe.data.patches.PatchSource` pads it),
                where ``(p_h, p_w)`` is the patch size the model was built for.

        Returns:
            ``(N, K, H, W)`` logits; ``[n, :, i, j]`` equals ``forward`` on the patch centred at
            pixel ``(i, j)``, i.e. on ``x[n, :, :, i : i + p_h, j : j + p_w]``.
        """
        dense1, dense2, dense3 = (m for m in self.head if isinstance(m, nn.Linear))
        if hasattr(self, "patch_size"):
            ph, pw = self.patch_size
        else:  # a module pickled before the attribute existed: its patch was square
            ph = pw = 8 + math.isqrt(dense1.in_features // 64)
        if x.dim() != 5 or x.shape[-2] < ph or x.shape[-1] < pw:
            raise ValueError(f"scene_forward needs (N, C, D, H + {ph - 1}, W + {pw - 1}) with H, W >= 1; got {tuple(x.shape)}")
        # Each Conv3d runs as a Conv2d over depth folded into channels (a banded kernel): on CPU about
        # 5x faster over a whole scene than oneDNN's Conv3d with 1, 8 or 16 input channels.
        depth = x.shape[2]
        x = fold_depth(x)
        for layer in self.conv3d:
            if isinstance(layer, nn.Conv3d):
                x, depth = depth_folded_conv3d(x, layer, depth)
            else:
                x = layer(x)  # ReLU
        x = self.conv2d(x)  # (N, 32*(D-12), H+p_h-7, W+p_w-7) is already the fold: (N, 64, H+p_h-9, W+p_w-9)
        # Flatten reads (64, p_h-8, p_w-8) in C, h, w order, so the first dense layer is that convolution.
        x = F.relu(slide_linear(x, dense1, (ph - 8, pw - 8)))  # (N, 256, H, W); by FFT when the window is large
        x = F.relu(F.conv2d(x, dense2.weight[:, :, None, None], dense2.bias))  # (N, 128, H, W)
        return F.conv2d(x, dense3.weight[:, :, None, None], dense3.bias)  # (N, K, H, W)
