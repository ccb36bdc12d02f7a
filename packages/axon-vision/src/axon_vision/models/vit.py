"""Vision Transformer (Dosovitskiy et al. 2021) with torchvision's layout and state-dict names.

``conv_proj`` (patch embedding, a ``patch x patch`` conv with stride ``patch``), ``class_token
[1, 1, hidden]``, ``encoder.pos_embedding [1, 1 + patches, hidden]``, ``encoder.layers.encoder_layer_<i>``
(``ln_1``, ``self_attention`` = MultiheadAttention with ``in_proj_weight`` / ``out_proj``, ``ln_2``,
``mlp.0`` / ``mlp.3``), ``encoder.ln``, ``heads.head``. Pre-norm blocks, LayerNorm eps 1e-6, exact GELU.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import axon_nn as nn
import axon_tensor
from axon_autograd import cat
from axon_nn import init

from ..errors import ImageShapeError

__all__ = ["EncoderBlock", "MLPBlock", "VisionTransformer", "ViTEncoder", "vit_b_16", "vit_l_16"]


class MLPBlock(nn.Sequential):
    """Linear, GELU, Dropout, Linear, Dropout: ``[*, hidden] -> [*, hidden]`` through ``mlp_dim``."""

    def __init__(self, hidden_dim: int, mlp_dim: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(hidden_dim, mlp_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, hidden_dim),
            nn.Dropout(dropout),
        )
        # torchvision's initialisation: Xavier-uniform weights, N(0, 1e-6) biases.
        for layer in (self[0], self[3]):
            init.xavier_uniform_(layer.weight)
            init.normal_(layer.bias, 0.0, 1e-6)


class EncoderBlock(nn.Module):
    """Pre-norm self-attention and MLP, each with a residual: ``[N, seq, hidden] -> [N, seq, hidden]``."""

    def __init__(self, num_heads: int, hidden_dim: int, mlp_dim: int, dropout: float, attention_dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, x: Any) -> Any:
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + self.dropout(y)
        return x + self.mlp(self.ln_2(x))


class ViTEncoder(nn.Module):
    """Learned position embedding, ``num_layers`` EncoderBlocks, final LayerNorm (torchvision's ``Encoder``)."""

    def __init__(
        self,
        seq_length: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float,
        attention_dropout: float,
    ) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(axon_tensor.zeros(1, seq_length, hidden_dim))
        init.normal_(self.pos_embedding, 0.0, 0.02)
        self.dropout = nn.Dropout(dropout)
        blocks = OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout))
            for i in range(num_layers)
        )
        self.layers = nn.Sequential(blocks)
        self.ln = nn.LayerNorm(hidden_dim, eps=1e-6)

    def forward(self, x: Any) -> Any:
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """``[N, 3, image_size, image_size]`` images to ``[N, num_classes]`` logits from the class token."""

    def __init__(
        self,
        image_size: int,
        patch_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        num_classes: int = 1000,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"VisionTransformer: image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.image_size, self.patch_size, self.hidden_dim = image_size, patch_size, hidden_dim
        self.conv_proj = nn.Conv2d(in_channels, hidden_dim, patch_size, stride=patch_size)
        # torchvision's initialisation: truncated normal with std sqrt(1 / fan_in) for the patch embedding.
        fan_in = in_channels * patch_size * patch_size
        init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1.0 / fan_in))
        init.zeros_(self.conv_proj.bias)
        self.class_token = nn.Parameter(axon_tensor.zeros(1, 1, hidden_dim))
        seq_length = (image_size // patch_size) ** 2 + 1
        self.encoder = ViTEncoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(hidden_dim, num_classes)))
        init.zeros_(self.heads.head.weight)
        init.zeros_(self.heads.head.bias)

    def patchify(self, x: Any) -> Any:
        """``[N, C, H, W]`` images to ``[N, patches, hidden]`` patch embeddings (row-major patch order)."""
        n, _, h, w = x.shape
        if h != self.image_size or w != self.image_size:
            raise ImageShapeError(
                f"VisionTransformer: expected {self.image_size}x{self.image_size} images, got {h}x{w}"
            )
        x = self.conv_proj(x)
        return x.reshape(n, self.hidden_dim, -1).permute(0, 2, 1)

    def forward(self, x: Any) -> Any:
        x = self.patchify(x)
        token = self.class_token.expand(x.shape[0], -1, -1)
        x = self.encoder(cat([token, x], 1))
        return self.heads(x[:, 0])


def vit_b_16(num_classes: int = 1000, image_size: int = 224, **kwargs: Any) -> VisionTransformer:
    """ViT-B/16: 12 layers, 12 heads, hidden 768, MLP 3072 (86.6M parameters at 224 px, 1000 classes)."""
    return VisionTransformer(image_size, 16, 12, 12, 768, 3072, num_classes=num_classes, **kwargs)


def vit_l_16(num_classes: int = 1000, image_size: int = 224, **kwargs: Any) -> VisionTransformer:
    """ViT-L/16: 24 layers, 16 heads, hidden 1024, MLP 4096 (304M parameters at 224 px, 1000 classes)."""
    return VisionTransformer(image_size, 16, 24, 16, 1024, 4096, num_classes=num_classes, **kwargs)
