"""Geometry of 2-D sliding windows (convolution, im2col, pooling) and the causal mask, PyTorch's sizes."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError, ShapeError

__all__ = [
    "ntuple",
    "conv_geometry",
    "col2im_geometry",
    "unbatch_columns",
    "pool_geometry",
    "avg_pool_divisor",
    "causal_mask",
]

Array = Any


def ntuple(value: Any, n: int, what: str) -> tuple[int, ...]:
    """``value`` as ``n`` ints: an int repeated ``n`` times, or a sequence of ``n`` ints (PyTorch's
    ``_ntuple(n)``, ``_pair`` for ``n = 2``, with its length and types checked). ``what`` names the
    argument in the ValueError, e.g. ``"conv2d stride"``."""
    values = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != n or not all(isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"{what}: expected an int or {n} ints, got {value!r}")
    return tuple(int(v) for v in values)


def conv_geometry(op: str, shape: tuple[int, ...], kernel_size, stride, padding, dilation) -> tuple:
    """``(n, c, kernel, stride, padding, dilation, out)`` of a 2-D sliding window; pairs are (h, w)."""
    if len(shape) != 4:
        raise ShapeError(f"{op}: input must be [N, C, H, W], got shape {tuple(shape)}")
    kernel, step, pad, dil = (
        ntuple(v, 2, f"{op} {name}")
        for name, v in (("kernel_size", kernel_size), ("stride", stride), ("padding", padding), ("dilation", dilation))
    )
    if min(kernel + step + dil) < 1 or min(pad) < 0:
        raise ValueError(f"{op}: kernel_size, stride, dilation must be positive and padding non-negative")
    out = tuple(
        (size + 2 * p - d * (k - 1) - 1) // s + 1 for size, k, s, p, d in zip(shape[2:], kernel, step, pad, dil)
    )
    if min(out) < 1:
        raise ShapeError(
            f"{op}: input {tuple(shape)} is too small for kernel {kernel} with padding {pad}, dilation {dil}"
        )
    return shape[0], shape[1], kernel, step, pad, dil, out


def col2im_geometry(op: str, cols_shape: tuple[int, ...], output_size, kernel_size, stride, padding, dilation) -> tuple:
    """:func:`conv_geometry` of the image that columns ``[N, C*kh*kw, L]`` fold back into; checks ``L``."""
    height, width = ntuple(output_size, 2, f"{op} output_size")
    if len(cols_shape) != 3:
        raise ShapeError(f"{op}: cols must be [N, C*kh*kw, L], got shape {tuple(cols_shape)}")
    kh, kw = ntuple(kernel_size, 2, f"{op} kernel_size")
    if kh < 1 or kw < 1 or cols_shape[1] % (kh * kw):
        raise ShapeError(f"{op}: cols dim 1 ({cols_shape[1]}) is not a multiple of kh*kw = {kh * kw}")
    geometry = conv_geometry(
        op, (cols_shape[0], cols_shape[1] // (kh * kw), height, width), kernel_size, stride, padding, dilation
    )
    oh, ow = geometry[-1]
    if cols_shape[2] != oh * ow:
        raise ShapeError(f"{op}: cols has L = {cols_shape[2]} blocks but output_size {(height, width)} gives {oh}*{ow}")
    return geometry


def unbatch_columns(
    op: str, cols_shape: tuple[int, ...], output_size, kernel_size, stride, padding, dilation
) -> tuple[int, int, int]:
    """``(N, C*kh*kw, L)``: the per-image shape of batched columns ``[C*kh*kw, N*L]``."""
    if len(cols_shape) != 2:
        raise ShapeError(f"{op}: batched columns must be [C*kh*kw, N*L], got shape {tuple(cols_shape)}")
    oh, ow = conv_geometry(
        op, (1, 1, *ntuple(output_size, 2, f"{op} output_size")), kernel_size, stride, padding, dilation
    )[-1]
    if oh * ow == 0 or cols_shape[1] % (oh * ow):
        raise ShapeError(f"{op}: batched columns have {cols_shape[1]} columns, not a multiple of L = {oh}*{ow}")
    return cols_shape[1] // (oh * ow), cols_shape[0], oh * ow


def pool_geometry(
    op: str, shape: tuple[int, ...], dtype: Any, kernel_size, stride, padding, dilation, ceil_mode: bool
) -> tuple:
    """``(n, c, (H, W), kernel, stride, padding, dilation, out)`` of 2-D pooling, PyTorch's sizes."""
    if len(shape) != 4:
        raise ShapeError(f"{op}: input must be [N, C, H, W], got shape {tuple(shape)}")
    if np.dtype(dtype).kind != "f" and np.dtype(dtype).name != "bfloat16":
        raise DTypeError(f"{op}: needs a floating dtype, got {dtype}")
    kernel = ntuple(kernel_size, 2, f"{op} kernel_size")
    step = ntuple(stride if stride is not None and stride != () else kernel_size, 2, f"{op} stride")
    pad, dil = ntuple(padding, 2, f"{op} padding"), ntuple(dilation, 2, f"{op} dilation")
    if min(kernel + step + dil) < 1 or min(pad) < 0:
        raise ValueError(f"{op}: kernel_size, stride, dilation must be positive and padding non-negative")
    if any(2 * p > (k - 1) * d + 1 for k, p, d in zip(kernel, pad, dil)):
        raise ValueError(f"{op}: padding {pad} must be at most half the kernel {kernel}")
    out = []
    for size, k, s, p, d in zip(shape[2:], kernel, step, pad, dil):
        span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
        length = span // s + 1
        if ceil_mode and (length - 1) * s >= size + p:
            length -= 1
        out.append(length)
    if min(out) < 1:
        raise ShapeError(f"{op}: input {tuple(shape)} is too small for kernel {kernel} with padding {pad}")
    return shape[0], shape[1], tuple(shape[2:]), kernel, step, pad, dil, tuple(out)


def avg_pool_divisor(pool: tuple, count_include_pad: bool, divisor_override: int | None) -> np.ndarray:
    """The host ``[oh, ow]`` array of what each average-pooling window divides by (PyTorch's rule)."""
    _, _, (height, width), (kh, kw), (sh, sw), (ph, pw), _, (oh, ow) = pool
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must be non-zero")
        return np.full((oh, ow), float(divisor_override))
    sizes = []
    for size, k, s, p, length in ((height, kh, sh, ph, oh), (width, kw, sw, pw, ow)):
        start = np.arange(length) * s - p
        stop = np.minimum(start + k, size + p)
        if count_include_pad:
            sizes.append(stop - start)
        else:
            sizes.append(np.minimum(stop, size) - np.maximum(start, 0))
    return (sizes[0][:, None] * sizes[1][None, :]).astype(np.float64)


def causal_mask(xp: Any, shape: tuple[int, ...], dim: int, op: str) -> Array:
    """Boolean ``[q, k]`` mask, True where key ``j <= i + (k - q)``; checks the causal layout."""
    if len(shape) < 2 or dim not in (-1, len(shape) - 1):
        raise ShapeError(
            f"{op}: causal=True needs scores [..., q, k] reduced over the last dim, "
            f"got shape {tuple(shape)} and dim={dim}"
        )
    q, k = shape[-2], shape[-1]
    if k < q:
        raise ShapeError(f"{op}: causal=True needs at least as many keys as queries, got q={q}, k={k}")
    return xp.arange(k)[None, :] <= xp.arange(q)[:, None] + (k - q)
