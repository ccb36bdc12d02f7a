"""Fused dequantize-matmul kernels for ggml's ternary formats: tq1_0 and tq2_0 (``w = d * t``,
``t`` in {-1, 0, 1}, 256 values per block).

Same scheme and arguments as ``_blocks32``; both take plain ``x`` and sums per 256 values
(``sum t x = sum (t + 1) x - sum x``).

- tq1_0 (54 B): ``qs[48]``, ``qh[4]``, ``d`` (float16). Each byte packs five (``qh``: four)
  base-3 digits, scaled so that ``((byte * 3**i) mod 256) * 3 >> 8`` is digit ``i`` plus one.
  Value ``32i + l`` is digit ``i`` of ``qs[l]``; ``160 + 16i + l`` of ``qs[32 + l]``;
  ``240 + 4i + l`` of ``qh[l]``.
- tq2_0 (66 B): ``qs[64]``, ``d``; value ``128h + 32s + l`` is bits ``2s..2s+1`` of
  ``qs[32h + l]``, plus one.
"""

from __future__ import annotations

import numpy as np
from numba import prange
from numba import uint64 as u64

from ._numba import field32, kernel, trit32

__all__ = ["tq1_0", "tq2_0"]


@kernel
def tq1_0(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    # inner is 32: the runs are 32, 16 (inner // 2) and 4 (inner // 8) bytes long.
    row_bytes = nb * 54
    half = inner // 2
    eighth = inner // 8
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 256)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 54)
                    d = f16[u64(raw[block + u64(52)]) | (u64(raw[block + u64(53)]) << u64(8))]
                    x0 = xrow + u64(b * 256)
                    dot = np.float32(0.0)
                    power = 1
                    for digit in range(5):
                        first = x0 + u64(32 * digit)
                        for j in range(inner):
                            dot += np.float32(trit32(raw[block + u64(j)], power)) * xs[first + u64(j)]
                        first = x0 + u64(160 + 16 * digit)
                        for j in range(half):
                            dot += np.float32(trit32(raw[block + u64(32 + j)], power)) * xs[first + u64(j)]
                        if digit < 4:
                            first = x0 + u64(240 + 4 * digit)
                            for j in range(eighth):
                                dot += np.float32(trit32(raw[block + u64(48 + j)], power)) * xs[first + u64(j)]
                        power *= 3
                    acc += d * (dot - sums[u64(i) * u64(nb) + u64(b)])
                out[u64(i) * u64(m) + u64(r)] = acc


@kernel
def tq2_0(raw, codes, xs, sums, out, m, n, nb, f16, inner, chunks):  # pragma: no cover - compiled
    row_bytes = nb * 66
    for c in prange(chunks):
        for r in range(c * m // chunks, (c + 1) * m // chunks):
            row = u64(r) * u64(row_bytes)
            for i in range(n):
                xrow = u64(i) * u64(nb * 256)
                acc = np.float32(0.0)
                for b in range(nb):
                    block = row + u64(b * 66)
                    d = f16[u64(raw[block + u64(64)]) | (u64(raw[block + u64(65)]) << u64(8))]
                    dot = np.float32(0.0)
                    for h in range(2):
                        at = block + u64(32 * h)
                        for s in range(4):
                            x0 = xrow + u64(b * 256 + 128 * h + 32 * s)
                            for j in range(inner):
                                dot += np.float32(field32(raw[at + u64(j)], 2 * s, 3)) * xs[x0 + u64(j)]
                    acc += d * (dot - sums[u64(i) * u64(nb) + u64(b)])
                out[u64(i) * u64(m) + u64(r)] = acc
