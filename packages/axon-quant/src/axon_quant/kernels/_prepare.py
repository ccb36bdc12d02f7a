"""Activation rows prepared once per call, so the weight kernels' inner loops stay branch-free.

A weight byte holds two 4-bit values: the low nibble for element ``j`` of a group and the high
nibble for element ``j + group/2``. The kernels read the high nibble as ``byte & 0xF0``, which
is 16 times its value, and so take those elements of ``x`` divided by 16 (exact: a power of two,
barring underflow to subnormals); this saves a shift and its widening per element. Formats with
a per-block minimum or offset also need each block's plain sum of ``x``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba import uint64 as u64

__all__ = ["block_sums", "scale_high_nibbles"]


@njit(cache=True, nogil=True)
def scale_high_nibbles(x, scaled, total, group):  # pragma: no cover - compiled
    """``scaled[e] = x[e] / 16`` where ``e % group >= group / 2``, else ``x[e]``; flat float32 ``[total]``."""
    half = group // 2
    sixteenth = np.float32(0.0625)
    for start in range(0, total, group):
        first = u64(start)
        for j in range(half):
            scaled[first + u64(j)] = x[first + u64(j)]
        for j in range(half, group):
            scaled[first + u64(j)] = x[first + u64(j)] * sixteenth


@njit(cache=True, nogil=True)
def block_sums(x, sums, total, size):  # pragma: no cover - compiled
    """``sums[s]``: the float32 sum of ``x[s * size : (s + 1) * size]``, for ``s < total // size``."""
    for s in range(total // size):
        acc = np.float32(0.0)
        first = u64(s * size)
        for j in range(size):
            acc += x[first + u64(j)]
        sums[s] = acc
