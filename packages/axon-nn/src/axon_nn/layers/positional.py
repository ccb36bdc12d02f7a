"""``SinusoidalPositionalEncoding``: the fixed sine/cosine position signal of Vaswani et al. (2017)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from axon_core import ShapeError
from axon_tensor import tensor

from ..module import Module
from .dropout import Dropout

__all__ = ["SinusoidalPositionalEncoding", "sinusoidal_table"]


def sinusoidal_table(positions: Any, d_model: int) -> np.ndarray:
    """``[len(positions), d_model]`` in float64: ``PE[p, 2i] = sin(p / 10000^(2i/d))``,
    ``PE[p, 2i+1] = cos(p / 10000^(2i/d))``."""
    positions = np.asarray(positions, dtype=np.float64)[:, None]
    inv_freq = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    table = np.zeros((positions.shape[0], d_model))
    table[:, 0::2] = np.sin(positions * inv_freq)
    table[:, 1::2] = np.cos(positions * inv_freq)[:, : d_model // 2]
    return table


class SinusoidalPositionalEncoding(Module):
    """``x [N, S, d_model] -> dropout(x + PE[offset : offset + S])`` (``[S, N, d_model]`` unless ``batch_first``).

    ``offset`` is the position of the first row (tokens already decoded, for a KV cache). The
    rows are computed in float64 and cast to ``x``'s dtype (no parameters, no buffers); the
    last table used is cached.
    """

    def __init__(self, d_model: int, dropout: float = 0.1, batch_first: bool = True) -> None:
        super().__init__()
        if d_model <= 0:
            raise ValueError(f"SinusoidalPositionalEncoding: d_model must be positive, got {d_model}")
        self.d_model, self.batch_first = d_model, batch_first
        self.dropout = Dropout(dropout)
        self._table: tuple[Any, ...] = ()

    def encoding(self, offset: int, seq: int, dtype: Any, device: Any) -> Any:
        """``PE[offset : offset + seq]`` as a ``[seq, d_model]`` Tensor of ``dtype`` on ``device``."""
        key = (offset, seq, str(dtype), str(device))
        if not self._table or self._table[0] != key:
            self._table = (
                key,
                tensor(sinusoidal_table(range(offset, offset + seq), self.d_model), dtype=dtype, device=device),
            )
        return self._table[1]

    def forward(self, x: Any, offset: int = 0) -> Any:
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ShapeError(
                f"SinusoidalPositionalEncoding: expected x with {self.d_model} features ([N, S, d] batch first, "
                f"else [S, N, d]), got {tuple(x.shape)}"
            )
        if offset < 0:
            raise ValueError(f"SinusoidalPositionalEncoding: offset must be >= 0, got {offset}")
        seq = x.shape[1] if self.batch_first else x.shape[0]
        pe = self.encoding(offset, seq, x.dtype, x.device)
        pe = pe.reshape(1, seq, self.d_model) if self.batch_first else pe.reshape(seq, 1, self.d_model)
        return self.dropout(x + pe)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, batch_first={self.batch_first}"
