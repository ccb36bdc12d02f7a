"""Max pooling with indices and its backward on the CPU, one pass over the data.

The rules are the NumPy reference's (``Backend.max_pool2d``) and PyTorch's: window offsets are
visited row by row, the first maximum wins, every NaN replaces what came before (so the last
NaN wins), positions outside the image read as ``-inf`` (so they never replace anything),
and indices are ``h * W + w`` in the input plane. A window whose maximum is ``-inf`` points at
its first position inside the image (as PyTorch and the CUDA kernel do), or at -1 when it has
none (possible with dilation; as the CUDA kernel does), never at padding: ``h * W + w`` of a padded position would
name another pixel of the plane.
The forward goes window offset by window offset, not window by window: each offset's values for
a whole plane are gathered into one contiguous row, then merged into the running maxima with
selects, a loop LLVM vectorises (window by window, the data-dependent compare is a branch that
mispredicts about once per window). Offsets are flat and unsigned (see ``im2col.py`` for why).
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
def _max_pool2d(
    x, out, indices, planes, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow
):  # pragma: no cover - compiled
    outputs = oh * ow
    # One window offset's value for every output of the plane, -inf outside the image.
    values = np.empty(outputs, x.dtype)
    for plane in range(planes):
        image = u64(plane * height * width)
        base = u64(plane * outputs)
        for ki in range(kh):
            for kj in range(kw):
                lo, hi = _in_bounds(ow, sw, pw - kj * dw, width)
                for oi in range(oh):
                    h = oi * sh - ph + ki * dh
                    row = u64(oi * ow)
                    if h < 0 or h >= height:
                        lo_row, hi_row = ow, ow
                    else:
                        lo_row, hi_row = lo, hi
                    for oj in range(lo_row):
                        values[row + u64(oj)] = -np.inf
                    first = u64(h * width - pw + kj * dw)
                    for oj in range(lo_row, hi_row):
                        values[row + u64(oj)] = x[image + first + u64(oj * sw)]
                    for oj in range(hi_row, ow):
                        values[row + u64(oj)] = -np.inf
                # Until the last pass, an index is the winner's offset from its window's corner.
                offset = ki * dh * width + kj * dw
                if ki == 0 and kj == 0:
                    for k in range(outputs):
                        out[base + u64(k)] = values[k]
                        indices[base + u64(k)] = 0
                    continue
                # Selects, not branches: the compare is data-dependent, and this loop vectorises.
                for k in range(outputs):
                    value = values[k]
                    best = out[base + u64(k)]
                    take = (value > best) | (value != value)
                    out[base + u64(k)] = value if take else best
                    indices[base + u64(k)] = offset if take else indices[base + u64(k)]
        for oi in range(oh):
            top = oi * sh - ph
            h = _first_inside(top, height, kh, dh)
            for oj in range(ow):
                k = base + u64(oi * ow + oj)
                left = oj * sw - pw
                if out[k] == -np.inf:
                    # Nothing beat offset (0, 0), which may lie in the padding.
                    w = _first_inside(left, width, kw, dw)
                    indices[k] = h * width + w if h >= 0 and w >= 0 else -1
                else:
                    indices[k] += top * width + left


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
    _max_pool2d(
        np.ascontiguousarray(x).reshape(-1),
        out.reshape(-1),
        indices.reshape(-1),
        n * c,
        height,
        width,
        kh,
        kw,
        sh,
        sw,
        ph,
        pw,
        dh,
        dw,
        oh,
        ow,
    )
    return out, indices


def max_pool2d_backward(grad: np.ndarray, indices: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """``dx [N, C, H, W]``: each ``grad [N, C, oh, ow]`` value added at the position ``indices``
    names, in output order and in ``grad.dtype`` (float32 or float64), as PyTorch does."""
    n, c, height, width = input_shape
    dx = np.zeros(input_shape, dtype=grad.dtype)
    _max_pool2d_backward(
        np.ascontiguousarray(grad).reshape(-1),
        np.ascontiguousarray(indices, dtype=np.int64).reshape(-1),
        dx.reshape(-1),
        n * c,
        height * width,
        grad.shape[2] * grad.shape[3],
    )
    return dx
