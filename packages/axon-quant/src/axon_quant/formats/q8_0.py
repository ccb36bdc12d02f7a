"""Q8_0: 32 values as an f16 scale ``d`` and 32 int8 quants; ``x = d * q``.

Block layout (34 bytes): ``d`` f16, ``qs`` int8[32]. ggml's ``quantize_row_q8_0_ref``:
``d = amax / 127``, ``q = roundf(x * (1/d))``.
"""

from __future__ import annotations

import numpy as np

from ._common import F32, f16_bytes, f16_values, inverse_or_zero, round_half_away

__all__ = ["dequantize_q8_0", "quantize_q8_0"]


def quantize_q8_0(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 32]`` -> uint8 ``[n, 34]``."""
    blocks = np.asarray(blocks, dtype=F32)
    d = np.max(np.abs(blocks), axis=1) / F32(127)
    q = round_half_away(blocks * inverse_or_zero(d)[:, None])
    return np.concatenate([f16_bytes(d), q.astype(np.int8).view(np.uint8)], axis=1)


def dequantize_q8_0(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 34]`` -> float32 ``[n, 32]``."""
    return raw[:, 2:].view(np.int8).astype(F32) * f16_values(raw[:, :2])
