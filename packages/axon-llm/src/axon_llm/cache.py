"""``KVCache``: keys and values of every attention layer, preallocated for a whole generation.

Each layer owns a buffer ``[batch, kv_heads, capacity, head_dim]`` allocated once; a step writes
its ``S`` new positions in place, so the work per new token does not grow with the sequence. A
layer with a sliding window keeps a ring of ``window`` slots (position ``p`` lives in slot
``p % window``): a query never sees further back than the window, so older keys can be overwritten.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import axon_tensor
from axon_autograd import tensor_of
from axon_core import ShapeError, get_default_dtype

from .errors import LLMError

__all__ = ["KVCache", "LayerCache"]


class LayerCache:
    """One attention layer's cached keys/values and the absolute position each slot holds."""

    def __init__(
        self, batch: int, kv_heads: int, head_dim: int, capacity: int, dtype: Any, device: Any, window: int | None
    ) -> None:
        self.window = window
        self.capacity = min(capacity, window) if window else capacity
        shape = (batch, kv_heads, self.capacity, head_dim)
        self.key = axon_tensor.zeros(*shape, dtype=dtype, device=device)
        self.value = axon_tensor.zeros(*shape, dtype=dtype, device=device)
        self.positions = np.full(self.capacity, -1, dtype=np.int64)
        self.bytes_written = 0

    def update(self, key: Any, value: Any, start: int) -> tuple[Any, Any, np.ndarray]:
        """Store ``key``/``value`` ``[B, H, S, D]`` for positions ``start .. start+S-1``.

        Returns the keys/values the new queries attend to and their absolute positions ``[K]``:
        every cached slot plus the new ones. Without a window that is a view of the buffer; with
        one it is the ring's still-valid slots followed by all ``S`` new positions (a prompt longer
        than the window needs them all once), before the ring is overwritten.
        """
        seq = int(key.shape[2])
        if tuple(key.shape[:2]) != tuple(self.key.shape[:2]) or key.shape[3] != self.key.shape[3]:
            raise ShapeError(
                f"KVCache: new keys {tuple(key.shape)} do not match the cache's [batch, heads, *, head_dim] "
                f"{tuple(self.key.shape)}"
            )
        new_positions = np.arange(start, start + seq, dtype=np.int64)
        keys, values = tensor_of(key), tensor_of(value)
        if self.window is None:
            if start + seq > self.capacity:
                raise LLMError(
                    f"KVCache: {start + seq} positions do not fit the cache's {self.capacity}; make it with a larger "
                    "max_len"
                )
            self.key.array[:, :, start : start + seq] = keys.array
            self.value.array[:, :, start : start + seq] = values.array
            self.positions[start : start + seq] = new_positions
            self.bytes_written += 2 * keys.array.nbytes
            end = start + seq
            return self.key[:, :, :end], self.value[:, :, :end], self.positions[:end].copy()
        valid = np.flatnonzero(self.positions >= 0)
        attend_positions = np.concatenate([self.positions[valid], new_positions])
        if valid.size:
            xp = keys.backend.xp
            index = xp.asarray(valid)
            attend_keys = axon_tensor.cat([self.key[:, :, index], keys], dim=2)
            attend_values = axon_tensor.cat([self.value[:, :, index], values], dim=2)
        else:
            attend_keys, attend_values = keys, values
        kept = slice(max(0, seq - self.capacity), seq)
        slots = new_positions[kept] % self.capacity
        self.key.array[:, :, slots] = keys.array[:, :, kept]
        self.value.array[:, :, slots] = values.array[:, :, kept]
        self.positions[slots] = new_positions[kept]
        self.bytes_written += 2 * keys.array[:, :, kept].nbytes
        return attend_keys, attend_values, attend_positions

    def reorder(self, index: np.ndarray) -> None:
        rows = self.key.backend.xp.asarray(np.asarray(index, dtype=np.int64))
        self.key = tensor_of(self.key[rows]).clone()
        self.value = tensor_of(self.value[rows]).clone()


class KVCache:
    """Per-layer caches of a decoder plus ``seq_len``, the positions stored so far (padding included).

    ``KVCache(num_layers, batch, kv_heads, head_dim, max_len)``; ``windows[i]`` (optional) is layer
    ``i``'s sliding window (None: the whole sequence). A model's forward writes each layer through
    ``layers[i].update`` and calls :meth:`advance` once at the end.
    """

    def __init__(
        self,
        num_layers: int,
        batch: int,
        kv_heads: int,
        head_dim: int,
        max_len: int,
        dtype: Any = None,
        device: Any = None,
        windows: list[int | None] | None = None,
    ) -> None:
        if min(num_layers, batch, kv_heads, head_dim, max_len) <= 0:
            raise LLMError(
                f"KVCache: layers {num_layers}, batch {batch}, kv_heads {kv_heads}, head_dim {head_dim} and max_len "
                f"{max_len} must all be positive"
            )
        windows = windows or [None] * num_layers
        if len(windows) != num_layers:
            raise LLMError(f"KVCache: {len(windows)} windows for {num_layers} layers")
        dtype = get_default_dtype() if dtype is None else dtype
        self.max_len = max_len
        self.layers = [LayerCache(batch, kv_heads, head_dim, max_len, dtype, device, w) for w in windows]
        self.seq_len = 0

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def batch_size(self) -> int:
        return int(self.layers[0].key.shape[0])

    @property
    def bytes_written(self) -> int:
        """Bytes of keys and values written into the buffers so far (what a step costs the cache)."""
        return sum(layer.bytes_written for layer in self.layers)

    def advance(self, seq: int) -> None:
        self.seq_len += seq

    def reorder(self, index: Any) -> None:
        """Keep batch rows ``index`` (ints, repeats allowed): beam search's reordering of hypotheses."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if index.size and (index.min() < 0 or index.max() >= self.batch_size):
            raise ShapeError(f"KVCache.reorder: rows {index.tolist()} out of range for batch {self.batch_size}")
        for layer in self.layers:
            layer.reorder(index)
