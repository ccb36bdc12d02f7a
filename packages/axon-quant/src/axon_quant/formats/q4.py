"""Q4_0 and Q4_1: 32 values as 4-bit quants with an f16 scale (and, for Q4_1, an f16 minimum).

Layouts: Q4_0 (18 bytes) ``d`` f16, ``qs`` uint8[16]; Q4_1 (20 bytes) ``d`` f16, ``m`` f16, ``qs``.
Byte ``j`` of ``qs`` holds value ``j`` in its low nibble and value ``j + 16`` in its high nibble.
Q4_0 decodes ``x = d * (q - 8)`` with ``d = max / -8`` (``max`` the value of largest magnitude);
Q4_1 decodes ``x = d * q + m`` with ``d = (max - min) / 15``, ``m = min`` (ggml's ``_ref`` quantizers).
"""

from __future__ import annotations

import numpy as np

from ._common import (
    F32,
    argmax_abs_signed,
    c_trunc,
    f16_bytes,
    f16_values,
    first_max,
    first_min,
    inverse_or_zero,
    pack_nibbles,
    unpack_nibbles,
)

__all__ = ["dequantize_q4_0", "dequantize_q4_1", "quantize_q4_0", "quantize_q4_1"]


def quantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 32]`` -> uint8 ``[n, 18]``."""
    blocks = np.asarray(blocks, dtype=F32)
    d = argmax_abs_signed(blocks) / F32(-8)
    q = np.minimum(15, c_trunc(blocks * inverse_or_zero(d)[:, None] + F32(8.5)))
    return np.concatenate([f16_bytes(d), pack_nibbles(q.astype(np.uint8))], axis=1)


def dequantize_q4_0(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 18]`` -> float32 ``[n, 32]``."""
    q = unpack_nibbles(raw[:, 2:]).astype(np.int8) - np.int8(8)
    return q.astype(F32) * f16_values(raw[:, :2])


def quantize_q4_1(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 32]`` -> uint8 ``[n, 20]`` (finite ``max - min``: see :func:`range_overflows`)."""
    blocks = np.asarray(blocks, dtype=F32)
    low = first_min(blocks)
    d = (first_max(blocks) - low) / F32(15)
    q = np.minimum(15, c_trunc((blocks - low[:, None]) * inverse_or_zero(d)[:, None] + F32(0.5)))
    return np.concatenate([f16_bytes(d), f16_bytes(low), pack_nibbles(q.astype(np.uint8))], axis=1)


def dequantize_q4_1(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 20]`` -> float32 ``[n, 32]``."""
    q = unpack_nibbles(raw[:, 4:]).astype(F32)
    return q * f16_values(raw[:, :2]) + f16_values(raw[:, 2:4])
