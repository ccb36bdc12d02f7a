"""``MultiHeadAttention`` (PyTorch's ``nn.MultiheadAttention`` API and parameter layout) and ``CrossAttention``."""

from __future__ import annotations

from typing import Any

from axon_autograd import cat
from axon_core import DTypeError, ShapeError

from .. import functional as F
from .. import init
from ..functional._util import out_like, tensor_of, xp_of
from ..functional.attention import additive_mask, attention, causal_keep_mask, plain_attention
from ..module import Module
from ._factory import new_parameter
from .kv_cache import AttentionCache
from .linear import Linear

__all__ = ["MultiHeadAttention", "MultiheadAttention", "CrossAttention"]


def is_causal_mask(mask: Any, size: int) -> bool:
    """Whether ``mask`` is the ``[size, size]`` causal mask, as bool (True above the diagonal) or
    float (``-inf`` above the diagonal, 0 elsewhere, like ``Transformer.generate_square_subsequent_mask``)."""
    data = tensor_of(mask)
    if tuple(data.shape) != (size, size):
        return False
    xp = xp_of(data)
    above = xp.triu(xp.ones((size, size), dtype=bool), 1)
    if data.dtype.name == "bool":
        return bool((data.array == above).all())
    return bool((xp.isneginf(data.array) == above).all() and (data.array[~above] == 0).all())


class MultiHeadAttention(Module):
    """Multi-head attention: ``softmax(q kᵀ / sqrt(head_dim) + mask) v`` over ``num_heads`` heads.

    Inputs ``query [L, N, E]``, ``key [S, N, kdim]``, ``value [S, N, vdim]`` (``[N, L, E]`` ... with
    ``batch_first``; or unbatched ``[L, E]``). Returns ``(output [L, N, E], weights)`` where
    ``weights`` is ``[N, L, S]`` (averaged over heads), ``[N, num_heads, L, S]``, or None unless
    ``need_weights``.

    Parameters are laid out as PyTorch's, so a ``state_dict`` copies across: ``in_proj_weight
    [3E, E]`` (or ``q_proj_weight [E, E]``, ``k_proj_weight [E, kdim]``, ``v_proj_weight [E, vdim]``
    when ``kdim``/``vdim`` differ from ``E``), ``in_proj_bias [3E]``, ``out_proj`` (Linear),
    ``bias_k``/``bias_v [1, 1, E]`` with ``add_bias_kv``. ``add_zero_attn`` appends a zero key and
    value. Masks: ``key_padding_mask [N, S]`` and ``attn_mask [L, S]`` or ``[N·num_heads, L, S]``;
    bool masks are True where attention is *not* allowed, float masks are added.

    ``is_causal`` applies a causal mask: unlike PyTorch (which takes it as a hint about
    ``attn_mask`` and requires one) it also works without ``attn_mask``; when ``attn_mask`` is
    given it is used as it is. Without weights, padding mask, extra keys and non-causal mask,
    attention runs on the flash path.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiHeadAttention: embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = (
            embed_dim,
            num_heads,
            float(dropout),
            batch_first,
        )
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new_parameter(3 * embed_dim, embed_dim, device=device, dtype=dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = new_parameter(embed_dim, embed_dim, device=device, dtype=dtype)
            self.k_proj_weight = new_parameter(embed_dim, self.kdim, device=device, dtype=dtype)
            self.v_proj_weight = new_parameter(embed_dim, self.vdim, device=device, dtype=dtype)
        if bias:
            self.in_proj_bias = new_parameter(3 * embed_dim, device=device, dtype=dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = new_parameter(1, 1, embed_dim, device=device, dtype=dtype)
            self.bias_v = new_parameter(1, 1, embed_dim, device=device, dtype=dtype)
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's initialisation: xavier-uniform projections, zero biases, xavier-normal bias_k/v.
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    # -- projections ------------------------------------------------------------------------
    def in_proj(self, x: Any, index: int) -> Any:
        """Project ``x [*, dim]`` to queries (``index`` 0), keys (1) or values (2): ``[*, E]``."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            weight = self.in_proj_weight[index * e : (index + 1) * e]
        else:
            weight = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[index]
        bias = None if self.in_proj_bias is None else self.in_proj_bias[index * e : (index + 1) * e]
        return F.linear(x, weight, bias)

    def _split_heads(self, x: Any) -> Any:
        """``[N, S, E] -> [N, heads, S, head_dim]``."""
        n, s, _ = x.shape
        return x.reshape(n, s, self.num_heads, self.head_dim).transpose(1, 2)

    def _merge_heads(self, x: Any) -> Any:
        """``[N, heads, L, head_dim] -> [N, L, E]``."""
        n, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(n, length, self.embed_dim)

    # -- layout -----------------------------------------------------------------------------
    def _batch_first_inputs(
        self, query: Any, key: Any, value: Any, key_padding_mask: Any
    ) -> tuple[bool, Any, Any, Any, Any]:
        """Check ranks and feature sizes; returns ``(batched, q, k, v, kpm)`` as ``[N, *, dim]``/``[N, S]``."""
        name = type(self).__name__
        shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(
                f"{name}: expected 3-d (batched) or 2-d (unbatched) query/key/value of one rank, got {shapes}"
            )
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise ShapeError(
                f"{name}: expected feature sizes (embed_dim {self.embed_dim}, kdim {self.kdim}, vdim {self.vdim}), "
                f"got {shapes}"
            )
        for x, what in ((query, "query"), (key, "key"), (value, "value")):
            if not x.dtype.is_floating_point:
                raise DTypeError(f"{name}: expected a floating-point {what}, got {x.dtype}")
        batched = query.ndim == 3
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.reshape(1, *key_padding_mask.shape)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ShapeError(
                f"{name}: batch and key/value lengths must agree, got {shapes} (batch_first={self.batch_first})"
            )
        if key_padding_mask is not None and tuple(key_padding_mask.shape) != tuple(key.shape[:2]):
            raise ShapeError(
                f"{name}: key_padding_mask of shape {tuple(key_padding_mask.shape)} does not match (batch, source "
                f"length) {tuple(key.shape[:2])}"
            )
        return batched, query, key, value, key_padding_mask

    def _restore_layout(self, out: Any, batched: bool) -> Any:
        if not batched:
            return out.reshape(*out.shape[1:])
        return out if self.batch_first else out.transpose(0, 1)

    def _additive_masks(
        self, attn_mask: Any, key_padding_mask: Any, n: int, length: int, source: int, dtype: Any, batched: bool
    ) -> Any:
        """``attn_mask`` and ``key_padding_mask`` summed into one additive ``[N|1, heads|1, L, S]`` mask."""
        name = type(self).__name__
        mask = None
        if attn_mask is not None:
            shape = tuple(attn_mask.shape)
            heads_first = (n * self.num_heads if batched else self.num_heads, length, source)
            if shape == (length, source):
                mask = additive_mask(attn_mask, dtype, name, true_masks=True).reshape(1, 1, length, source)
            elif shape == heads_first:
                mask = additive_mask(attn_mask, dtype, name, true_masks=True).reshape(n, self.num_heads, length, source)
            else:
                raise ShapeError(f"{name}: attn_mask of shape {shape} should be {(length, source)} or {heads_first}")
        if key_padding_mask is not None:
            padding = additive_mask(key_padding_mask, dtype, name, true_masks=True).reshape(n, 1, 1, source)
            mask = padding if mask is None else mask + padding
        return mask

    def _extra_keys(self, k: Any, v: Any, n: int) -> tuple[Any, Any]:
        """Append ``bias_k``/``bias_v`` and a zero key/value (``add_zero_attn``) to ``[N, H, S, Dh]``."""
        if self.bias_k is not None:
            k = cat([k, self._split_heads(self.bias_k.expand(n, 1, self.embed_dim))], dim=2)
            v = cat([v, self._split_heads(self.bias_v.expand(n, 1, self.embed_dim))], dim=2)
        if self.add_zero_attn:
            zeros = out_like(
                xp_of(tensor_of(k)).zeros((n, self.num_heads, 1, self.head_dim), dtype=k.dtype.np), tensor_of(k)
            )
            k, v = cat([k, zeros], dim=2), cat([v, zeros], dim=2)
        return k, v

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Any, Any]:
        batched, q_in, k_in, v_in, key_padding_mask = self._batch_first_inputs(query, key, value, key_padding_mask)
        n, length, source = q_in.shape[0], q_in.shape[1], k_in.shape[1]
        if self._qkv_same_embed_dim and query is key and key is value:
            q, k, v = F.linear(q_in, self.in_proj_weight, self.in_proj_bias).chunk(3, -1)
        else:
            q, k, v = self.in_proj(q_in, 0), self.in_proj(k_in, 1), self.in_proj(v_in, 2)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)
        extra = int(self.bias_k is not None) + int(self.add_zero_attn)
        flash_able = not need_weights and key_padding_mask is None and extra == 0
        if is_causal and attn_mask is not None and flash_able and is_causal_mask(attn_mask, length):
            attn_mask = None
        elif is_causal and attn_mask is None and not flash_able:
            attn_mask = out_like(~causal_keep_mask(xp_of(tensor_of(q)), length, source), tensor_of(q))
        flash_causal = is_causal and attn_mask is None
        k, v = self._extra_keys(k, v, n)
        mask = self._additive_masks(attn_mask, key_padding_mask, n, length, source, q.dtype, batched)
        if mask is not None and extra:
            mask = F.pad(mask, (0, extra))
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            out, weights = plain_attention(q, k, v, mask, dropout_p)
            if average_attn_weights:
                weights = weights.mean(1)
            if not batched:
                weights = weights.reshape(*weights.shape[1:])
        else:
            out, weights = attention(q, k, v, mask, dropout_p, flash_causal), None
        out = self.out_proj(self._merge_heads(out))
        return self._restore_layout(out, batched), weights

    def step(
        self,
        query: Any,
        key: Any,
        value: Any,
        cache: AttentionCache,
        static_kv: bool = False,
        key_padding_mask: Any = None,
        is_causal: bool = True,
    ) -> Any:
        """Attend from new positions, reusing the keys/values kept in ``cache``; returns the output only.

        Self-attention (``static_kv=False``): ``key``/``value`` are the new positions; their
        projections are appended to ``cache`` and the queries attend to every cached position,
        causally (bottom-right aligned: new query ``i`` sees all earlier positions and new ones
        up to itself) unless ``is_causal=False``. Cross-attention (``static_kv=True``): the
        memory is projected on the first call and reused after. Shapes and layout as in
        :meth:`forward`; ``key_padding_mask [N, S]`` covers all keys attended to.
        """
        if self.bias_k is not None or self.add_zero_attn:
            raise ValueError(f"{type(self).__name__}.step: add_bias_kv/add_zero_attn are not supported with a KV cache")
        batched, q_in, k_in, v_in, _ = self._batch_first_inputs(query, key, value, None)
        q = self._split_heads(self.in_proj(q_in, 0))
        if static_kv and cache.key is not None:
            k, v = cache.key, cache.value
        else:
            k_new, v_new = self._split_heads(self.in_proj(k_in, 1)), self._split_heads(self.in_proj(v_in, 2))
            k, v = cache.set(k_new, v_new) if static_kv else cache.append(k_new, v_new)
        n, source = q.shape[0], k.shape[2]
        mask = None
        if key_padding_mask is not None:
            if not batched:
                key_padding_mask = key_padding_mask.reshape(1, *key_padding_mask.shape)
            if tuple(key_padding_mask.shape) != (n, source):
                raise ShapeError(
                    f"{type(self).__name__}.step: key_padding_mask of shape {tuple(key_padding_mask.shape)} does "
                    f"not match (batch, keys) {(n, source)}"
                )
            mask = self._additive_masks(None, key_padding_mask, n, q.shape[2], source, q.dtype, True)
        dropout_p = self.dropout if self.training else 0.0
        out = attention(q, k, v, mask, dropout_p, is_causal and not static_kv, lower_right=True)
        return self._restore_layout(self.out_proj(self._merge_heads(out)), batched)

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )


MultiheadAttention = MultiHeadAttention


class CrossAttention(Module):
    """Queries from one sequence attend to keys/values from another (a thin MultiHeadAttention).

    ``forward(x [N, L, embed_dim], context [N, S, context_dim], context_key_padding_mask [N, S]
    = None, attn_mask = None) -> [N, L, embed_dim]`` (batch first by default). The attention
    module is ``self.attn``, laid out like ``nn.MultiheadAttention(embed_dim, num_heads,
    kdim=context_dim, vdim=context_dim)``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        context_dim: int | None = None,
        dropout: float = 0.0,
        bias: bool = True,
        batch_first: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(
            embed_dim,
            num_heads,
            dropout,
            bias,
            kdim=context_dim,
            vdim=context_dim,
            batch_first=batch_first,
            device=device,
            dtype=dtype,
        )

    def forward(self, x: Any, context: Any, context_key_padding_mask: Any = None, attn_mask: Any = None) -> Any:
        return self.attn(
            x, context, context, key_padding_mask=context_key_padding_mask, need_weights=False, attn_mask=attn_mask
        )[0]
