"""Fused dequantize-matmul kernels for ggml's 256-value K-quant super-blocks: q2_k, q3_k, q4_k,
q5_k, q6_k, q8_k.

Same scheme and arguments as ``_blocks32``: per run of codes that share a scale, the integer
codes times ``x`` summed in float32, then the run's scale (and minimum times the run's sum of
``x``) applied once. ``nb`` counts super-blocks per row. Layouts (ggml's ``block_q*_K``;
``d``/``dmin`` float16 unless said):

- q2_k (84 B): ``scales[16]`` (low nibble scale, high nibble min, per 16 values), ``qs[64]``
  (2-bit codes), ``d``, ``dmin``; value ``128h + 32s + l`` is bits ``2s..2s+1`` of
  ``qs[32h + l]``; ``w = d * sc * q - dmin * mn``.
- q3_k (110 B): ``hmask[32]``, ``qs[64]``, ``scales[12]`` (16 six-bit scales, stored minus
  32), ``d``; the 2-bit code as q2_k's, less 4 where bit ``4h + s`` of ``hmask[l]`` is clear.
- q4_k (144 B): ``d``, ``dmin``, ``scales[12]`` (8 six-bit scales and mins), ``qs[128]``;
  value ``64g + l`` is the low nibble of ``qs[32g + l]``, ``64g + 32 + l`` the high nibble.
- q5_k (176 B): q4_k's fields with ``qh[32]`` before ``qs``: bit ``j`` of ``qh[l]`` is the
  fifth bit of value ``l`` of sub-block ``j``.
- q6_k (210 B): ``ql[128]``, ``qh[64]``, int8 ``scales[16]`` (per 16 values), ``d``; in half
  ``h``, value ``l`` / ``32 + l`` / ``64 + l`` / ``96 + l`` are the low nibble of ``ql[l]``, of
  ``ql[32 + l]``, the high nibbles of the same, each with bits ``0-1``/``2-3``/``4-5``/``6-7``
  of ``qh[l]`` on top; ``w = d * sc * (q - 32)``.
- q8_k (292 B): float32 ``d``, int8 ``qs[256]``, int16 ``bsums[16]`` (unused here); ``w = d * q``.

q4_k/q5_k take ``xs`` with elements ``[32, 64)`` of every 64 divided by 16 and sums per 32
values; q6_k elements ``[64, 128)`` of every 128 and sums per 16; q2_k/q3_k plain ``x`` and
sums per 16; q8_k plain ``x``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba import uint64 as u64

from ._numba import field32, float_from_bits, kernel

__all__ = ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_k"]


@njit(cache=True, nogil=True, inline="always")
def _f16(raw, at, f16):  # pragma: no cover - compiled
    return f16[u64(raw[at]) | (u64(raw[at + u64(1)]) << u64(8))]


@njit(cache=True, nogil=True, inline="always")
def _scale_min(raw, at, j):  # pragma: no cover - compiled
    """Scale and minimum (6 bits each) of sub-block ``j`` from q4_k/q5_k's ``scales[12]`` at ``at``
    (ggml's ``get_scale_min_k4``)."""
    if j < 4:
        scale = raw[at + u64(j)] & np.uint8(63)
        low = raw[at + u64(j + 4)] & np.uint8(63)
    else:
        scale = (raw[at + u64(j + 4)] & np.uint8(15)) | ((raw[at + u64(j - 4)] >> np.uint8(6)) << np.uint8(4))
        low = (raw[at + u64(j + 4)] >> np.uint8(4)) | ((raw[at + u64(j)] >> np.uint8(6)) << np.uint8(4))
    return np.float32(scale), np.float32(low)


@kernel
def q4_k(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 144
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 256)
                srow = u64(i) * u64(nb * 8)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 144)
                    d = _f16(raw, block, f16)
                    dmin = _f16(raw, block + u64(2), f16)
                    for g in range(4):
                        scale_lo, min_lo = _scale_min(raw, block + u64(4), 2 * g)
                        scale_hi, min_hi = _scale_min(raw, block + u64(4), 2 * g + 1)
                        at = block + u64(16 + 32 * g)
                        x0 = xrow + u64(b * 256 + 64 * g)
                        lo = np.float32(0.0)
                        hi = np.float32(0.0)
                        for j in range(inner):
                            q = raw[at + u64(j)]
                            lo += np.float32(q & np.uint8(15)) * xs[x0 + u64(j)]
                            hi += np.float32(q & np.uint8(0xF0)) * xs[x0 + u64(32 + j)]
                        s0 = srow + u64(b * 8 + 2 * g)
                        acc += d * (scale_lo * lo + scale_hi * hi)
                        acc -= dmin * (min_lo * sums[s0] + min_hi * sums[s0 + u64(1)])
                out[u64(i) * u64(m) + u64(r)] = acc


@kernel
def q5_k(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 176
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 256)
                srow = u64(i) * u64(nb * 8)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 176)
                    d = _f16(raw, block, f16)
                    dmin = _f16(raw, block + u64(2), f16)
                    fifth = block + u64(16)
                    for g in range(4):
                        scale_lo, min_lo = _scale_min(raw, block + u64(4), 2 * g)
                        scale_hi, min_hi = _scale_min(raw, block + u64(4), 2 * g + 1)
                        at = block + u64(48 + 32 * g)
                        x0 = xrow + u64(b * 256 + 64 * g)
                        lo = np.float32(0.0)
                        hi = np.float32(0.0)
                        for j in range(inner):
                            q = raw[at + u64(j)]
                            bits = raw[fifth + u64(j)]
                            fifth_lo = np.float32(field32(bits, 2 * g, 1)) * np.float32(16.0)
                            fifth_hi = np.float32(field32(bits, 2 * g + 1, 1)) * np.float32(256.0)
                            lo += (np.float32(q & np.uint8(15)) + fifth_lo) * xs[x0 + u64(j)]
                            hi += (np.float32(q & np.uint8(0xF0)) + fifth_hi) * xs[x0 + u64(32 + j)]
                        s0 = srow + u64(b * 8 + 2 * g)
                        acc += d * (scale_lo * lo + scale_hi * hi)
                        acc -= dmin * (min_lo * sums[s0] + min_hi * sums[s0 + u64(1)])
                out[u64(i) * u64(m) + u64(r)] = acc


@kernel
def q6_k(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 210
    sixteen = np.float32(16.0)
    big = np.float32(256.0)
    thirty_two = np.float32(32.0)
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 256)
                srow = u64(i) * u64(nb * 16)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 210)
                    d = _f16(raw, block + u64(208), f16)
                    for h in range(2):
                        low_at = block + u64(64 * h)
                        high_at = block + u64(128 + 32 * h)
                        scale_at = block + u64(192 + 8 * h)
                        for t in range(2):
                            first = u64(16 * t)
                            x0 = xrow + u64(b * 256 + 128 * h) + first
                            a0 = np.float32(0.0)
                            a1 = np.float32(0.0)
                            a2 = np.float32(0.0)
                            a3 = np.float32(0.0)
                            for j in range(inner):
                                near = raw[low_at + first + u64(j)]
                                far = raw[low_at + u64(32) + first + u64(j)]
                                bits = raw[high_at + first + u64(j)]
                                v0 = np.float32(near & np.uint8(15)) + np.float32(field32(bits, 0, 3)) * sixteen
                                v1 = np.float32(far & np.uint8(15)) + np.float32(field32(bits, 2, 3)) * sixteen
                                # High nibbles read 16x (xs is divided by 16 there), so their top bits 256x.
                                v2 = np.float32(near & np.uint8(0xF0)) + np.float32(field32(bits, 4, 3)) * big
                                v3 = np.float32(far & np.uint8(0xF0)) + np.float32(field32(bits, 6, 3)) * big
                                a0 += v0 * xs[x0 + u64(j)]
                                a1 += v1 * xs[x0 + u64(32 + j)]
                                a2 += v2 * xs[x0 + u64(64 + j)]
                                a3 += v3 * xs[x0 + u64(96 + j)]
                            # Runs of 16 values in this half: 2q + t for quarter q.
                            s0 = srow + u64(b * 16 + 8 * h + t)
                            total = np.float32(codes[scale_at + u64(t)]) * (a0 - thirty_two * sums[s0])
                            total += np.float32(codes[scale_at + u64(2 + t)]) * (a1 - thirty_two * sums[s0 + u64(2)])
                            total += np.float32(codes[scale_at + u64(4 + t)]) * (a2 - thirty_two * sums[s0 + u64(4)])
                            total += np.float32(codes[scale_at + u64(6 + t)]) * (a3 - thirty_two * sums[s0 + u64(6)])
                            acc += d * total
                out[u64(i) * u64(m) + u64(r)] = acc


@kernel
def q2_k(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 84
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 256)
                srow = u64(i) * u64(nb * 16)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 84)
                    d = _f16(raw, block + u64(80), f16)
                    dmin = _f16(raw, block + u64(82), f16)
                    for h in range(2):
                        for s in range(4):
                            for t in range(2):
                                run = 8 * h + 2 * s + t
                                at = block + u64(16 + 32 * h + 16 * t)
                                x0 = xrow + u64(b * 256 + 128 * h + 32 * s + 16 * t)
                                dot = np.float32(0.0)
                                for j in range(inner):
                                    dot += np.float32(field32(raw[at + u64(j)], 2 * s, 3)) * xs[x0 + u64(j)]
                                packed = raw[block + u64(run)]
                                scale = np.float32(packed & np.uint8(15))
                                low = np.float32(packed >> np.uint8(4))
                                acc += d * scale * dot - dmin * low * sums[srow + u64(b * 16 + run)]
                out[u64(i) * u64(m) + u64(r)] = acc


@njit(cache=True, nogil=True, inline="always")
def _q3_scale(raw, at, run):  # pragma: no cover - compiled
    """Six-bit scale ``run`` (0..15) of q3_k's ``scales[12]`` at ``at``, less 32."""
    low = (raw[at + u64(run % 8)] >> np.uint8(4 * (run // 8))) & np.uint8(15)
    high = (raw[at + u64(8 + run % 4)] >> np.uint8(2 * (run // 4))) & np.uint8(3)
    return np.float32(np.int32(low | (high << np.uint8(4))) - 32)


@kernel
def q3_k(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 110
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 256)
                srow = u64(i) * u64(nb * 16)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 110)
                    d = _f16(raw, block + u64(108), f16)
                    for h in range(2):
                        for s in range(4):
                            for t in range(2):
                                run = 8 * h + 2 * s + t
                                at = block + u64(32 + 32 * h + 16 * t)
                                mask_at = block + u64(16 * t)
                                x0 = xrow + u64(b * 256 + 128 * h + 32 * s + 16 * t)
                                dot = np.float32(0.0)
                                for j in range(inner):
                                    low = np.float32(field32(raw[at + u64(j)], 2 * s, 3))
                                    high = np.float32(field32(raw[mask_at + u64(j)], 4 * h + s, 1)) * np.float32(4.0)
                                    dot += (low + high) * xs[x0 + u64(j)]
                                scale = _q3_scale(raw, block + u64(96), run)
                                acc += d * scale * (dot - np.float32(4.0) * sums[srow + u64(b * 16 + run)])
                out[u64(i) * u64(m) + u64(r)] = acc


@kernel
def q8_k(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 292
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 256)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 292)
                    bits = (
                        u64(raw[block])
                        | (u64(raw[block + u64(1)]) << u64(8))
                        | (u64(raw[block + u64(2)]) << u64(16))
                        | (u64(raw[block + u64(3)]) << u64(24))
                    )
                    x0 = xrow + u64(b * 256)
                    dot = np.float32(0.0)
                    for j in range(inner):
                        dot += np.float32(codes[block + u64(4 + j)]) * xs[x0 + u64(j)]
                    acc += float_from_bits(bits) * dot
                out[u64(i) * u64(m) + u64(r)] = acc
