"""Q5_0 and Q5_1: 32 values as 5-bit quants with an f16 scale (and, for Q5_1, an f16 minimum).

Layouts: Q5_0 (22 bytes) ``d`` f16, ``qh`` uint32 LE, ``qs`` uint8[16]; Q5_1 (24 bytes) ``d``, ``m``,
``qh``, ``qs``. ``qs`` holds the low 4 bits as in Q4 (value ``j`` low nibble, ``j + 16`` high nibble),
bit ``j`` of ``qh`` the fifth bit of value ``j``. Q5_0 decodes ``x = d * (q - 16)`` with
``d = max / -16``; Q5_1 decodes ``x = d * q + m`` with ``d = (max - min) / 31``.
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
    high_bits,
    inverse_or_zero,
    pack_nibbles,
    unpack_high_bits,
    unpack_nibbles,
)

__all__ = ["dequantize_q5_0", "dequantize_q5_1", "quantize_q5_0", "quantize_q5_1"]


def _pack(q: np.ndarray) -> np.ndarray:
    q = q.astype(np.uint8)
    return np.concatenate([high_bits(q, 4), pack_nibbles(q & 0x0F)], axis=1)


def _unpack(qh_qs: np.ndarray) -> np.ndarray:
    return unpack_nibbles(qh_qs[:, 4:]) | (unpack_high_bits(qh_qs[:, :4]) << 4)


def quantize_q5_0(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 32]`` -> uint8 ``[n, 22]``."""
    blocks = np.asarray(blocks, dtype=F32)
    d = argmax_abs_signed(blocks) / F32(-16)
    q = np.minimum(31, c_trunc(blocks * inverse_or_zero(d)[:, None] + F32(16.5)))
    return np.concatenate([f16_bytes(d), _pack(q)], axis=1)


def dequantize_q5_0(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 22]`` -> float32 ``[n, 32]``."""
    q = _unpack(raw[:, 2:]).astype(np.int8) - np.int8(16)
    return q.astype(F32) * f16_values(raw[:, :2])


def quantize_q5_1(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 32]`` -> uint8 ``[n, 24]`` (finite ``max - min``, as Q4_1)."""
    blocks = np.asarray(blocks, dtype=F32)
    low = first_min(blocks)
    d = (first_max(blocks) - low) / F32(31)
    # ggml stores (uint8_t)(x + 0.5f) without a clamp; the largest value is max-min scaled to 31
    q = c_trunc((blocks - low[:, None]) * inverse_or_zero(d)[:, None] + F32(0.5))
    return np.concatenate([f16_bytes(d), f16_bytes(low), _pack(q)], axis=1)


def dequantize_q5_1(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 24]`` -> float32 ``[n, 32]``."""
    return _unpack(raw[:, 4:]).astype(F32) * f16_values(raw[:, :2]) + f16_values(raw[:, 2:4])
