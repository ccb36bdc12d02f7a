"""Key/value caches for incremental decoding: one per attention module, one per decoder stack."""

from __future__ import annotations

from typing import Any

from axon_autograd import cat

__all__ = ["AttentionCache", "KVCache"]


class AttentionCache:
    """The projected keys and values ``[batch, heads, seq, head_dim]`` one attention module has seen.

    Self-attention appends the new positions each step; cross-attention stores the memory's
    keys/values once (they do not change while decoding).
    """

    def __init__(self) -> None:
        self.key: Any = None
        self.value: Any = None

    def __len__(self) -> int:
        return 0 if self.key is None else int(self.key.shape[2])

    def append(self, key: Any, value: Any) -> tuple[Any, Any]:
        """Add ``key``/``value`` ``[B, H, S_new, D]`` after the cached positions; returns all of them."""
        if self.key is None:
            self.key, self.value = key, value
        else:
            if tuple(key.shape[:2]) != tuple(self.key.shape[:2]):
                from axon_core import ShapeError

                raise ShapeError(
                    f"AttentionCache: new keys {tuple(key.shape)} do not match cached keys {tuple(self.key.shape)} "
                    "in batch/heads"
                )
            self.key, self.value = cat([self.key, key], dim=2), cat([self.value, value], dim=2)
        return self.key, self.value

    def set(self, key: Any, value: Any) -> tuple[Any, Any]:
        """Replace the cached keys/values (cross-attention's memory projections)."""
        self.key, self.value = key, value
        return key, value


class KVCache:
    """Per-layer caches of a decoder stack plus ``seq_len``, the positions decoded so far.

    ``self_attn[i]`` and ``cross_attn[i]`` belong to layer ``i``; a decoder's ``forward_step``
    fills them and advances ``seq_len`` (which also offsets positional encodings).
    """

    def __init__(self, num_layers: int) -> None:
        self.self_attn = [AttentionCache() for _ in range(num_layers)]
        self.cross_attn = [AttentionCache() for _ in range(num_layers)]
        self.seq_len = 0

    def __len__(self) -> int:
        return len(self.self_attn)
