"""``RotaryEmbedding``: rotary position embeddings applied to queries/keys ``[*, S, head_dim]``."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..module import Module

__all__ = ["RotaryEmbedding"]


class RotaryEmbedding(Module):
    """Rotate the first ``dim`` features of each position by angles ``p · base^(-2i/dim)``.

    ``forward(x, offset=0)``: ``x [*, S, head_dim]`` with ``head_dim >= dim`` (features past
    ``dim`` pass through: partial rotary, as in Phi); position ``p`` of row ``s`` is
    ``offset + s`` (``offset`` = tokens already in a KV cache), or ``positions[s]`` when
    ``positions`` (``S`` ints) is given. ``interleaved=False`` pairs feature ``i`` with
    ``i + dim/2`` (GPT-NeoX / HF LLaMA); ``True`` pairs ``2i`` with ``2i+1`` (GPT-J / Meta).
    The cos/sin tables are cached per (positions, dtype, device); there are no parameters.
    """

    def __init__(self, dim: int, base: float = 10000.0, interleaved: bool = False) -> None:
        super().__init__()
        if dim <= 0 or dim % 2:
            raise ValueError(f"RotaryEmbedding: dim must be a positive even number, got {dim}")
        self.dim, self.base, self.interleaved = dim, float(base), bool(interleaved)
        self._table: tuple[Any, ...] = ()

    def cos_sin(self, positions: Any, dtype: Any = None, device: Any = None) -> tuple[Any, Any]:
        """``cos``/``sin`` ``[len(positions), dim/2]`` for integer ``positions``."""
        key = (tuple(int(p) for p in positions), str(dtype), str(device))
        if not self._table or self._table[0] != key:
            self._table = (key, *F.rotary_cos_sin(key[0], self.dim, self.base, dtype, device))
        return self._table[1], self._table[2]

    def forward(self, x: Any, offset: int = 0, positions: Any = None) -> Any:
        seq = x.shape[-2] if len(x.shape) >= 2 else 0
        if positions is None:
            positions = range(offset, offset + seq)
        elif len(positions) != seq:
            from axon_core import ShapeError

            raise ShapeError(
                f"RotaryEmbedding: {len(positions)} positions for a sequence of {seq} in x {tuple(x.shape)}"
            )
        cos, sin = self.cos_sin(positions, x.dtype, x.device)
        return F.apply_rotary_emb(x, cos, sin, self.interleaved)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, base={self.base}, interleaved={self.interleaved}"
