"""Spectral-spatial transformers: SpectralFormer (Hong et al., 2021) and SSFTT (Sun et al., 2022)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from hsframe.sliding import check_scene
from hsframe_zoo.layers import require, require_patch, scene_in_blocks


class Attention(nn.Module):
    """Multi-head self-attention. Shapes: ``(N, T, dim)`` -> ``(N, T, dim)``."""

    def __init__(self, dim: int, heads: int, dim_head: int, qkv_bias: bool, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * heads * dim_head, bias=qkv_bias)
        self.out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        q, k, v = (z.reshape(n, t, self.heads, -1).transpose(1, 2) for z in self.qkv(x).chunk(3, dim=-1))
        y = F.scaled_dot_product_attention(q, k, v)  # (N, heads, T, dim_head), scale dim_head ** -0.5
        return self.out(y.transpose(1, 2).reshape(n, t, -1))


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer: ``x + attn(LN(x))``, then ``x + mlp(LN(x))`` (GELU). Shapes kept."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int, dropout: float, qkv_bias: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dim_head, qkv_bias, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SpectralFormer(nn.Module):
    """Hong, Han, Yao, Gao, Zhang, Plaza and Chanussot (2021), "SpectralFormer: rethinking hyperspectral image
    classification with transformers".

    One token per band. Group-wise spectral embedding (GSE): band b's token is a linear map of the
    ``band_group`` neighbouring bands (b - g//2 .. b + g//2, zero beyond the ends) over the whole patch
    (g·H·W values); a class token and learned positions are added. ``depth`` pre-norm layers follow;
    cross-layer adaptive fusion (CAF): before layer l >= 2 its input is fused with the input of layer
    l - 2 by a learned 1x2 convolution whose channels are the tokens. LayerNorm and a dense layer on the
    class token give the logits. Published defaults: dim 64, depth 5, 4 heads of 16, MLP 8, dropout 0.1,
    g = 3, 7x7 patches of every band.

    Args:
        bands: D·C tokens (any); patch_size: (H, W) (1x1 gives the pixel-wise variant); num_classes: K.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    # Pixels per transformer call in scene_forward (eval.batch_size's default): a pixel's attention over
    # D + 1 tokens holds heads x (D + 1)^2 values, 0.6 MB at 200 bands, so a 256 x 256 tile at once would take 40 GB.
    scene_chunk: int = 256

    def __init__(self, bands: int, patch_size: tuple[int, int], num_classes: int, dim: int = 64, depth: int = 5,
                 heads: int = 4, dim_head: int = 16, mlp_dim: int = 8, band_group: int = 3, dropout: float = 0.1,
                 emb_dropout: float = 0.1, caf: bool = True) -> None:
        super().__init__()
        if band_group < 1 or band_group % 2 == 0:
            raise ValueError(f"spectralformer needs an odd band_group of at least 1; got {band_group}")
        require(depth, 1, "depth", "spectralformer")
        self.band_group = band_group
        self.patch_size = tuple(patch_size)  # plain attribute: scene_forward's window
        tokens = bands + 1
        self.embed = nn.Linear(band_group * patch_size[0] * patch_size[1], dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens, dim))
        self.drop = nn.Dropout(emb_dropout)
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, dim_head, mlp_dim, dropout, qkv_bias=False) for _ in range(depth))
        # CAF: one fusion per layer from the third on; Conv2d over (tokens, dim, 2 sources) with tokens as channels.
        self.fuse = nn.ModuleList(nn.Conv2d(tokens, tokens, (1, 2)) for _ in range(depth - 2)) if caf else nn.ModuleList()
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, num_classes))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """GSE: ``(N, C, D, H, W)`` -> ``(N, C·D, g·H·W)``: each band's neighbourhood of g bands over the patch."""
        n = x.shape[0]
        x = x.reshape(n, -1, x.shape[-2] * x.shape[-1])  # (N, L, H·W)
        half = self.band_group // 2
        x = F.pad(x, (0, 0, half, half))  # zero bands beyond both ends
        return x.unfold(1, self.band_group, 1).reshape(n, -1, self.band_group * x.shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._classify(self.embed(self.tokens(x)))  # (N, L, dim) band tokens -> (N, K)

    def _classify(self, t: torch.Tensor) -> torch.Tensor:
        """``(M, L, dim)`` embedded band tokens -> ``(M, K)``: class token, positions, layers with CAF, head."""
        t = torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], 1) + self.pos
        t = self.drop(t)
        inputs: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            inputs.append(t)
            if i >= 2 and self.fuse:
                t = self.fuse[i - 2](torch.stack([t, inputs[i - 2]], -1)).squeeze(-1)  # (N, T, dim, 2) -> (N, T, dim)
            t = layer(t)
        return self.head(t[:, 0])

    def embed_kernel(self) -> torch.Tensor:
        """GSE's dense layer as a ``(dim, 1, g, p_h, p_w)`` Conv3d kernel (a view of its weight, not a copy).

        :meth:`tokens` flattens a band's window pixel by pixel, the g neighbouring bands innermost.
        """
        return self.embed.weight.view(-1, *self.patch_size, self.band_group).permute(0, 3, 1, 2)[:, None]

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p_h - 1, W + p_w - 1)`` -> ``(N, K, H, W)`` logits, equal to ``forward`` (eval mode) per patch.

        GSE is a Conv3d over (bands, rows, columns) with the patch-sized kernel (:meth:`embed_kernel`),
        bands zero-padded by g // 2 as :meth:`tokens` pads them; the transformer then reads each pixel's
        band tokens as ``forward`` does. Both run on blocks of at most :attr:`scene_chunk` output pixels
        (:func:`~hsframe_zoo.layers.scene_in_blocks`), and no patch is gathered.
        """
        return scene_in_blocks(x, self.patch_size, self.scene_chunk, self._scene_block)

    def _scene_block(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, h + p_h - 1, w + p_w - 1)`` -> ``(N, K, h, w)``."""
        bands = x.reshape(x.shape[0], 1, -1, *x.shape[-2:])  # (N, 1, C·D, ...): the L tokens' source bands
        t = F.conv3d(bands, self.embed_kernel(), self.embed.bias, padding=(self.band_group // 2, 0, 0))  # (N, dim, L, h, w)
        n, dim, tokens, h, w = t.shape
        t = t.permute(0, 3, 4, 2, 1).reshape(n * h * w, tokens, dim)  # one row of band tokens per pixel
        return self._classify(t).reshape(n, h, w, -1).permute(0, 3, 1, 2)


class GaussianTokenizer(nn.Module):
    """SSFTT's feature tokenizer: ``(N, S, dim)`` features -> ``(N, L, dim)`` semantic tokens.

    A = softmax over the S positions of ``(X W_a)^T`` (L rows); tokens = A (X W_v). W_a and W_v start
    from Xavier-normal (Gaussian) weights, hence "Gaussian-weighted".
    """

    def __init__(self, dim: int, num_tokens: int) -> None:
        super().__init__()
        self.wa = nn.Parameter(nn.init.xavier_normal_(torch.empty(dim, num_tokens)))
        self.wv = nn.Parameter(nn.init.xavier_normal_(torch.empty(dim, dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attention = torch.softmax((x @ self.wa).transpose(1, 2), dim=-1)  # (N, L, S)
        return attention @ (x @ self.wv)  # (N, L, dim)

    def slide(self, x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
        """:meth:`forward` on every ``window`` of a feature map: ``(N, dim, H', W')`` -> ``(N, H, W, L, dim)``.

        The softmax over a window's positions is a ratio of two window sums,
        ``sum_s exp(a_s) v_s / sum_s exp(a_s)``, and window sums slide (an average pool at stride 1).
        Softmax ignores a shift, so ``a`` is shifted by its maximum over the whole map; in float64 a
        window underflows only when all its logits lie over 700 below that maximum.
        """
        a = torch.einsum("ncij,cl->nlij", x, self.wa).double()  # (N, L, H', W') attention logits
        v = torch.einsum("ncij,cd->ndij", x, self.wv).double()  # (N, dim, H', W') values
        e = (a - a.amax(dim=(2, 3), keepdim=True)).exp()
        n, tokens, dim = x.shape[0], e.shape[1], v.shape[1]
        num = F.avg_pool2d((e[:, :, None] * v[:, None]).flatten(1, 2), window, stride=1)  # (N, L*dim, H, W)
        den = F.avg_pool2d(e, window, stride=1)  # (N, L, H, W)
        out = num.view(n, tokens, dim, *den.shape[2:]) / den[:, :, None]
        return out.permute(0, 3, 4, 1, 2).to(x.dtype)


class SSFTT(nn.Module):
    """Sun, Zhao, Zheng and Wu (2022), "Spectral-spatial feature tokenization transformer for hyperspectral image classification".

    Conv3d 8@3x3x3, BatchNorm, ReLU; the 8·(D-2) maps folded into channels; Conv2d 64@3x3, BatchNorm,
    ReLU; the (H-4)(W-4) positions are the sequence; the Gaussian-weighted tokenizer makes
    ``num_tokens`` tokens; a class token and learned positions are added; ``depth`` pre-norm layers;
    a dense layer on the class token. Published defaults: 13x13 patches of 30 PCA components, dim 64,
    L = 4 tokens, depth 1, 8 heads (of 8), MLP 8, dropout 0.1.

    Args:
        in_channels: C; bands: D, at least 3; patch_size: (H, W), at least 5x5; num_classes: K.

    Shapes: ``(N, C, D, H, W)`` -> ``(N, K)``; ``scene_forward`` ``(N, C, D, H+p-1, W+p-1)`` -> ``(N, K, H, W)``.
    """

    def __init__(self, in_channels: int, bands: int, patch_size: tuple[int, int], num_classes: int, dim: int = 64,
                 num_tokens: int = 4, depth: int = 1, heads: int = 8, mlp_dim: int = 8, dropout: float = 0.1,
                 emb_dropout: float = 0.1) -> None:
        super().__init__()
        require_patch(*patch_size, 5, "ssftt")
        require(bands, 3, "bands", "ssftt")
        if dim % heads:
            raise ValueError(f"ssftt needs dim divisible by heads; got dim={dim}, heads={heads}")
        self.conv3d = nn.Sequential(nn.Conv3d(in_channels, 8, 3), nn.BatchNorm3d(8), nn.ReLU())
        self.patch_size = tuple(patch_size)  # plain attribute: scene_forward's window
        self.conv2d = nn.Sequential(nn.Conv2d(8 * (bands - 2), dim, 3), nn.BatchNorm2d(dim), nn.ReLU())
        self.tokenizer = GaussianTokenizer(dim, num_tokens)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.empty(1, num_tokens + 1, dim).normal_(std=0.02))
        self.drop = nn.Dropout(emb_dropout)
        self.layers = nn.Sequential(*(EncoderLayer(dim, heads, dim // heads, mlp_dim, dropout, qkv_bias=True) for _ in range(depth)))
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(x)  # (N, 8, D-2, H-2, W-2)
        n, c, d, h, w = x.shape
        x = self.conv2d(x.reshape(n, c * d, h, w))  # (N, dim, H-4, W-4)
        t = self.tokenizer(x.flatten(2).transpose(1, 2))  # (N, L, dim)
        return self._classify(t)

    def _classify(self, t: torch.Tensor) -> torch.Tensor:
        """``(M, L, dim)`` tokens -> ``(M, K)``: class token, positions, transformer, dense layer."""
        t = self.drop(torch.cat([self.cls_token.expand(t.shape[0], -1, -1), t], 1) + self.pos)
        return self.head(self.layers(t)[:, 0])

    def scene_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, D, H + p_h - 1, W + p_w - 1)`` -> ``(N, K, H, W)`` logits, equal to ``forward`` (eval mode) per patch.

        The two valid convolutions run over the scene once; the tokenizer's softmax over each patch's
        ``(p_h - 4) x (p_w - 4)`` positions becomes window sums (:meth:`GaussianTokenizer.slide`);
        the transformer then reads each pixel's ``num_tokens`` tokens, as ``forward`` does.
        """
        h, w = check_scene(x, self.patch_size)
        f = self.conv3d(x)  # (N, 8, D-2, H+p_h-3, W+p_w-3)
        n, c, d = f.shape[:3]
        f = self.conv2d(f.reshape(n, c * d, *f.shape[3:]))  # (N, dim, H+p_h-5, W+p_w-5)
        tokens = self.tokenizer.slide(f, (self.patch_size[0] - 4, self.patch_size[1] - 4))  # (N, H, W, L, dim)
        logits = self._classify(tokens.reshape(n * h * w, *tokens.shape[3:]))  # (N*H*W, K)
        return logits.reshape(n, h, w, -1).permute(0, 3, 1, 2)
