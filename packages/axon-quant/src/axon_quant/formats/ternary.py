"""TQ1_0 and TQ2_0: ternary super-blocks of 256 values in {-d, 0, d} (BitNet b1.58, TriLMs).

Both take ``d = amax`` (f16, stored last) and the trit ``t = lroundf(x / d) + 1`` in {0, 1, 2}.
TQ2_0 (66 bytes): ``qs`` uint8[64], 2 bits per trit; byte ``m`` of each 32-byte group ``g`` holds values
``128 g + 32 n + m`` at bits ``2n``. TQ1_0 (54 bytes): ``qs`` uint8[48] with five trits per byte
(base 3, first value most significant, then scaled to ``ceil(q * 256 / 243)`` so the decoder can pull
trits out with a multiply and a shift), ``qh`` uint8[4] with four, then ``d``. The first 32 bytes cover
values ``m + 32 n``, the next 16 values ``160 + m + 16 n``, ``qh[j]`` values ``240 + j + 4 n``.
"""

from __future__ import annotations

import numpy as np

from ._common import F32, f16_bytes, f16_values, inverse_or_zero, round_half_away

__all__ = ["dequantize_tq1_0", "dequantize_tq2_0", "quantize_tq1_0", "quantize_tq2_0"]

_POW3 = np.array([81, 27, 9, 3, 1], dtype=np.uint16)


def _trits(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    blocks = np.asarray(blocks, dtype=F32)
    d = np.max(np.abs(blocks), axis=1)
    return (round_half_away(blocks * inverse_or_zero(d)[:, None]) + 1).astype(np.uint16), d


def _base3(trits: np.ndarray, weights: np.ndarray) -> np.ndarray:
    # trits [n, groups, digits, width] -> [n, groups * width], first digit most significant
    return np.einsum("ngdw,d->ngw", trits, weights).reshape(trits.shape[0], -1)


def quantize_tq1_0(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 256]`` -> uint8 ``[n, 54]``."""
    t, d = _trits(blocks)
    n = t.shape[0]
    qs = np.concatenate(
        [
            _base3(t[:, :160].reshape(n, 1, 5, 32), _POW3),
            _base3(t[:, 160:240].reshape(n, 1, 5, 16), _POW3),
            _base3(t[:, 240:].reshape(n, 1, 4, 4), _POW3[1:] * 3),  # * 3: the first value is the top trit
        ],
        axis=1,
    )
    qs = (qs * 256 + (243 - 1)) // 243  # ceiling division, in ggml's uint16 arithmetic
    return np.concatenate([qs.astype(np.uint8), f16_bytes(d)], axis=1)


def dequantize_tq1_0(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 54]`` -> float32 ``[n, 256]``."""
    n = raw.shape[0]
    pow3 = np.array([1, 3, 9, 27, 81], dtype=np.uint8)

    def trits(qs: np.ndarray, digits: int) -> np.ndarray:
        q = qs[:, None, :] * pow3[:digits, None]  # uint8 wrap-around, as ggml's uint8_t product
        return ((q.astype(np.uint16) * 3) >> 8).reshape(n, -1)

    t = np.concatenate([trits(raw[:, :32], 5), trits(raw[:, 32:48], 5), trits(raw[:, 48:52], 4)], axis=1)
    return (t.astype(F32) - F32(1)) * f16_values(raw[:, 52:54])


def quantize_tq2_0(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 256]`` -> uint8 ``[n, 66]``."""
    t, d = _trits(blocks)
    t = (t & 3).reshape(t.shape[0], 2, 4, 32) << (2 * np.arange(4, dtype=np.uint16))[:, None]
    qs = (t[:, :, 0] | t[:, :, 1] | t[:, :, 2] | t[:, :, 3]).reshape(t.shape[0], 64)
    return np.concatenate([qs.astype(np.uint8), f16_bytes(d)], axis=1)


def dequantize_tq2_0(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 66]`` -> float32 ``[n, 256]``."""
    n = raw.shape[0]
    qs = raw[:, :64].reshape(n, 2, 1, 32) >> (2 * np.arange(4, dtype=np.uint8))[:, None]
    t = (qs & 3).reshape(n, 256)
    return (t.astype(F32) - F32(1)) * f16_values(raw[:, 64:66])
