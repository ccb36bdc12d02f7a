"""``DifferentialAttention``: the attention of the Differential Transformer (Ye et al., 2024).

Each head computes two softmax maps from two halves of its queries and keys and subtracts them,
``(softmax(Q1 K1ᵀ/√d) − λ·softmax(Q2 K2ᵀ/√d)) V``, cancelling attention noise common to both.
``λ = exp(λq1·λk1) − exp(λq2·λk2) + λ_init`` is learnt through the four vectors, with
``λ_init = 0.8 − 0.6·exp(−0.3·(l − 1))`` for the layer's 1-based depth ``l``. Each head's output
is normalised on its own (RMSNorm, or GroupNorm with one group per head) and scaled by
``1 − λ_init``. The layout follows the paper's reference code (``multihead_diffattn.py``),
except for grouped keys: there the ``2·num_kv_heads`` key maps are repeated one by one, so
with ``num_kv_heads < num_heads`` both maps of a head can read the same key; here every head
of a group reads its key head's ``K1`` and ``K2``, as the paper's equations have it.

Because ``A1·V − λ·A2·V`` is linear in the maps, both run as one ``scaled_dot_product_attention``
call over ``2·num_heads`` maps, so the flash path applies (no ``[L, S]`` matrix without a mask).
"""

from __future__ import annotations

import math
from typing import Any

from axon_core import ShapeError

from .. import functional as F
from .. import init
from ..module import Module
from ._factory import new_parameter
from .linear import Linear
from .normalization import GroupNorm, RMSNorm
from .rotary import RotaryEmbedding

__all__ = ["DifferentialAttention", "lambda_init_for_layer"]


def lambda_init_for_layer(layer_idx: int) -> float:
    """``λ_init = 0.8 − 0.6·exp(−0.3·(layer_idx − 1))`` for a 1-based layer index."""
    if layer_idx < 1:
        raise ValueError(f"DifferentialAttention: layer_idx is 1-based, got {layer_idx}")
    return 0.8 - 0.6 * math.exp(-0.3 * (layer_idx - 1))


class DifferentialAttention(Module):
    """Differential multi-head self-attention: ``x [N, L, E] -> [N, L, E]`` (``[L, N, E]`` unless ``batch_first``).

    ``num_heads`` differential heads, each with two query/key maps of ``head_dim = E / num_heads / 2``
    and a value of ``2·head_dim``. ``num_kv_heads`` (default ``num_heads``) < ``num_heads`` shares
    keys/values between groups of heads. Parameters: ``q_proj [E, E]``, ``k_proj``/``v_proj
    [E·num_kv_heads/num_heads, E]``, ``out_proj [E, E]``, ``lambda_q1/k1/q2/k2 [head_dim]`` (N(0, 0.1²)),
    and ``subln`` (RMSNorm over ``2·head_dim``, ``head_norm="rms"``) or ``group_norm`` (GroupNorm of
    ``num_heads`` groups over ``E``, ``head_norm="group"``). ``rotary`` (a :class:`RotaryEmbedding`
    over ``head_dim``) rotates queries and keys. ``forward(x, attn_mask=None, is_causal=False)``
    takes masks as :func:`scaled_dot_product_attention` (bool keeps where True, float is added).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        layer_idx: int = 1,
        num_kv_heads: int | None = None,
        bias: bool = False,
        dropout: float = 0.0,
        head_norm: str = "rms",
        eps: float = 1e-5,
        batch_first: bool = True,
        rotary: RotaryEmbedding | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if num_heads <= 0 or embed_dim % (2 * num_heads):
            raise ValueError(
                f"DifferentialAttention: embed_dim ({embed_dim}) must be a multiple of 2 * num_heads ({2 * num_heads})"
            )
        if num_kv_heads <= 0 or num_heads % num_kv_heads:
            raise ValueError(
                f"DifferentialAttention: num_heads ({num_heads}) must be a multiple of num_kv_heads ({num_kv_heads})"
            )
        if head_norm not in ("rms", "group"):
            raise ValueError(f"DifferentialAttention: head_norm must be 'rms' or 'group', got {head_norm!r}")
        self.embed_dim, self.num_heads, self.num_kv_heads = embed_dim, num_heads, num_kv_heads
        self.head_dim = embed_dim // num_heads // 2
        self.n_rep = num_heads // num_kv_heads
        self.dropout, self.batch_first, self.head_norm = float(dropout), batch_first, head_norm
        self.layer_idx, self.lambda_init = layer_idx, lambda_init_for_layer(layer_idx)
        kv_dim = embed_dim // self.n_rep
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self.k_proj = Linear(embed_dim, kv_dim, bias=bias, device=device, dtype=dtype)
        self.v_proj = Linear(embed_dim, kv_dim, bias=bias, device=device, dtype=dtype)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
            setattr(self, name, new_parameter(self.head_dim, device=device, dtype=dtype))
        if head_norm == "rms":
            self.subln = RMSNorm(2 * self.head_dim, eps=eps, device=device, dtype=dtype)
        else:
            self.group_norm = GroupNorm(num_heads, embed_dim, eps=eps, device=device, dtype=dtype)
        if rotary is not None and rotary.dim > self.head_dim:
            raise ValueError(f"DifferentialAttention: rotary dim {rotary.dim} exceeds head_dim {self.head_dim}")
        self.rotary = rotary
        self.reset_lambda()

    def reset_lambda(self) -> None:
        for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
            init.normal_(getattr(self, name), 0.0, 0.1)

    def lambda_full(self) -> Any:
        """The scalar ``λ = exp(λq1·λk1) − exp(λq2·λk2) + λ_init`` (a 0-d Variable)."""
        lambda_1 = (self.lambda_q1 * self.lambda_k1).sum().exp()
        lambda_2 = (self.lambda_q2 * self.lambda_k2).sum().exp()
        return lambda_1 - lambda_2 + self.lambda_init

    def forward(self, x: Any, attn_mask: Any = None, is_causal: bool = False) -> Any:
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ShapeError(
                f"DifferentialAttention: expected x [N, L, {self.embed_dim}] (batch_first={self.batch_first}), got "
                f"{tuple(x.shape)}"
            )
        if not self.batch_first:
            x = x.transpose(0, 1)
        n, length, _ = x.shape
        # Queries: 2·num_heads maps; head h uses maps 2h (A1) and 2h+1 (A2), as in the reference code.
        q = self.q_proj(x).reshape(n, length, 2 * self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).reshape(n, length, 2 * self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).reshape(n, length, self.num_kv_heads, 2 * self.head_dim).transpose(1, 2)
        if self.rotary is not None:
            q, k = self.rotary(q), self.rotary(k)
        # Grouped keys: head h of group g = h // n_rep uses K1 and K2 of key head g. Viewing the two
        # maps of each key head as one sequence of 2·L lets repeat_kv copy them together.
        k = F.repeat_kv(k.reshape(n, self.num_kv_heads, 2 * length, self.head_dim), self.n_rep)
        k = k.reshape(n, 2 * self.num_heads, length, self.head_dim)
        # Map i reads value head i // 2, so both maps of a head share its value.
        v = F.repeat_kv(F.repeat_kv(v, self.n_rep), 2)
        dropout_p = self.dropout if self.training else 0.0
        maps = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal)
        maps = maps.reshape(n, self.num_heads, 2, length, 2 * self.head_dim)
        heads = maps.select(2, 0) - self.lambda_full() * maps.select(2, 1)
        if self.head_norm == "rms":
            heads = self.subln(heads).transpose(1, 2).reshape(n, length, self.embed_dim)
        else:
            heads = heads.transpose(1, 2).reshape(n * length, self.embed_dim)
            heads = self.group_norm(heads).reshape(n, length, self.embed_dim)
        out = self.out_proj(heads * (1.0 - self.lambda_init))
        return out if self.batch_first else out.transpose(0, 1)

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, num_kv_heads={self.num_kv_heads}, "
            f"layer_idx={self.layer_idx}, lambda_init={self.lambda_init:.4f}, head_norm={self.head_norm!r}"
        )
