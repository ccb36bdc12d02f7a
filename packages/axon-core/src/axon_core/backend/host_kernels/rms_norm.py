"""RMSNorm over the last dimension, forward and backward, as one-pass-per-row CPU kernels.

The reference (``reference/norms.py``) makes 5 (forward) and 9 (backward) NumPy passes over the
whole ``[rows, n]`` array, each with a temporary; these kernels read each row once or twice while
it is in cache, with the row sums in float64, threaded over rows. The backward's weight gradient
is summed per thread into its own row of a partial array, then over threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

__all__ = ["rms_norm", "rms_norm_backward"]


@njit(cache=True, nogil=True, parallel=True)
def _forward(x, w, eps, y, rstd):  # pragma: no cover - compiled
    rows, n = x.shape
    for r in prange(rows):
        acc = 0.0
        for j in range(n):
            v = float(x[r, j])
            acc += v * v
        s = 1.0 / math.sqrt(acc / n + eps)
        rstd[r] = s
        for j in range(n):
            y[r, j] = float(x[r, j]) * s * float(w[j])


@njit(cache=True, nogil=True, parallel=True)
def _backward(g, x, w, rstd, dx, dw_partial):  # pragma: no cover - compiled
    rows, n = x.shape
    chunks = dw_partial.shape[0]
    per = (rows + chunks - 1) // chunks
    for c in prange(chunks):
        for r in range(c * per, min(rows, (c + 1) * per)):
            s = float(rstd[r])
            dot = 0.0
            for j in range(n):
                xhat = float(x[r, j]) * s
                gj = float(g[r, j])
                dot += gj * float(w[j]) * xhat
                dw_partial[c, j] += gj * xhat
            dot /= n
            for j in range(n):
                dx[r, j] = s * (float(g[r, j]) * float(w[j]) - float(x[r, j]) * s * dot)


def rms_norm(x: np.ndarray, weight: np.ndarray | None, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """``(y [rows, n], rstd [rows])`` for a C-contiguous float32/float64 ``x [rows, n]`` and
    ``weight [n]`` of its dtype or None."""
    w = np.ones(x.shape[1], x.dtype) if weight is None else weight
    y, rstd = np.empty_like(x), np.empty(x.shape[0], x.dtype)
    _forward(x, w, float(eps), y, rstd)
    return y, rstd


def rms_norm_backward(
    grad: np.ndarray, x: np.ndarray, weight: np.ndarray | None, rstd: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(dx [rows, n], dweight [n] or None)`` of :func:`rms_norm` given ``grad [rows, n]``."""
    w = np.ones(x.shape[1], x.dtype) if weight is None else weight
    dx = np.empty_like(x)
    dw_partial = np.zeros((max(1, min(x.shape[0], numba.get_num_threads())), x.shape[1]))
    _backward(grad, x, w, rstd, dx, dw_partial)
    return dx, None if weight is None else dw_partial.sum(axis=0).astype(weight.dtype)
