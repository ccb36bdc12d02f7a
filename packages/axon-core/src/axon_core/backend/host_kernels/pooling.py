"""Max pooling with indices and its backward on the CPU, one pass over the data.

The rules are the NumPy reference's (``Backend.max_pool2d``) and PyTorch's: window offsets are
visited row by row, the first maximum wins, every NaN replaces what came before (so the last
NaN wins), positions outside the image read as ``-inf`` (so they never replace anything),
and indices are ``h * W + w`` in the input plane. A window whose maximum is ``-inf`` points at
its first position inside the image (as PyTorch and the CUDA kernel do), or at -1 when it has
none (possible with dilation; as the CUDA kernel does), never at padding: ``h * W + w`` of a padded position would
name another pixel of the plane.
Each output row is swept once per window offset over its in-bounds range, with flat unsigned
offsets (see ``im2col.py`` for why), rather than window by window.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba import uint64 as u64

from .im2col import _in_bounds

__all__ = ["max_pool2d", "max_pool2d_backward"]


@njit(cache=True, nogil=True)
def _first_inside(start, size, k, d):  # pragma: no cover - compiled
    """The first of ``start + i*d`` (``i < k``) in ``[0, size)``, or -1."""
    first = start + (-start + d - 1) // d * d if start < 0 else start
    return first if first < size and first <= start + (k - 1) * d else -1


@njit(cache=True, nogil=True)
def _max_pool2d(x, out, indices, planes, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):  # pragma: no cover - compiled
    for plane in range(planes):
        image = plane * height * width
        for oi in range(oh):
            row = u64((plane * oh + oi) * ow)
            top = oi * sh - ph
            # Offset (0, 0) starts every window, inside the image or not.
            lo, hi = _in_bounds(ow, sw, pw, width)
            top_inside = 0 <= top < height
            for oj in range(ow):
                position = top * width + oj * sw - pw
                indices[row + u64(oj)] = position
                out[row + u64(oj)] = x[u64(image + position)] if top_inside and lo <= oj < hi else -np.inf
            for ki in range(kh):
                h = top + ki * dh
                if h < 0 or h >= height:
                    continue
                for kj in range(kw):
                    if ki == 0 and kj == 0:
                        continue
                    lo, hi = _in_bounds(ow, sw, pw - kj * dw, width)
                    first = h * width + lo * sw - pw + kj * dw
                    for oj in range(lo, hi):
                        position = first + (oj - lo) * sw
                        value = x[u64(image + position)]
                        best = out[row + u64(oj)]
                        if value > best or value != value:
                            out[row + u64(oj)] = value
                            indices[row + u64(oj)] = position
            # Still -inf: nothing beat offset (0, 0), which may lie in the padding.
            h = _first_inside(top, height, kh, dh)
            for oj in range(ow):
                if out[row + u64(oj)] == -np.inf:
                    w = _first_inside(oj * sw - pw, width, kw, dw)
                    indices[row + u64(oj)] = h * width + w if h >= 0 and w >= 0 else -1


@njit(cache=True, nogil=True)
def _max_pool2d_backward(grad, indices, dx, planes, plane_size, outputs):  # pragma: no cover - compiled
    for plane in range(planes):
        for o in range(outputs):
            position = indices[u64(plane * outputs + o)]
            # Padding can only win a window of -inf; its gradient has nowhere to go.
            if 0 <= position < plane_size:
                dx[u64(plane * plane_size + position)] += grad[u64(plane * outputs + o)]


def max_pool2d(x: np.ndarray, pool: tuple) -> tuple[np.ndarray, np.ndarray]:
    """``(out, indices)``, both ``[N, C, oh, ow]``, of ``x [N, C, H, W]`` (float32 or float64);
    ``pool`` from ``pool_geometry``."""
    n, c, (height, width), (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = pool
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    indices = np.empty((n, c, oh, ow), dtype=np.int64)
    _max_pool2d(np.ascontiguousarray(x).reshape(-1), out.reshape(-1), indices.reshape(-1), n * c, height, width,
                kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return out, indices


def max_pool2d_backward(grad: np.ndarray, indices: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """``dx [N, C, H, W]``: each ``grad [N, C, oh, ow]`` value added at the position ``indices``
    names, in output order and in ``grad.dtype`` (float32 or float64), as PyTorch does."""
    n, c, height, width = input_shape
    dx = np.zeros(input_shape, dtype=grad.dtype)
    _max_pool2d_backward(np.ascontiguousarray(grad).reshape(-1), np.ascontiguousarray(indices, dtype=np.int64).reshape(-1),
                         dx.reshape(-1), n * c, height * width, grad.shape[2] * grad.shape[3])
    return dx
