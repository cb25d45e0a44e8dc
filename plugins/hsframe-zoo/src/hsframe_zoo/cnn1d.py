"""1-D spectral CNN (Hu et al., 2015): one convolution along the spectrum, max pooling, a dense layer."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from hsframe_zoo.layers import PixelClassifier, require


class HuCNN1D(PixelClassifier):
    """Hu, Huang, Wei, Zhang and Li (2015), "Deep convolutional neural networks for hyperspectral image classification".

    Layers for a spectrum of n1 values: C1 = ``filters`` 1-D kernels of size k1 = floor(n1 / 9), tanh;
    M2 = max pooling of size and stride k2 = ceil(k1 / 5); F3 = ``hidden`` tanh units; output K.
    Weights start uniform in [-0.05, 0.05], as the paper states.

    Args:
        bands: n1, values per spectrum (C*D); at least 9 (k1 = floor(n1/9) must be 1 or more).
        num_classes: K.
        patch_size: side of the patch the model is fed (only its centre pixel is read).

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    def __init__(self, bands: int, num_classes: int, patch_size: int = 1, filters: int = 20, hidden: int = 100) -> None:
        super().__init__()
        require(bands, 9, "bands (data.pca_components, or every band with null)", "hu_cnn1d")
        self.patch_size = patch_size
        k1 = bands // 9  # the paper's table (220 bands -> 24, 103 -> 11, 224 -> 24) is floor, not ceil
        k2 = math.ceil(k1 / 5)
        n3 = (bands - k1 + 1) // k2
        self.features = nn.Sequential(nn.Conv1d(1, filters, k1), nn.Tanh(), nn.MaxPool1d(k2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(filters * n3, hidden), nn.Tanh(), nn.Linear(hidden, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.uniform_(m.weight, -0.05, 0.05)
                nn.init.uniform_(m.bias, -0.05, 0.05)

    def classify(self, spectra: torch.Tensor) -> torch.Tensor:
        """``(M, n1)`` -> ``(M, K)``."""
        return self.head(self.features(spectra[:, None]))  # (M, filters, n3) -> (M, K)
