"""Dequantize a tile of weight rows to float32, for prompt batches: many activation rows reuse
each decoded weight, so a float32 tile of rows (1 MiB, reused) and one BLAS ``sgemm`` per tile
beat decoding every block once per activation row: 1.3-2.5x from 8 rows, measured on SmolLM2 and
4096 shapes (below 8 rows the fused kernels win: BLAS's fixed cost per call dominates). The
values are gguf-py's float32 dequantization bit for bit: the same products (exact: a float16
scale times a small integer) and the same one rounding where a minimum is added.

``tile(raw, codes, out, first, rows, nb, f16, inner)`` writes rows ``[first, first + rows)`` of
``raw`` (layouts in ``_blocks32``/``_kquants``/``_ternary``) as float32 ``out[rows * k]``; ``nb``
blocks per row; ``inner`` as in the matmul kernels (a trip count LLVM cannot unroll).
"""

from __future__ import annotations

import numpy as np
from numba import prange
from numba import uint64 as u64

from ._kquants import _f16, _q3_scale, _scale_min
from ._numba import LANE, field32, float_from_bits, kernel, trit32

__all__ = ["TILES"]


@kernel
def q4_0(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 18)
        for b in range(nb):
            block = row + u64(b * 18)
            d = _f16(raw, block, f16)
            at = u64(r * nb * 32 + b * 32)
            for j in range(inner):
                q = raw[block + u64(2 + j)]
                out[at + u64(j)] = d * np.float32(np.int32(q & np.uint8(15)) - 8)
                out[at + u64(16 + j)] = d * np.float32(np.int32(q >> np.uint8(4)) - 8)


@kernel
def q4_1(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 20)
        for b in range(nb):
            block = row + u64(b * 20)
            d = _f16(raw, block, f16)
            low = _f16(raw, block + u64(2), f16)
            at = u64(r * nb * 32 + b * 32)
            for j in range(inner):
                q = raw[block + u64(4 + j)]
                out[at + u64(j)] = d * np.float32(q & np.uint8(15)) + low
                out[at + u64(16 + j)] = d * np.float32(q >> np.uint8(4)) + low


@kernel
def q5_0(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 22)
        for b in range(nb):
            block = row + u64(b * 22)
            d = _f16(raw, block, f16)
            high = (
                u64(raw[block + u64(2)])
                | (u64(raw[block + u64(3)]) << u64(8))
                | (u64(raw[block + u64(4)]) << u64(16))
                | (u64(raw[block + u64(5)]) << u64(24))
            )
            at = u64(r * nb * 32 + b * 32)
            for j in range(inner):
                q = raw[block + u64(6 + j)]
                lo = np.int32(q & np.uint8(15)) + 16 * field32(high, LANE[j], 1)
                hi = np.int32(q >> np.uint8(4)) + 16 * field32(high, LANE[16 + j], 1)
                out[at + u64(j)] = d * np.float32(lo - 16)
                out[at + u64(16 + j)] = d * np.float32(hi - 16)


@kernel
def q5_1(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 24)
        for b in range(nb):
            block = row + u64(b * 24)
            d = _f16(raw, block, f16)
            low = _f16(raw, block + u64(2), f16)
            high = (
                u64(raw[block + u64(4)])
                | (u64(raw[block + u64(5)]) << u64(8))
                | (u64(raw[block + u64(6)]) << u64(16))
                | (u64(raw[block + u64(7)]) << u64(24))
            )
            at = u64(r * nb * 32 + b * 32)
            for j in range(inner):
                q = raw[block + u64(8 + j)]
                lo = np.int32(q & np.uint8(15)) + 16 * field32(high, LANE[j], 1)
                hi = np.int32(q >> np.uint8(4)) + 16 * field32(high, LANE[16 + j], 1)
                out[at + u64(j)] = d * np.float32(lo) + low
                out[at + u64(16 + j)] = d * np.float32(hi) + low


@kernel
def q8_0(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 34)
        for b in range(nb):
            block = row + u64(b * 34)
            d = _f16(raw, block, f16)
            at = u64(r * nb * 32 + b * 32)
            for j in range(inner):
                out[at + u64(j)] = np.float32(codes[block + u64(2 + j)]) * d


@kernel
def q2_k(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 84)
        for b in range(nb):
            block = row + u64(b * 84)
            d = _f16(raw, block + u64(80), f16)
            dmin = _f16(raw, block + u64(82), f16)
            for h in range(2):
                for s in range(4):
                    for t in range(2):
                        packed = raw[block + u64(8 * h + 2 * s + t)]
                        scale = d * np.float32(packed & np.uint8(15))
                        low = dmin * np.float32(packed >> np.uint8(4))
                        src = block + u64(16 + 32 * h + 16 * t)
                        at = u64(r * nb * 256 + b * 256 + 128 * h + 32 * s + 16 * t)
                        for j in range(inner):
                            out[at + u64(j)] = scale * np.float32(field32(raw[src + u64(j)], 2 * s, 3)) - low


@kernel
def q3_k(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 110)
        for b in range(nb):
            block = row + u64(b * 110)
            d = _f16(raw, block + u64(108), f16)
            for h in range(2):
                for s in range(4):
                    for t in range(2):
                        scale = d * _q3_scale(raw, block + u64(96), 8 * h + 2 * s + t)
                        src = block + u64(32 + 32 * h + 16 * t)
                        mask = block + u64(16 * t)
                        at = u64(r * nb * 256 + b * 256 + 128 * h + 32 * s + 16 * t)
                        for j in range(inner):
                            low = field32(raw[src + u64(j)], 2 * s, 3)
                            code = low - 4 + 4 * field32(raw[mask + u64(j)], 4 * h + s, 1)
                            out[at + u64(j)] = scale * np.float32(code)


@kernel
def q4_k(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 144)
        for b in range(nb):
            block = row + u64(b * 144)
            d = _f16(raw, block, f16)
            dmin = _f16(raw, block + u64(2), f16)
            for g in range(4):
                scale_lo, min_lo = _scale_min(raw, block + u64(4), 2 * g)
                scale_hi, min_hi = _scale_min(raw, block + u64(4), 2 * g + 1)
                d_lo, m_lo, d_hi, m_hi = d * scale_lo, dmin * min_lo, d * scale_hi, dmin * min_hi
                src = block + u64(16 + 32 * g)
                at = u64(r * nb * 256 + b * 256 + 64 * g)
                for j in range(inner):
                    q = raw[src + u64(j)]
                    out[at + u64(j)] = d_lo * np.float32(q & np.uint8(15)) - m_lo
                    out[at + u64(32 + j)] = d_hi * np.float32(q >> np.uint8(4)) - m_hi


@kernel
def q5_k(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 176)
        for b in range(nb):
            block = row + u64(b * 176)
            d = _f16(raw, block, f16)
            dmin = _f16(raw, block + u64(2), f16)
            for g in range(4):
                scale_lo, min_lo = _scale_min(raw, block + u64(4), 2 * g)
                scale_hi, min_hi = _scale_min(raw, block + u64(4), 2 * g + 1)
                d_lo, m_lo, d_hi, m_hi = d * scale_lo, dmin * min_lo, d * scale_hi, dmin * min_hi
                src = block + u64(48 + 32 * g)
                at = u64(r * nb * 256 + b * 256 + 64 * g)
                for j in range(inner):
                    q = raw[src + u64(j)]
                    bits = raw[block + u64(16 + j)]
                    lo = np.int32(q & np.uint8(15)) + 16 * field32(bits, 2 * g, 1)
                    hi = np.int32(q >> np.uint8(4)) + 16 * field32(bits, 2 * g + 1, 1)
                    out[at + u64(j)] = d_lo * np.float32(lo) - m_lo
                    out[at + u64(32 + j)] = d_hi * np.float32(hi) - m_hi


@kernel
def q6_k(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 210)
        for b in range(nb):
            block = row + u64(b * 210)
            d = _f16(raw, block + u64(208), f16)
            for h in range(2):
                low_at = block + u64(64 * h)
                high_at = block + u64(128 + 32 * h)
                scale_at = block + u64(192 + 8 * h)
                for t in range(2):
                    start = u64(16 * t)
                    s0 = d * np.float32(codes[scale_at + u64(t)])
                    s1 = d * np.float32(codes[scale_at + u64(2 + t)])
                    s2 = d * np.float32(codes[scale_at + u64(4 + t)])
                    s3 = d * np.float32(codes[scale_at + u64(6 + t)])
                    at = u64(r * nb * 256 + b * 256 + 128 * h) + start
                    for j in range(inner):
                        near = raw[low_at + start + u64(j)]
                        far = raw[low_at + u64(32) + start + u64(j)]
                        bits = raw[high_at + start + u64(j)]
                        c0 = np.int32(near & np.uint8(15)) + 16 * field32(bits, 0, 3) - 32
                        c1 = np.int32(far & np.uint8(15)) + 16 * field32(bits, 2, 3) - 32
                        c2 = np.int32(near >> np.uint8(4)) + 16 * field32(bits, 4, 3) - 32
                        c3 = np.int32(far >> np.uint8(4)) + 16 * field32(bits, 6, 3) - 32
                        out[at + u64(j)] = s0 * np.float32(c0)
                        out[at + u64(32 + j)] = s1 * np.float32(c1)
                        out[at + u64(64 + j)] = s2 * np.float32(c2)
                        out[at + u64(96 + j)] = s3 * np.float32(c3)


@kernel
def q8_k(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 292)
        for b in range(nb):
            block = row + u64(b * 292)
            bits = (
                u64(raw[block])
                | (u64(raw[block + u64(1)]) << u64(8))
                | (u64(raw[block + u64(2)]) << u64(16))
                | (u64(raw[block + u64(3)]) << u64(24))
            )
            d = float_from_bits(bits)
            at = u64(r * nb * 256 + b * 256)
            for j in range(inner):
                out[at + u64(j)] = d * np.float32(codes[block + u64(4 + j)])


@kernel
def tq1_0(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    half = inner // 2
    eighth = inner // 8
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 54)
        for b in range(nb):
            block = row + u64(b * 54)
            d = _f16(raw, block + u64(52), f16)
            at = u64(r * nb * 256 + b * 256)
            power = 1
            for digit in range(5):
                target = at + u64(32 * digit)
                for j in range(inner):
                    out[target + u64(j)] = d * np.float32(trit32(raw[block + u64(j)], power) - 1)
                target = at + u64(160 + 16 * digit)
                for j in range(half):
                    out[target + u64(j)] = d * np.float32(trit32(raw[block + u64(32 + j)], power) - 1)
                if digit < 4:
                    target = at + u64(240 + 4 * digit)
                    for j in range(eighth):
                        out[target + u64(j)] = d * np.float32(trit32(raw[block + u64(48 + j)], power) - 1)
                power *= 3


@kernel
def tq2_0(raw, codes, out, first, rows, nb, f16, inner):  # pragma: no cover - compiled
    for r in prange(rows):
        row = u64(first + r) * u64(nb * 66)
        for b in range(nb):
            block = row + u64(b * 66)
            d = _f16(raw, block + u64(64), f16)
            for h in range(2):
                for s in range(4):
                    at = u64(r * nb * 256 + b * 256 + 128 * h + 32 * s)
                    for j in range(inner):
                        out[at + u64(j)] = d * np.float32(field32(raw[block + u64(32 * h + j)], 2 * s, 3) - 1)


#: Tile kernel and its inner trip count per format.
TILES = {
    "q4_0": (q4_0, 16),
    "q4_1": (q4_1, 16),
    "q5_0": (q5_0, 16),
    "q5_1": (q5_1, 16),
    "q8_0": (q8_0, 32),
    "q2_k": (q2_k, 16),
    "q3_k": (q3_k, 16),
    "q4_k": (q4_k, 32),
    "q5_k": (q5_k, 32),
    "q6_k": (q6_k, 16),
    "q8_k": (q8_k, 256),
    "tq1_0": (tq1_0, 32),
    "tq2_0": (tq2_0, 32),
}
