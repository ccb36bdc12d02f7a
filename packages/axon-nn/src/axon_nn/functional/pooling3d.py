"""``max_pool3d`` / ``avg_pool3d`` over ``[N, C, D, H, W]``: the 2-d poolings, combined along depth.

Depth windows are walked one kernel offset at a time: for offset ``k`` the planes that offset
meets (one per output depth, folded into the batch) are pooled in 2-d, then the offsets are
combined (maximum, or a sum over the depth divisor). All recorded ops, so gradients follow.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from axon_core import ShapeError
from axon_tensor import tensor

from ._util import check_positive, pair
from ._window import output_size
from .padding import pad
from .pooling import avg_pool2d, max_pool2d

__all__ = ["max_pool3d", "avg_pool3d"]


def _depth_geometry(op: str, input: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool):
    if len(input.shape) not in (4, 5):
        raise ShapeError(f"{op}: expected a 4-d or 5-d input, got shape {tuple(input.shape)}")
    kernel = pair(kernel_size, 3, f"{op} kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else pair(stride, 3, f"{op} stride")
    padding, dilation = pair(padding, 3, f"{op} padding"), pair(dilation, 3, f"{op} dilation")
    check_positive(op, "kernel_size", kernel)
    check_positive(op, "stride", stride)
    check_positive(op, "dilation", dilation)
    check_positive(op, "padding", padding, low=0)
    if any(p > k // 2 for k, p in zip(kernel, padding)):
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    depth = input.shape[-3]
    out_depth = output_size(depth, kernel[0], stride[0], 2 * padding[0], dilation[0], ceil_mode, pad_lo=padding[0])
    if out_depth <= 0:
        raise ShapeError(f"{op}: input of shape {tuple(input.shape)} is too small for kernel {kernel}")
    # High-side padding covering ceil-mode windows that overhang the input.
    needed = (out_depth - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1
    high = max(needed - depth - padding[0], padding[0])
    return kernel, stride, padding, dilation, out_depth, high


def _planes(x: Any, start: int, count: int, step: int) -> Any:
    """``[N, C, D, H, W]`` -> the ``count`` planes from ``start`` every ``step``, as ``[N * count, C, H, W]``."""
    n, c = x.shape[0], x.shape[1]
    picked = x[:, :, start : start + (count - 1) * step + 1 : step]
    return picked.movedim(2, 1).reshape(n * count, c, *x.shape[3:])


def _unflatten(y: Any, n: int, count: int) -> Any:
    return y.reshape(n, count, *y.shape[1:]).movedim(1, 2)


def max_pool3d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Window maxima of ``input [N, C, D, H, W]`` (or ``[C, D, H, W]``) -> ``[N, C, Do, Ho, Wo]``.

    ``return_indices`` is not supported in 3-d (True raises a ValueError)."""
    op = "max_pool3d"
    if return_indices:
        raise ValueError(f"{op}: return_indices=True is not supported by axon")
    batched = len(input.shape) == 5
    x = input if batched else input.unsqueeze(0)
    kernel, stride, padding, dilation, out_depth, high = _depth_geometry(
        op, x, kernel_size, stride, padding, dilation, ceil_mode
    )
    lowest = -math.inf if x.dtype.is_floating_point else int(np.iinfo(x.dtype.np).min)
    if padding[0] or high:
        x = pad(x, (0, 0, 0, 0, padding[0], high), value=lowest)
    n = x.shape[0]
    result = None
    for k in range(kernel[0]):
        planes = _planes(x, k * dilation[0], out_depth, stride[0])
        pooled = max_pool2d(planes, kernel[1:], stride[1:], padding[1:], dilation[1:], ceil_mode)
        result = pooled if result is None else result.maximum(pooled)
    out = _unflatten(result, n, out_depth)
    return out if batched else out.squeeze(0)


def avg_pool3d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """Window means of ``input [N, C, D, H, W]`` (or ``[C, D, H, W]``) -> ``[N, C, Do, Ho, Wo]``."""
    op = "avg_pool3d"
    batched = len(input.shape) == 5
    x = input if batched else input.unsqueeze(0)
    kernel, stride, padding, _, out_depth, high = _depth_geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override <= 0:
        raise ValueError(f"{op}: divisor_override must be positive, got {divisor_override}")
    depth = x.shape[2]
    if padding[0] or high:
        x = pad(x, (0, 0, 0, 0, padding[0], high))
    n = x.shape[0]
    # Each 2-d pooling gives window sums when divided by nothing: divisor_override=1.
    total = None
    for k in range(kernel[0]):
        planes = _planes(x, k, out_depth, stride[0])
        sums = avg_pool2d(planes, kernel[1:], stride[1:], padding[1:], ceil_mode, count_include_pad, 1)
        total = sums if total is None else total + sums
    out = _unflatten(total, n, out_depth)
    if divisor_override is not None:
        out = out / float(divisor_override)
    else:
        out = out / tensor(
            _divisor(x.shape, depth, kernel, stride, padding, ceil_mode, count_include_pad, out), device=x.device
        )
    return out if batched else out.squeeze(0)


def _divisor(padded_shape, depth, kernel, stride, padding, ceil_mode, count_include_pad, out) -> np.ndarray:
    """PyTorch's per-window element count ``[Do, Ho, Wo]``: windows clipped to the padded input (with
    ``count_include_pad``) or to the input itself, separable per axis."""
    sizes = (depth,) + tuple(padded_shape[3:])
    counts = []
    for length, k, s, p, n_out in zip(sizes, kernel, stride, padding, out.shape[2:]):
        start = np.arange(n_out) * s - p
        end = np.minimum(start + k, length + p)
        if count_include_pad:
            counted = end - start
        else:
            counted = np.minimum(end, length) - np.maximum(start, 0)
        counts.append(counted.astype(np.float64))
    grid = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
    return grid.astype(np.dtype(str(out.dtype.np)) if out.dtype.np.kind == "f" else np.float32)
