"""``im2col`` / ``col2im`` (PyTorch's ``unfold`` / ``fold``) on the CPU, one pass over the data.

The NumPy reference pads the input and copies a strided 6-d view (two full copies); these
kernels read the unpadded image and write each column row once. Arrays are passed flat and
indexed with unsigned offsets over precomputed in-bounds ranges: a signed index makes Numba
test for negative wrap-around on every access, and a bounds test per element, either of which
stops LLVM from vectorising the copy (3-8x slower on LeNet's layers). Column row ``r`` of image
``b`` starts at ``r * row_stride + b * batch_stride``, which serves both layouts the backend
offers: PyTorch's ``[N, C*kh*kw, L]`` and the batched ``[C*kh*kw, N*L]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba import uint64 as u64

__all__ = ["col2im", "im2col"]


@njit(cache=True, nogil=True)
def _in_bounds(count, step, shift, size):  # pragma: no cover - compiled
    """``[lo, hi)``: the ``j < count`` with ``0 <= j*step - shift < size``."""
    lo = min((shift + step - 1) // step if shift > 0 else 0, count)
    hi = min((size + shift + step - 1) // step if size + shift > 0 else 0, count)
    return lo, max(hi, lo)


@njit(cache=True, nogil=True)
def _im2col(
    x, cols, n, c, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, row_stride, batch_stride
):  # pragma: no cover - compiled
    for ch in range(c):
        for ki in range(kh):
            for kj in range(kw):
                row = (ch * kh + ki) * kw + kj
                lo, hi = _in_bounds(ow, sw, pw - kj * dw, width)
                start = lo * sw - pw + kj * dw
                for b in range(n):
                    for oi in range(oh):
                        base = u64(row * row_stride + b * batch_stride + oi * ow)
                        h = oi * sh - ph + ki * dh
                        if h < 0 or h >= height:
                            for oj in range(ow):
                                cols[base + u64(oj)] = 0
                            continue
                        for oj in range(lo):
                            cols[base + u64(oj)] = 0
                        source = u64(((b * c + ch) * height + h) * width + start)
                        target = base + u64(lo)
                        for j in range(hi - lo):
                            cols[target + u64(j)] = x[source + u64(j * sw)]
                        for oj in range(hi, ow):
                            cols[base + u64(oj)] = 0


@njit(cache=True, nogil=True)
def _col2im(
    cols, image, n, c, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, row_stride, batch_stride
):  # pragma: no cover - compiled
    # (ki, kj) outer and pixels inner, as the reference adds one shifted block after another:
    # every pixel sums its contributions in the same order and so rounds the same way.
    for ch in range(c):
        for ki in range(kh):
            for kj in range(kw):
                row = (ch * kh + ki) * kw + kj
                lo, hi = _in_bounds(ow, sw, pw - kj * dw, width)
                start = lo * sw - pw + kj * dw
                for b in range(n):
                    for oi in range(oh):
                        h = oi * sh - ph + ki * dh
                        if h < 0 or h >= height:
                            continue
                        source = u64(row * row_stride + b * batch_stride + oi * ow + lo)
                        target = u64(((b * c + ch) * height + h) * width + start)
                        for j in range(hi - lo):
                            image[target + u64(j * sw)] += cols[source + u64(j)]


def _bits(array: np.ndarray) -> np.ndarray:
    """The same bytes as unsigned integers, so one compiled copy kernel serves every dtype."""
    return array.view(f"u{array.dtype.itemsize}")


def _strides(n: int, rows: int, blocks: int, batched_columns: bool) -> tuple[int, int]:
    """``(row_stride, batch_stride)`` in elements of a column layout."""
    return (n * blocks, blocks) if batched_columns else (blocks, rows * blocks)


def im2col(x: np.ndarray, geometry: tuple, batched_columns: bool = False) -> np.ndarray:
    """Columns of ``x [N, C, H, W]``: ``[N, C*kh*kw, oh*ow]``, or ``[C*kh*kw, N*oh*ow]`` when
    ``batched_columns``; ``geometry`` from ``conv_geometry``.

    Any dtype of itemsize 1, 2, 4 or 8 (the kernel copies bits, so float16 and bfloat16 too).
    """
    n, c, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = geometry
    rows, blocks = c * kh * kw, oh * ow
    cols = np.empty((rows, n * blocks) if batched_columns else (n, rows, blocks), dtype=x.dtype)
    _im2col(
        _bits(np.ascontiguousarray(x)).reshape(-1),
        _bits(cols).reshape(-1),
        n,
        c,
        *x.shape[2:],
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
        *_strides(n, rows, blocks, batched_columns),
    )
    return cols


def col2im(
    cols: np.ndarray, output_size: tuple[int, int], geometry: tuple, batched_columns: bool = False
) -> np.ndarray:
    """``cols`` (laid out as :func:`im2col` makes them) summed back into ``[N, C, *output_size]``
    in ``cols.dtype``, which must be one Numba computes in (float32/64, integers, complex)."""
    n, c, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = geometry
    image = np.zeros((n, c, *output_size), dtype=cols.dtype)
    _col2im(
        np.ascontiguousarray(cols).reshape(-1),
        image.reshape(-1),
        n,
        c,
        *output_size,
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
        *_strides(n, c * kh * kw, oh * ow, batched_columns),
    )
    return image
