"""3-D CNNs over the (bands, height, width) patch: Hamida, Li, Chen and He."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from hsframe.sliding import check_scene, crop, fold_depth, slide, slide_linear
from hsframe_zoo.layers import require, require_patch


def out_len(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Length after a convolution or pooling (floor mode), as PyTorch computes it."""
    return (n + 2 * padding - kernel) // stride + 1


class _SlidingHead(nn.Module):
    """Valid, spatially stride-1 3-D convolutions then one Linear over the whole remaining window.

    Such a patch classifier is fully convolutional: :meth:`scene_forward` runs the convolutions over a
    padded scene and slides the Linear as a convolution (weights viewed, not copied), giving for every
    pixel what ``forward`` gives on its patch. Subclasses set ``features``, ``fc``, ``window`` and ``patch_size``.
    """

    features: nn.Module
    fc: nn.Linear
    window: tuple[int, int]
    patch_size: tuple[int, int]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.features(x), 1))

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p_h - 1, W + p_w - 1)`` -> ``(N, K, H, W)`` logits, equal to ``forward`` per patch."""
        check_scene(x, self.patch_size)
        f = self.features(x)  # (N, C', D', H + window - 1, W + window - 1)
        return slide_linear(fold_depth(f), self.fc, self.window)


class HamidaCNN3D(_SlidingHead):
    """Ben Hamida, Benoit, Lambert and Ben Amar (2018), "3-D deep learning approach for remote sensing image classification".

    The retained 3-D network: conv 20@3x3x3; spectral "pooling" conv 20@3x1x1 stride 2; conv 35@3x3x3
    (spectral padding 1); pooling conv 35@3x1x1 stride 2; conv 35@3x1x1; conv 35@2x1x1 stride 2; a dense
    layer to K. ReLU after every convolution. Kernels are (depth, height, width).

    Args:
        in_channels: C; bands: D (at least 3); patch_size: (H, W), at least 5x5 (two valid 3x3 convs);
        num_classes: K.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    def __init__(self, in_channels: int, bands: int, patch_size: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        require_patch(*patch_size, 5, "hamida_3dcnn")
        require(bands, 3, "bands", "hamida_3dcnn")
        self.patch_size = patch_size
        self.features = nn.Sequential(
            nn.Conv3d(in_channels, 20, (3, 3, 3)), nn.ReLU(),
            nn.Conv3d(20, 20, (3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)), nn.ReLU(),
            nn.Conv3d(20, 35, (3, 3, 3), padding=(1, 0, 0)), nn.ReLU(),
            nn.Conv3d(35, 35, (3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)), nn.ReLU(),
            nn.Conv3d(35, 35, (3, 1, 1), padding=(1, 0, 0)), nn.ReLU(),
            nn.Conv3d(35, 35, (2, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)), nn.ReLU(),
        )
        d = out_len(out_len(out_len(bands, 3), 3, 2, 1), 3, 2, 1)  # conv1, pool1, (conv2 keeps), pool2
        d = out_len(d, 2, 2, 1)  # (conv3 keeps), conv4
        self.window = (patch_size[0] - 4, patch_size[1] - 4)
        self.fc = nn.Linear(35 * d * self.window[0] * self.window[1], num_classes)


class LiCNN3D(_SlidingHead):
    """Li, Zhang and Shen (2017), "Spectral-spatial classification of hyperspectral imagery with 3D convolutional neural network".

    Two valid 3-D convolutions, C1 = 2@7x3x3 (7 bands deep) and C2 = 4@3x3x3, ReLU, then a dense layer to K.

    Args:
        in_channels: C; bands: D, at least 9 (the kernels eat 8); patch_size: (H, W), at least 5x5; num_classes: K.
        planes: kernels of C1 (C2 has twice as many).

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    def __init__(self, in_channels: int, bands: int, patch_size: tuple[int, int], num_classes: int, planes: int = 2) -> None:
        super().__init__()
        require_patch(*patch_size, 5, "li_3dcnn")
        require(bands, 9, "bands", "li_3dcnn")
        self.patch_size = patch_size
        self.features = nn.Sequential(
            nn.Conv3d(in_channels, planes, (7, 3, 3)), nn.ReLU(),
            nn.Conv3d(planes, 2 * planes, (3, 3, 3)), nn.ReLU(),
        )
        self.window = (patch_size[0] - 4, patch_size[1] - 4)
        self.fc = nn.Linear(2 * planes * (bands - 8) * self.window[0] * self.window[1], num_classes)


class ChenCNN3D(nn.Module):
    """Chen, Jiang, Li, Jia and Ghamisi (2016), "Deep feature extraction and classification of hyperspectral images based on CNNs".

    The 3-D CNN: conv ``widths[0]``@32x4x4, 2x2 max pooling, conv ``widths[1]``@32x5x5, 2x2 max pooling,
    conv ``widths[2]``@32x4x4, ReLU after each, dropout 0.5, a dense layer to K. A 27x27 patch ends at
    1x1 (27 -> 24 -> 12 -> 8 -> 4 -> 1). The paper's widths are 128, 192, 256.

    Args:
        in_channels: C; bands: D, at least 94 (three kernels 32 bands deep); patch_size: (H, W), at least 27x27;
        num_classes: K; widths: kernels per convolution; dropout: before the dense layer.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    def __init__(self, in_channels: int, bands: int, patch_size: tuple[int, int], num_classes: int,
                 widths: Sequence[int] = (128, 192, 256), dropout: float = 0.5) -> None:
        super().__init__()
        require_patch(*patch_size, 27, "chen_3dcnn")
        require(bands, 94, "bands", "chen_3dcnn")
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"chen_3dcnn needs three positive widths; got {list(widths)}")
        w1, w2, w3 = widths
        self.features = nn.Sequential(
            nn.Conv3d(in_channels, w1, (32, 4, 4)), nn.ReLU(), nn.MaxPool3d((1, 2, 2)),
            nn.Conv3d(w1, w2, (32, 5, 5)), nn.ReLU(), nn.MaxPool3d((1, 2, 2)),
            nn.Conv3d(w2, w3, (32, 4, 4)), nn.ReLU(),
        )
        h, w = ((((s - 3) // 2) - 4) // 2 - 3 for s in patch_size)
        self.patch_size, self.window = tuple(patch_size), (h, w)  # plain attributes: scene_forward's sizes
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(w3 * (bands - 93) * h * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p_h - 1, W + p_w - 1)`` -> ``(N, K, H, W)`` logits, equal to ``forward`` per patch.

        The valid convolutions and the two 2x2 poolings run at stride 1, later kernels dilated by the
        stride so far (2, then 4) (:func:`hsframe.sliding.slide`); the dense layer is a 4-dilated conv.
        """
        size = check_scene(x, self.patch_size)
        f, dilation = slide(self.features, x)  # (N, w3, D - 93, H + ..., W + ...)
        return crop(slide_linear(fold_depth(f), self.head[-1], self.window, dilation), size)


class MultiScaleBlock(nn.Module):
    """He et al.'s multi-scale block: spectral convolutions 1, 3, 5 and 11 bands deep ("same" padding), summed.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, C, D, H, W)`` (before the ReLU that follows it).
    """

    def __init__(self, channels: int, depths: Sequence[int] = (1, 3, 5, 11)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv3d(channels, channels, (k, 1, 1), padding=(k // 2, 0, 0)) for k in depths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([branch(x) for branch in self.branches]).sum(0)


class HeM3DCNN(nn.Module):
    """He, Li and Chen (2017), "Multi-scale 3D deep convolutional neural network for hyperspectral image classification".

    Conv 16@11x3x3 with spectral stride 3; two multi-scale blocks (16 kernels per branch, branches
    summed); conv 16@3x2x2; max pooling 3x2x2 (stride = size); dropout 0.6; a dense layer to K.
    ReLU after every convolution or block.

    Args:
        in_channels: C; bands: D, at least 23; patch_size: (H, W), at least 5x5 (7x7 in the paper); num_classes: K.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    def __init__(self, in_channels: int, bands: int, patch_size: tuple[int, int], num_classes: int, dropout: float = 0.6) -> None:
        super().__init__()
        require_patch(*patch_size, 5, "he_m3dcnn")
        require(bands, 23, "bands", "he_m3dcnn")
        self.stem = nn.Sequential(nn.Conv3d(in_channels, 16, (11, 3, 3), stride=(3, 1, 1)), nn.ReLU())
        self.block1 = MultiScaleBlock(16)
        self.block2 = MultiScaleBlock(16)
        self.reduce = nn.Sequential(nn.Conv3d(16, 16, (3, 2, 2)), nn.ReLU(), nn.MaxPool3d((3, 2, 2)))
        d = (out_len(bands, 11, 3) - 2) // 3
        h, w = ((s - 3) // 2 for s in patch_size)  # s - 2 (stem), - 1 (conv 2x2), // 2 (pool)
        self.patch_size, self.window = tuple(patch_size), (h, w)  # plain attributes: scene_forward's sizes
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(16 * d * h * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (N, 16, D', H-2, W-2)
        x = F.relu(self.block1(x))
        x = F.relu(self.block2(x))
        return self.head(self.reduce(x))  # (N, 16, (D'-2)//3, (H-3)//2, (W-3)//2) -> (N, K)

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p_h - 1, W + p_w - 1)`` -> ``(N, K, H, W)`` logits, equal to ``forward`` per patch.

        Stem and blocks are valid (1x1 spatially for the blocks), so they run on the scene as they
        are; the pooling's spatial stride 2 becomes a 2-dilated dense layer (:mod:`hsframe.sliding`).
        """
        size = check_scene(x, self.patch_size)
        x = F.relu(self.block2(F.relu(self.block1(self.stem(x)))))
        f, dilation = slide(self.reduce, x)
        return crop(slide_linear(fold_depth(f), self.head[-1], self.window, dilation), size)
