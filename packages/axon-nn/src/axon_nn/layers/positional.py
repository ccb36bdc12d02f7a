"""``SinusoidalPositionalEncoding``: the fixed sine/cosine position signal of Vaswani et al. (2017)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from axon_core import ShapeError, get_default_dtype
from axon_tensor import tensor

from ..module import Module
from .dropout import Dropout

__all__ = ["SinusoidalPositionalEncoding", "sinusoidal_table"]


def sinusoidal_table(max_len: int, d_model: int) -> np.ndarray:
    """``[max_len, d_model]``: ``PE[p, 2i] = sin(p / 10000^(2i/d))``, ``PE[p, 2i+1] = cos(p / 10000^(2i/d))``."""
    positions = np.arange(max_len, dtype=np.float64)[:, None]
    inv_freq = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(positions * inv_freq)
    table[:, 1::2] = np.cos(positions * inv_freq)[:, : d_model // 2]
    return table


class SinusoidalPositionalEncoding(Module):
    """``x [N, S, d_model] -> dropout(x + PE[offset : offset + S])`` (``[S, N, d_model]`` unless ``batch_first``).

    ``offset`` is the position of the first row (tokens already decoded, for a KV cache). The
    table is a non-persistent buffer ``pe [max_len, d_model]``.
    """

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000, batch_first: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        dtype = get_default_dtype() if dtype is None else dtype
        self.register_buffer("pe", tensor(sinusoidal_table(max_len, d_model), dtype=dtype, device=device), persistent=False)

    def forward(self, x: Any, offset: int = 0) -> Any:
        seq_dim = 1 if self.batch_first else 0
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ShapeError(f"SinusoidalPositionalEncoding: expected x with {self.d_model} features ([N, S, d] batch first, else [S, N, d]), got {tuple(x.shape)}")
        seq = x.shape[seq_dim]
        if offset < 0 or offset + seq > self.max_len:
            raise ShapeError(f"SinusoidalPositionalEncoding: positions {offset}..{offset + seq - 1} exceed max_len {self.max_len}")
        pe = self.pe[offset : offset + seq]
        pe = pe.reshape(1, seq, self.d_model) if self.batch_first else pe.reshape(seq, 1, self.d_model)
        return self.dropout(x + pe.to(x.dtype))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"
