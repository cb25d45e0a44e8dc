"""3-D convolutions whose output is folded into 2-D maps: Lee & Kwon, Luo (HSI-CNN) and Sharma (HS-CNN)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from hsframe.sliding import check_scene, crop, slide, slide_linear
from hsframe_zoo.layers import centre_crop, require, require_patch, scene_in_blocks


class ResidualPair(nn.Module):
    """Two 1x1 convolutions with an identity shortcut: ``relu(x + conv(relu(conv(x))))``. Shapes kept."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 1)
        self.conv2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class LeeContextualCNN(nn.Module):
    """Lee and Kwon (2017), "Going deeper with contextual CNN for hyperspectral image classification".

    Multi-scale filter bank over every band: ``width`` kernels each of 5x5xB, 3x3xB and 1x1xB; the 3x3
    and 1x1 maps are max pooled (3x3 and 5x5, stride 1) so each branch gives one vector per pixel;
    concatenated (3·width) -> ReLU, LRN -> 1x1 conv (width) -> ReLU, LRN -> two residual pairs of 1x1
    convs -> 1x1 conv, ReLU, dropout -> 1x1 conv, ReLU, dropout -> 1x1 conv to K. The receptive field
    is 5x5: a larger patch is cropped to its centre 5x5.

    Args:
        in_channels: C; bands: D (any); patch_size: (H, W), at least 5x5; num_classes: K.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    def __init__(self, in_channels: int, bands: int, patch_size: tuple[int, int], num_classes: int,
                 width: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        require_patch(*patch_size, 5, "lee_contextual")
        self.patch_size = patch_size
        self.bank5 = nn.Conv3d(in_channels, width, (bands, 5, 5))
        self.bank3 = nn.Conv3d(in_channels, width, (bands, 3, 3))
        self.bank1 = nn.Conv3d(in_channels, width, (bands, 1, 1))
        self.lrn1 = nn.LocalResponseNorm(5)
        self.conv1 = nn.Conv2d(3 * width, width, 1)
        self.lrn2 = nn.LocalResponseNorm(5)
        self.res = nn.Sequential(ResidualPair(width), ResidualPair(width))
        self.head = nn.Sequential(
            nn.Conv2d(width, width, 1), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv2d(width, width, 1), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv2d(width, num_classes, 1),
        )

    def _dense(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H+4, W+4)`` -> ``(N, K, H, W)``: the network at every pixel with a full 5x5 window."""
        b5 = self.bank5(x).squeeze(2)                                          # (N, w, H, W)
        b3 = F.max_pool2d(self.bank3(x).squeeze(2), 3, 1)                      # (N, w, H+2, W+2) -> (N, w, H, W)
        b1 = F.max_pool2d(self.bank1(x).squeeze(2), 5, 1)                      # (N, w, H+4, W+4) -> (N, w, H, W)
        x = self.lrn1(F.relu(torch.cat([b5, b3, b1], 1)))
        x = self.lrn2(F.relu(self.conv1(x)))
        return self.head(self.res(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._dense(centre_crop(x, 5)).flatten(1)  # (N, K, 1, 1) -> (N, K)

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p_h - 1, W + p_w - 1)`` -> ``(N, K, H, W)``, equal to ``forward`` on each pixel's patch."""
        check_scene(x, self.patch_size)
        ph, pw = self.patch_size
        mh, mw = (ph - 5) // 2, (pw - 5) // 2  # only the centre 5x5 of each patch is read
        return self._dense(x[..., mh : x.shape[-2] - mh, mw : x.shape[-1] - mw])


class LuoHSICNN(nn.Module):
    """Luo, Zou, Yao, Li and Bai (2018), "HSI-CNN: a novel convolution neural network for hyperspectral image".

    A 3-D convolution of ``planes`` kernels 24x3x3 with spectral stride 9 over the centre 3x3 pixels
    gives, at each of d' = (D - 24) // 9 + 1 spectral positions, a vector of ``planes`` features; these
    rows form a (d', planes) matrix, read by a 2-D conv 64@3x3, then dense 1024 and dense K (ReLU).

    Args:
        in_channels: C; bands: D, at least 42 (d' >= 3); patch_size: (H, W), at least 3x3 (larger ones
        are cropped to the centre 3x3); num_classes: K.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    # Pixels per call of the per-pixel layers in scene_forward (eval.batch_size's default): each pixel's
    # 64 x (d'-2) x (planes-2) map is 45 kB at the defaults, 3 GB for a 256 x 256 tile at once.
    scene_chunk: int = 256

    def __init__(self, in_channels: int, bands: int, patch_size: tuple[int, int], num_classes: int,
                 planes: int = 90, hidden: int = 1024) -> None:
        super().__init__()
        require_patch(*patch_size, 3, "luo_hsicnn")
        require(bands, 42, "bands", "luo_hsicnn")
        self.patch_size = tuple(patch_size)  # plain attribute: scene_forward's window
        self.conv3d = nn.Conv3d(in_channels, planes, (24, 3, 3), stride=(9, 1, 1))
        self.conv2d = nn.Conv2d(1, 64, 3)
        rows = (bands - 24) // 9 + 1
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * (rows - 2) * (planes - 2), hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._classify(F.relu(self.conv3d(centre_crop(x, 3))).flatten(2))  # (N, planes, d', 1, 1) -> (N, K)

    def _classify(self, x: torch.Tensor) -> torch.Tensor:
        """``(M, planes, d')`` per-pixel features -> ``(M, K)``: the (d', planes) matrix, its 2-D conv, the dense layers."""
        x = x.transpose(1, 2)[:, None]  # (M, 1, d', planes): one row per spectral position
        return self.head(F.relu(self.conv2d(x)))  # (M, 64, d'-2, planes-2) -> (M, K)

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p_h - 1, W + p_w - 1)`` -> ``(N, K, H, W)`` logits, equal to ``forward`` (eval mode) per patch.

        The 3-D convolution is valid, so over the scene (less the margin outside every pixel's centre
        3x3) it gives each pixel's features at once; it and the per-pixel rest run on blocks of at most
        :attr:`scene_chunk` output pixels (:func:`~hsframe_zoo.layers.scene_in_blocks`).
        """
        return scene_in_blocks(x, self.patch_size, self.scene_chunk, self._scene_block)

    def _scene_block(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, h + p_h - 1, w + p_w - 1)`` -> ``(N, K, h, w)``."""
        mh, mw = (self.patch_size[0] - 3) // 2, (self.patch_size[1] - 3) // 2  # only the centre 3x3 of each patch is read
        f = F.relu(self.conv3d(x[..., mh : x.shape[-2] - mh, mw : x.shape[-1] - mw]))  # (N, planes, d', h, w)
        n, planes, rows, h, w = f.shape
        f = f.permute(0, 3, 4, 1, 2).reshape(n * h * w, planes, rows)  # one (planes, d') matrix per pixel
        return self._classify(f).reshape(n, h, w, -1).permute(0, 3, 1, 2)


class SharmaHSCNN(nn.Module):
    """Sharma, Diba, Tuytelaars and Van Gool (2016), "Hyperspectral CNN for image classification & band selection".

    conv1: 96 kernels 6x6xB (all bands) with stride 2, BatchNorm, ReLU, 2x2 max pooling; conv2: 256
    kernels 3x3x96 with stride 2, BatchNorm, ReLU, 2x2 max pooling; conv3: 512 kernels 3x3x256, ReLU;
    dense 1024, ReLU, dropout 0.5; dense K. conv2 and conv3 span every map of the layer below, so they
    are 2-D convolutions over those maps.

    Args:
        in_channels: C; bands: D (any); patch_size: (H, W), at least 57x57 (64 in the paper); num_classes: K.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    def __init__(self, in_channels: int, bands: int, patch_size: tuple[int, int], num_classes: int,
                 hidden: int = 1024, dropout: float = 0.5) -> None:
        super().__init__()
        require_patch(*patch_size, 57, "sharma_hscnn")
        self.conv1 = nn.Conv3d(in_channels, 96, (bands, 6, 6), stride=(1, 2, 2))
        self.features = nn.Sequential(
            nn.BatchNorm2d(96), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(96, 256, 3, stride=2), nn.BatchNorm2d(256), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(256, 512, 3), nn.ReLU(),
        )
        h, w = (((((s - 6) // 2 + 1) // 2 - 3) // 2 + 1) // 2 - 2 for s in patch_size)
        self.patch_size, self.window = tuple(patch_size), (h, w)  # plain attributes: scene_forward's sizes
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(512 * h * w, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x).squeeze(2)  # (N, 96, (H-6)//2+1, ...)
        return self.head(self.features(x))

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p_h - 1, W + p_w - 1)`` -> ``(N, K, H, W)`` logits, equal to ``forward`` per patch.

        Every layer is spatially valid; the four stride-2 layers (conv1, pool, conv2, pool) run at
        stride 1 with every later kernel dilated by the stride so far, up to 16 for the dense layer
        (:mod:`hsframe.sliding`). The dense layers after the first act per pixel.
        """
        size = check_scene(x, self.patch_size)
        f, dilation = slide([self.conv1], x)
        f, dilation = slide(self.features, f.squeeze(2), dilation)
        f = slide_linear(f, self.head[1], self.window, dilation)
        return crop(slide(self.head[2:], f)[0], size)
