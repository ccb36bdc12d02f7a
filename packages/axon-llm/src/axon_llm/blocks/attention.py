"""The attention every decoder here shares: RoPE, the KV cache, causal / sliding-window / padding masks, GQA.

A model builds one :class:`AttentionInputs` per forward (positions, RoPE tables, the padding mask,
the cache) and each layer calls :meth:`AttentionInputs.attend` with its projected queries, keys and
values; the layers differ only in their projections (``q_proj``/``k_proj``/``v_proj``/``o_proj``
here, fused ``qkv`` or GPT-2's ``c_attn`` elsewhere). Masks follow ``transformers``: query ``i``
sees key ``j`` when ``j <= i`` (causal), ``j > i - window`` (sliding window) and the key is not
padding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import axon_tensor
from axon_autograd import tensor_of
from axon_core import ShapeError
from axon_nn import Linear, Module
from axon_nn import functional as F

from ..cache import KVCache
from .rope import RopeTable

__all__ = ["AttentionInputs", "SelfAttention"]


def _host(values: Any) -> np.ndarray:
    """A mask or id array (NumPy, list, Tensor or Variable) as a NumPy array."""
    return np.asarray(values.numpy() if hasattr(values, "numpy") else values)


@dataclass
class AttentionInputs:
    """What every attention layer of one forward needs.

    ``positions`` int ``[S]``: the cache positions of the ``S`` new tokens (``past .. past+S-1``);
    ``padding`` bool ``[B, past+S]`` (True = a real token) or None; ``cos``/``sin`` the RoPE tables
    of the tokens' position ids (None for models without RoPE); ``cache`` the KV cache or None;
    ``position_ids`` int ``[S]`` or ``[B, S]``: the position ids themselves, for models that look up
    learned position embeddings (GPT-2).
    """

    positions: np.ndarray
    padding: np.ndarray | None = None
    cos: Any = None
    sin: Any = None
    cache: KVCache | None = None
    causal: bool = True
    dropout_p: float = 0.0
    position_ids: np.ndarray | None = None
    _masks: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        input_shape: tuple[int, int],
        attention_mask: Any = None,
        position_ids: Any = None,
        cache: KVCache | None = None,
        rope: RopeTable | None = None,
        device: Any = None,
        causal: bool = True,
        dropout_p: float = 0.0,
    ) -> "AttentionInputs":
        """For ``input_ids [B, S]``: ``attention_mask [B, past+S]`` (1 keep, 0 pad), ``position_ids [B, S]``.

        Without ``position_ids`` the positions count the real tokens of each row (left padding
        skipped, as ``transformers``' generate does) when a mask is given, else ``past .. past+S-1``.
        """
        batch, seq = input_shape
        past = cache.seq_len if cache is not None else 0
        positions = np.arange(past, past + seq, dtype=np.int64)
        padding = None
        if attention_mask is not None:
            padding = _host(attention_mask).astype(bool)
            if padding.shape != (batch, past + seq):
                raise ShapeError(
                    f"attention_mask of shape {padding.shape} does not match input_ids {input_shape} after {past} "
                    f"cached positions (expected {(batch, past + seq)})"
                )
            if padding.all():
                padding = None
        if position_ids is None:
            if padding is not None:
                counted = np.cumsum(padding, axis=1) - 1
                position_ids = np.where(padding, counted, 1)[:, past:]
            else:
                position_ids = positions
        else:
            position_ids = _host(position_ids).astype(np.int64)
            if position_ids.shape not in ((seq,), (batch, seq)):
                raise ShapeError(f"position_ids of shape {position_ids.shape} do not match input_ids {input_shape}")
        cos = sin = None
        if rope is not None:
            cos, sin = rope.cos_sin(position_ids, device=device)
        return cls(positions, padding, cos, sin, cache, causal, dropout_p, np.asarray(position_ids))

    def rotate(self, x: Any) -> Any:
        """Apply RoPE to ``x [B, heads, S, head_dim]`` (the first ``rotary_dim`` features)."""
        return F.apply_rotary_emb(
            x,
            self.cos.to(x.dtype) if self.cos.dtype != x.dtype else self.cos,
            self.sin.to(x.dtype) if self.sin.dtype != x.dtype else self.sin,
        )

    def mask(self, key_positions: np.ndarray, window: int | None, device: Any) -> Any:
        """Bool ``[B|1, 1, S, K]`` (True = attend), or None when every query sees every key."""
        key = (key_positions.tobytes(), window)
        if key in self._masks:
            return self._masks[key]
        q, k = self.positions[:, None], key_positions[None, :]
        keep = k <= q if self.causal else np.ones((q.shape[0], k.shape[1]), dtype=bool)
        if window is not None:
            keep = keep & (k > q - window)
        keep = keep[None, None]
        if self.padding is not None:
            keep = keep & self.padding[:, key_positions][:, None, None, :]
        mask = None if keep.all() else axon_tensor.tensor(keep, device=device)
        self._masks[key] = mask
        return mask

    def tiled_mask(self, mask: Any, times: int) -> Any:
        """``mask`` ``[B|1, 1, S, K]`` repeated ``times`` along its rows (``[B|1, 1, times * S, K]``), made once
        per forward: every layer of a grouped-query model asks for the same one."""
        key = ("tiled", id(mask), times)
        if key not in self._masks:
            data = tensor_of(mask)
            self._masks[key] = axon_tensor.tensor(np.tile(data.numpy(), (1, 1, times, 1)), device=data.device)
        return self._masks[key]

    def keys_and_mask(
        self, key: Any, value: Any, layer_idx: int, window: int | None = None
    ) -> tuple[Any, Any, Any, bool]:
        """Store the new ``key``/``value`` ``[B, Hkv, S, D]`` in the cache (layer ``layer_idx``) and return
        ``(keys, values, mask, is_causal)`` over everything the new queries may see: the mask as
        :meth:`mask` gives it, or None with ``is_causal`` True on the plain causal path. For layers that
        run their own attention over these keys (Chimera's two score maps per head)."""
        key_positions = self.positions
        if self.cache is not None:
            key, value, key_positions = self.cache.layers[layer_idx].update(key, value, int(self.positions[0]))
        seq = len(self.positions)
        plain_causal = self.causal and window is None and self.padding is None and len(key_positions) == seq
        mask = None if plain_causal else self.mask(key_positions, window, tensor_of(key).device)
        return key, value, mask, plain_causal

    def attend(
        self, query: Any, key: Any, value: Any, layer_idx: int, window: int | None = None, scale: float | None = None
    ) -> Any:
        """``query [B, Hq, S, D]``, ``key``/``value`` ``[B, Hkv, S, D]`` (RoPE applied) -> ``[B, S, Hq·D]``.

        Stores the keys/values in the cache (layer ``layer_idx``), then attends over everything the
        queries may see. Without cache, padding or window this is the causal fast path (flash on
        long sequences).
        """
        batch, heads, seq, head_dim = query.shape
        key, value, mask, plain_causal = self.keys_and_mask(key, value, layer_idx, window)
        kv_heads = key.shape[1]
        group = heads // kv_heads
        if group > 1 and not plain_causal:
            # Grouped-query attention without copying keys and values: the `group` query heads that
            # share key head h become rows of one [group * S, D] block (head h * group + r, row r * S + s),
            # and the mask is tiled to match. Decoding would otherwise copy the whole cache every step.
            query = query.reshape(batch, kv_heads, group * seq, head_dim)
            if mask is not None:
                mask = self.tiled_mask(mask, group)
            out = F.scaled_dot_product_attention(
                query, key, value, attn_mask=mask, scale=scale, dropout_p=self.dropout_p
            )
            out = out.reshape(batch, heads, seq, value.shape[-1])
        else:
            out = F.scaled_dot_product_attention(
                query,
                key,
                value,
                attn_mask=mask,
                is_causal=plain_causal,
                scale=scale,
                enable_gqa=group > 1,
                dropout_p=self.dropout_p,
            )
        return out.transpose(1, 2).reshape(batch, seq, heads * value.shape[-1])


class SelfAttention(Module):
    """LLaMA-style attention: ``q_proj``, ``k_proj``, ``v_proj``, ``o_proj`` (HF's names), RoPE, GQA.

    ``[B, S, hidden] -> [B, S, hidden]``. ``num_kv_heads < num_heads`` shares each key/value head
    among ``num_heads / num_kv_heads`` query heads; ``sliding_window`` limits how far back a query
    looks (Mistral). Used as it is by LLaMA, Mistral, Mixtral and Qwen2.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        num_kv_heads: int,
        head_dim: int,
        layer_idx: int,
        bias: bool = False,
        sliding_window: int | None = None,
        output_bias: bool | None = None,
    ) -> None:
        super().__init__()
        if num_heads % num_kv_heads:
            raise ShapeError(f"SelfAttention: {num_heads} query heads are not a multiple of {num_kv_heads} key heads")
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.layer_idx, self.sliding_window = layer_idx, sliding_window
        self.q_proj = Linear(hidden_size, num_heads * head_dim, bias=bias)
        self.k_proj = Linear(hidden_size, num_kv_heads * head_dim, bias=bias)
        self.v_proj = Linear(hidden_size, num_kv_heads * head_dim, bias=bias)
        self.o_proj = Linear(num_heads * head_dim, hidden_size, bias=bias if output_bias is None else output_bias)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        batch, seq, _ = hidden.shape
        query = self.q_proj(hidden).reshape(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)
        key = self.k_proj(hidden).reshape(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        value = self.v_proj(hidden).reshape(batch, seq, self.num_kv_heads, self.head_dim).transpose(1, 2)
        query, key = inputs.rotate(query), inputs.rotate(key)
        return self.o_proj(inputs.attend(query, key, value, self.layer_idx, self.sliding_window))
