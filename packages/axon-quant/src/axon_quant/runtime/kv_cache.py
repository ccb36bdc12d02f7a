"""The KV cache: rotated keys and values of every layer, for positions ``0 .. max_ctx-1``, in the arena."""

from __future__ import annotations

import numpy as np

from ..errors import QuantError

__all__ = ["KVCache"]


class KVCache:
    """Keys and values ``[n_layers, n_kv_heads, max_ctx, head_dim]`` float32 (arena views), and
    ``length``, the positions filled so far.

    Per-head rows are contiguous over positions, so attention over one head streams its keys.
    ``layer_k[i]`` / ``layer_v[i]`` are layer ``i``'s ``[n_kv_heads, max_ctx, head_dim]`` views and
    ``flat_k[i]`` / ``flat_v[i]`` the same memory flat, made once so a decode step indexes nothing.
    """

    def __init__(self, k: np.ndarray, v: np.ndarray):
        if k.shape != v.shape or k.ndim != 4:
            raise QuantError(f"KV cache keys {list(k.shape)} and values {list(v.shape)} must share one 4-d shape")
        self.k, self.v = k, v
        self.max_ctx = k.shape[2]
        self.layer_k = [k[i] for i in range(k.shape[0])]
        self.layer_v = [v[i] for i in range(v.shape[0])]
        self.flat_k = [layer.reshape(-1) for layer in self.layer_k]
        self.flat_v = [layer.reshape(-1) for layer in self.layer_v]
        self.length = 0

    def reserve(self, n: int) -> int:
        """The first of ``n`` new positions; QuantError if they do not fit in ``max_ctx``."""
        if self.length + n > self.max_ctx:
            raise QuantError(
                f"the context is full: {self.length} positions used, {n} more asked, "
                f"max_ctx is {self.max_ctx} (load the model with a larger ctx)"
            )
        return self.length

    def advance(self, n: int) -> None:
        self.length += n

    def truncate(self, length: int) -> None:
        """Forget positions from ``length`` on (their rows are overwritten by the next tokens)."""
        if not 0 <= length <= self.length:
            raise QuantError(f"cannot truncate a KV cache of {self.length} positions to {length}")
        self.length = length

    def reset(self) -> None:
        self.length = 0
