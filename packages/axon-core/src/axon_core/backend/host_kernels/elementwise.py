"""Elementwise CPU kernels where NumPy needs several passes (or a slow ``where``) for one op."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["relu", "relu_backward"]


@njit(cache=True, nogil=True)
def _relu(x, out, zero):  # pragma: no cover - compiled
    # "v < 0" is false for NaN and -0.0, which pass through unchanged, as in PyTorch.
    for i in range(x.size):
        value = x[i]
        out[i] = zero if value < zero else value


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` of a float32/float64/integer array, NaN and -0.0 kept; same shape, new array."""
    source = np.ascontiguousarray(x)  # at least 1-d: a 0-d x comes back as shape (1,)
    out = np.empty(x.shape, dtype=source.dtype)
    _relu(source.reshape(-1), out.reshape(-1), source.dtype.type(0))
    return out


@njit(cache=True, nogil=True)
def _relu_backward(grad, y, out, zero):  # pragma: no cover - compiled
    for i in range(grad.size):
        out[i] = zero if y[i] <= zero else grad[i]


def relu_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``grad`` where ``y > 0`` or NaN, else 0, for float32/float64 arrays of one shape."""
    out = np.empty(grad.shape, dtype=grad.dtype)
    _relu_backward(
        np.ascontiguousarray(grad).reshape(-1), np.ascontiguousarray(y).reshape(-1), out.reshape(-1), grad.dtype.type(0)
    )
    return out
