"""Fused dequantize-matmul kernels for ggml's 32-value block formats: q4_0, q4_1, q5_0, q5_1, q8_0.

Each kernel computes ``out[i, r] = sum_e x[i, e] * w[r, e]`` straight from the block bytes of
row ``r``: per block, the integer codes times ``x`` summed in float32, then the block's scale
(and minimum times the block's sum of ``x``) applied once. Rows are split across threads. Layouts
(ggml's ``block_q*`` structs, little-endian; ``d``/``m`` float16):

- q4_0 (18 B): ``d``, 16 B of nibbles; ``w = d * (q - 8)``; byte ``j`` holds elements ``j``
  (low nibble) and ``j + 16`` (high nibble).
- q4_1 (20 B): ``d``, ``m``, 16 B of nibbles; ``w = d * q + m``.
- q5_0 (22 B): ``d``, 32 high bits ``qh`` (bit ``e`` for element ``e``), 16 B of nibbles;
  ``w = d * (q - 16)``.
- q5_1 (24 B): ``d``, ``m``, ``qh``, 16 B of nibbles; ``w = d * q + m``.
- q8_0 (34 B): ``d``, 32 int8 ``q``; ``w = d * q``.

Every kernel takes the same arguments, flat: ``raw`` uint8 ``[m * row_bytes]`` and ``codes``,
the same bytes as int8, ``xs`` float32 ``[n * k]`` (prepared by
:func:`._prepare.prepare`: high-nibble elements divided by 16; q8_0 takes ``x`` as it is),
``sums`` float32 ``[n * k / 32]``, ``out`` float32 ``[n * m]``, ``f16`` the float16 table;
``inner`` is 16 (32 for q8_0), passed in so LLVM vectorises rather than unrolls (see ``_numba``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba import uint64 as u64

from ._numba import LANE, field32, kernel

__all__ = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0"]


@kernel
def q4_0(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 18
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 32)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 18)
                    d = f16[u64(raw[block]) | (u64(raw[block + u64(1)]) << u64(8))]
                    nibbles = block + u64(2)
                    x0 = xrow + u64(b * 32)
                    s = np.float32(0.0)
                    for j in range(inner):
                        q = raw[nibbles + u64(j)]
                        lo = np.float32(q & np.uint8(15))
                        hi = np.float32(q & np.uint8(0xF0))
                        s += lo * xs[x0 + u64(j)] + hi * xs[x0 + u64(16 + j)]
                    acc += d * (s - np.float32(8.0) * sums[u64(i) * u64(nb) + u64(b)])
                out[u64(i) * u64(m) + u64(r)] = acc


@kernel
def q4_1(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 20
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 32)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 20)
                    d = f16[u64(raw[block]) | (u64(raw[block + u64(1)]) << u64(8))]
                    low = f16[u64(raw[block + u64(2)]) | (u64(raw[block + u64(3)]) << u64(8))]
                    nibbles = block + u64(4)
                    x0 = xrow + u64(b * 32)
                    s = np.float32(0.0)
                    for j in range(inner):
                        q = raw[nibbles + u64(j)]
                        lo = np.float32(q & np.uint8(15))
                        hi = np.float32(q & np.uint8(0xF0))
                        s += lo * xs[x0 + u64(j)] + hi * xs[x0 + u64(16 + j)]
                    acc += d * s + low * sums[u64(i) * u64(nb) + u64(b)]
                out[u64(i) * u64(m) + u64(r)] = acc


@njit(cache=True, nogil=True, inline="always")
def _q5_block(raw, high_at, xs, x0, inner):  # pragma: no cover - compiled
    """``sum_e q_e * xs[x0 + e]`` over the block whose ``qh`` starts at byte ``high_at`` (its 16
    nibble bytes follow); codes 0..31, high-nibble elements counted 16 times, as ``xs`` wants."""
    high = (
        u64(raw[high_at])
        | (u64(raw[high_at + u64(1)]) << u64(8))
        | (u64(raw[high_at + u64(2)]) << u64(16))
        | (u64(raw[high_at + u64(3)]) << u64(24))
    )
    nibbles = high_at + u64(4)
    s = np.float32(0.0)
    for j in range(inner):
        q = raw[nibbles + u64(j)]
        lo = np.float32(q & np.uint8(15)) + np.float32(field32(high, LANE[j], 1)) * np.float32(16.0)
        hi = np.float32(q & np.uint8(0xF0)) + np.float32(field32(high, LANE[j + 16], 1)) * np.float32(256.0)
        s += lo * xs[x0 + u64(j)] + hi * xs[x0 + u64(16 + j)]
    return s


@kernel
def q5_0(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 22
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 32)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 22)
                    d = f16[u64(raw[block]) | (u64(raw[block + u64(1)]) << u64(8))]
                    s = _q5_block(raw, block + u64(2), xs, xrow + u64(b * 32), inner)
                    acc += d * (s - np.float32(16.0) * sums[u64(i) * u64(nb) + u64(b)])
                out[u64(i) * u64(m) + u64(r)] = acc


@kernel
def q5_1(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 24
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 32)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 24)
                    d = f16[u64(raw[block]) | (u64(raw[block + u64(1)]) << u64(8))]
                    low = f16[u64(raw[block + u64(2)]) | (u64(raw[block + u64(3)]) << u64(8))]
                    s = _q5_block(raw, block + u64(4), xs, xrow + u64(b * 32), inner)
                    acc += d * s + low * sums[u64(i) * u64(nb) + u64(b)]
                out[u64(i) * u64(m) + u64(r)] = acc


@kernel
def q8_0(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 34
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 32)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 34)
                    d = f16[u64(raw[block]) | (u64(raw[block + u64(1)]) << u64(8))]
                    first = block + u64(2)
                    x0 = xrow + u64(b * 32)
                    s = np.float32(0.0)
                    for j in range(inner):
                        s += np.float32(codes[first + u64(j)]) * xs[x0 + u64(j)]
                    acc += d * s
                out[u64(i) * u64(m) + u64(r)] = acc
