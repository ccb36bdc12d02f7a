"""2-D max and average pooling, forward and backward, with PyTorch's window and padding rules.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/pooling.py`` with the kernels of ``kernels/pooling.py``.
"""

from __future__ import annotations

from typing import Any

from ...errors import ShapeError
from ..checks import check_max_pool_backward
from ..geometry import avg_pool_divisor, pool_geometry
from ..numerics import upcast

__all__ = ["PoolingReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class PoolingReference:
    """Reference pooling ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def max_pool2d(
        self,
        x: Array,
        kernel_size: Pair,
        stride: Pair | None = None,
        padding: Pair = 0,
        dilation: Pair = 1,
        ceil_mode: bool = False,
    ) -> tuple[Array, Array]:
        """Max pooling of ``x [N, C, H, W]``: ``(out [N, C, oh, ow], indices [N, C, oh, ow])``.

        ``indices`` are int64 positions ``h * W + w`` in each input plane (as PyTorch's
        ``return_indices``); padding never wins (a window of ``-inf`` points at its first position
        inside the image, or at -1 if it has none); NaN wins, the last NaN in the window (as
        PyTorch's kernels: a NaN replaces anything, even an earlier NaN).
        ``stride`` defaults to ``kernel_size``; ``padding`` must be at most half the kernel.
        """
        pool = pool_geometry("max_pool2d", x.shape, x.dtype, kernel_size, stride, padding, dilation, ceil_mode)
        xp = self.xp
        n, c, (height, width), (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = pool
        windows, _ = _pool_windows(xp, x, pool, -xp.inf)
        # One vectorised pass per window offset (kh*kw of them) over output-sized arrays: far
        # cheaper than an argmax along a strided 6-d view. Strict ">" keeps the first maximum;
        # every NaN replaces what came before, so the last NaN wins.
        out = windows[..., 0, 0].copy()
        position = xp.zeros(out.shape, dtype=xp.int64)
        for offset in range(1, kh * kw):
            candidate = windows[..., offset // kw, offset % kw]
            better = (candidate > out) | (candidate != candidate)
            xp.copyto(out, candidate, where=better)
            xp.copyto(position, offset, where=better)
        ki, kj = position // kw, position % kw
        top, left = xp.arange(oh).reshape(oh, 1) * sh - ph, xp.arange(ow).reshape(1, ow) * sw - pw
        indices = ((top + ki * dh) * width + left + kj * dw).astype(xp.int64)
        # Nothing beat offset (0, 0) of a -inf window, and it may lie in the padding, where
        # h * W + w names another pixel: point at the window's first position inside instead.
        first_row, first_col = _first_inside(xp, top, height, kh, dh), _first_inside(xp, left, width, kw, dw)
        first = xp.where((first_row >= 0) & (first_col >= 0), first_row * width + first_col, -1)
        return out.astype(x.dtype, copy=False), xp.where(out == -xp.inf, first, indices).astype(xp.int64)

    def max_pool2d_backward(self, grad: Array, indices: Array, input_shape: tuple[int, ...]) -> Array:
        """``dx [N, C, H, W]``: ``grad [N, C, oh, ow]`` summed into the positions ``indices`` name."""
        check_max_pool_backward(grad, indices, input_shape)
        xp = self.xp
        n, c, height, width = input_shape
        plane = height * width
        offsets = (xp.arange(n * c, dtype=xp.int64) * plane).reshape(n, c, 1, 1)
        # -1 (a window with nothing inside) has no pixel to take its gradient.
        inside = (indices >= 0) & (indices < plane)
        total = xp.bincount(
            xp.where(inside, indices + offsets, 0).ravel(),
            weights=xp.where(inside, grad.astype(xp.float64), 0).ravel(),
            minlength=n * c * plane,
        )
        return total.reshape(input_shape).astype(grad.dtype)

    def avg_pool2d(
        self,
        x: Array,
        kernel_size: Pair,
        stride: Pair | None = None,
        padding: Pair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> Array:
        """Average pooling of ``x [N, C, H, W]`` into ``[N, C, oh, ow]`` (``torch.nn.functional.avg_pool2d``)."""
        pool = pool_geometry("avg_pool2d", x.shape, x.dtype, kernel_size, stride, padding, 1, ceil_mode)
        xp = self.xp
        n, c, _, (kh, kw), _, _, _, (oh, ow) = pool
        windows, _ = _pool_windows(xp, upcast(xp, x), pool, 0)
        divisor = xp.asarray(avg_pool_divisor(pool, count_include_pad, divisor_override), dtype=windows.dtype)
        return (windows.sum(axis=(4, 5)) / divisor).astype(x.dtype, copy=False)

    def avg_pool2d_backward(
        self,
        grad: Array,
        input_shape: tuple[int, ...],
        kernel_size: Pair,
        stride: Pair | None = None,
        padding: Pair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> Array:
        """``dx [N, C, H, W]`` of :meth:`avg_pool2d` given ``grad [N, C, oh, ow]``."""
        xp = self.xp
        pool = pool_geometry(
            "avg_pool2d_backward", tuple(input_shape), grad.dtype, kernel_size, stride, padding, 1, ceil_mode
        )
        n, c, (height, width), (kh, kw), (sh, sw), (ph, pw), _, (oh, ow) = pool
        if tuple(grad.shape) != (n, c, oh, ow):
            raise ShapeError(f"avg_pool2d_backward: grad has shape {tuple(grad.shape)}, expected {(n, c, oh, ow)}")
        divisor = xp.asarray(avg_pool_divisor(pool, count_include_pad, divisor_override))
        share = upcast(xp, grad) / divisor.astype(upcast(xp, grad).dtype)
        padded_h, padded_w = max(height + 2 * ph, (oh - 1) * sh + kh), max(width + 2 * pw, (ow - 1) * sw + kw)
        padded = xp.zeros((n, c, padded_h, padded_w), dtype=share.dtype)
        for ki in range(kh):
            for kj in range(kw):
                padded[:, :, ki : ki + sh * (oh - 1) + 1 : sh, kj : kj + sw * (ow - 1) + 1 : sw] += share
        return padded[:, :, ph : ph + height, pw : pw + width].astype(grad.dtype)


def _first_inside(xp: Any, start: Array, size: int, k: int, d: int) -> Array:
    """Per window start, the first of ``start + i*d`` (``i < k``) in ``[0, size)``, or -1."""
    first = xp.where(start < 0, start + (-start + d - 1) // d * d, start)
    return xp.where((first < size) & (first <= start + (k - 1) * d), first, -1)


def _pool_windows(xp: Any, x: Array, pool: tuple, fill: float) -> tuple[Array, Array]:
    n, c, (height, width), (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = pool
    extra_h = max(ph, (oh - 1) * sh + dh * (kh - 1) + 1 - height - ph)
    extra_w = max(pw, (ow - 1) * sw + dw * (kw - 1) + 1 - width - pw)
    padded = xp.pad(x, ((0, 0), (0, 0), (ph, extra_h), (pw, extra_w)), constant_values=fill)
    s0, s1, s2, s3 = padded.strides
    windows = xp.lib.stride_tricks.as_strided(
        padded, shape=(n, c, oh, ow, kh, kw), strides=(s0, s1, s2 * sh, s3 * sw, s2 * dh, s3 * dw)
    )
    return windows, padded
