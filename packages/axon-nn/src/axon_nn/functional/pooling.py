"""Pooling: max/avg over sliding windows (1-d and 2-d) and adaptive avg/max (2-d).

2-d max/avg pooling call the backend's fused ops (our CUDA kernels on cuda and cuda-sim). The
1-d and adaptive variants are written here with ``xp``: every channel pools on its own, so
inputs ``[N, C, *spatial]`` or unbatched ``[C, *spatial]`` are viewed as one stack of planes
``[1, planes, H, W]`` (1-d: ``H = 1``). Max pooling finds the winning positions without
tracking gradients, then gathers them with :class:`TakeFlatFunction`, whose backward scatters
into those positions; the indices it returns are flat positions in each input plane, as in
PyTorch. Every pooling is linear in its input for fixed windows, so its backward is
differentiable again (:func:`~._twice.linear_backward`): the gradient of the gradient is the
pooling itself, as PyTorch's.
"""

from __future__ import annotations

import math
from typing import Any

from axon_autograd import Function
from axon_core import DTypeError, ShapeError

from ._twice import linear_backward
from ._util import check_positive, out_like, pair, saved, scatter_add, tensor_of, xp_of
from ._window import col2im, im2col, output_size

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
]


class TakeFlatFunction(Function):
    """``x [*lead, *spatial]``, ``index [*lead, *out_spatial]`` (flat positions in each plane) ->
    ``[*lead, *out_spatial]``."""

    @staticmethod
    def forward(ctx, x, index, spatial):
        xp, data = xp_of(x), x.array
        rows = math.prod(data.shape[: data.ndim - spatial])
        # Explicit sizes: -1 is ambiguous for an empty batch.
        plane, out_plane = math.prod(data.shape[data.ndim - spatial :]), math.prod(index.shape[index.ndim - spatial :])
        planes = xp.ascontiguousarray(data).reshape(rows, plane)
        picked = xp.take_along_axis(planes, index.array.reshape(rows, out_plane), axis=1)
        ctx.save_for_backward(index)
        ctx.in_shape, ctx.rows, ctx.plane, ctx.out_plane, ctx.spatial = data.shape, rows, plane, out_plane, spatial
        return out_like(picked.reshape(index.shape), x)

    @staticmethod
    @linear_backward(lambda ctx: _take_again(ctx))
    def backward(ctx, grad):
        (index,) = saved(ctx)
        xp = xp_of(grad)
        positions = index.array.reshape(ctx.rows, ctx.out_plane) + (xp.arange(ctx.rows) * ctx.plane)[:, None]
        summed = scatter_add(xp, ctx.rows * ctx.plane, positions, grad.array.reshape(ctx.rows, ctx.out_plane))
        return out_like(summed.reshape(ctx.in_shape), grad), None, None


def _take_again(ctx: Any) -> Any:
    """The gather once more, on ``u``, at the same positions."""
    (index,) = saved(ctx)
    return lambda u: TakeFlatFunction.apply(u, index, ctx.spatial)


def _pool2d_again(ctx: Any) -> Any:
    """The pooling once more, on ``u``: max pooling gathers at the same winning positions."""
    if ctx.kind == "max":
        index = out_like(ctx.indices.reshape(ctx.out_shape), ctx.like)
        return lambda u: TakeFlatFunction.apply(u, index, 2)
    return lambda u: Pool2dFunction.apply(u, "avg", ctx.options)


class Pool2dFunction(Function):
    """2-d max or average pooling through the backend's fused ops (our kernels on CUDA).

    ``x [N, C, H, W]`` or ``[C, H, W]``; ``options`` are the backend op's keyword arguments.
    Max pooling returns ``(out, indices)`` (indices: flat positions in each plane).
    """

    @staticmethod
    def forward(ctx, x, kind, options):
        backend, data = x.backend, x.array
        batched = data if data.ndim == 4 else data[None]
        ctx.kind, ctx.options, ctx.shapes = kind, options, (data.shape, batched.shape)
        if kind == "max":
            out, indices = backend.max_pool2d(batched, **options)
            ctx.indices = indices
            shape = out.shape if data.ndim == 4 else out.shape[1:]
            ctx.out_shape, ctx.like = shape, x
            return out_like(out.reshape(shape), x), out_like(indices.reshape(shape), x)
        out = backend.avg_pool2d(batched, **options)
        return out_like(out if data.ndim == 4 else out[0], x)

    @staticmethod
    @linear_backward(_pool2d_again)
    def backward(ctx, grad, *unused):
        backend = grad.backend
        in_shape, batched_shape = ctx.shapes
        g = grad.array.reshape((batched_shape[0],) + tuple(grad.shape[-3:]))
        if ctx.kind == "max":
            dx = backend.max_pool2d_backward(g, ctx.indices, batched_shape)
        else:
            dx = backend.avg_pool2d_backward(g, batched_shape, **ctx.options)
        return out_like(dx.reshape(in_shape), grad), None, None


class AvgPoolFunction(Function):
    """Window sums of ``x [*lead, *spatial]`` (``spatial`` 1 or 2 dims) divided by ``divisor [Ho, Wo]``.

    ``pads`` is ``((top, bottom), (left, right))`` of zeros, in the 2-d view of the planes.
    """

    @staticmethod
    def forward(ctx, x, spatial, kernel, stride, pads, divisor):
        xp, data = xp_of(x), x.array
        padded = xp.pad(_as_planes(data, spatial), ((0, 0), (0, 0), pads[0], pads[1]))
        out_hw = divisor.shape
        out = im2col(xp, padded, kernel, stride, (1, 1), out_hw).sum(axis=(1, 2))[:, 0] / divisor
        ctx.geometry = (padded.shape, kernel, stride, pads, data.shape)
        ctx.divisor, ctx.args = divisor, (spatial, kernel, stride, pads, divisor)
        return out_like(out.astype(data.dtype, copy=False).reshape(_pooled_shape(data.shape, spatial, out_hw)), x)

    @staticmethod
    @linear_backward(lambda ctx: lambda u: AvgPoolFunction.apply(u, *ctx.args))
    def backward(ctx, grad):
        xp = xp_of(grad)
        padded_shape, kernel, stride, pads, in_shape = ctx.geometry
        out_hw = ctx.divisor.shape
        share = (grad.array.reshape(-1, *out_hw) / ctx.divisor).astype(grad.array.dtype, copy=False)
        cols = xp.broadcast_to(share[:, None, None, None], (share.shape[0], kernel[0], kernel[1], 1, *out_hw))
        g_padded = col2im(xp, cols, padded_shape, stride, (1, 1))
        hp, wp = padded_shape[-2:]
        gx = g_padded[:, :, pads[0][0] : hp - pads[0][1], pads[1][0] : wp - pads[1][1]]
        return out_like(xp.ascontiguousarray(gx).reshape(in_shape), grad), None, None, None, None, None


def _pooled_shape(shape: tuple[int, ...], spatial: int, out_hw: tuple[int, int]) -> tuple[int, ...]:
    return tuple(shape[:-spatial]) + (tuple(out_hw) if spatial == 2 else (out_hw[1],))


class AdaptiveAvgPoolFunction(Function):
    """``x [*lead, H, W]`` -> ``rows [Ho, H] @ x @ cols[Wo, W]ᵀ``, each row of the matrices averaging one window."""

    @staticmethod
    def forward(ctx, x, row_matrix, col_matrix):
        ctx.matrices = (row_matrix, col_matrix)
        return out_like(row_matrix @ x.array @ col_matrix.T, x)

    @staticmethod
    @linear_backward(lambda ctx: lambda u: AdaptiveAvgPoolFunction.apply(u, *ctx.matrices))
    def backward(ctx, grad):
        row_matrix, col_matrix = ctx.matrices
        return out_like(row_matrix.T @ grad.array @ col_matrix, grad), None, None


def _check_pool_input(op: str, input: Any, spatial: int, integers: bool = False) -> None:
    """Rank and dtype checks; ``integers``: max pooling takes integer inputs too, as PyTorch's."""
    if len(input.shape) not in (spatial + 1, spatial + 2):
        raise ShapeError(f"{op}: expected a {spatial + 1}-d or {spatial + 2}-d input, got shape {tuple(input.shape)}")
    dtype = input.dtype
    if not (dtype.is_floating_point or (integers and not dtype.is_bool and not dtype.is_complex)):
        kinds = "a floating-point or integer" if integers else "a floating-point"
        raise DTypeError(f"{op}: expected {kinds} input, got {dtype}")


def _window_geometry(
    op: str,
    shape: tuple[int, ...],
    spatial: int,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
):
    """Kernel, stride, dilation, pads ((lo, hi) per axis, hi covering ceil-mode windows) and output size, all 2-d."""
    kernel = pair(kernel_size, spatial, f"{op} kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else pair(stride, spatial, f"{op} stride")
    padding, dilation = pair(padding, spatial, f"{op} padding"), pair(dilation, spatial, f"{op} dilation")
    check_positive(op, "kernel_size", kernel)
    check_positive(op, "stride", stride)
    check_positive(op, "dilation", dilation)
    check_positive(op, "padding", padding, low=0)
    for k, p in zip(kernel, padding):
        if p > k // 2:
            raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    sizes = shape[-spatial:]
    outs, pads = [], []
    for length, k, s, p, d in zip(sizes, kernel, stride, padding, dilation):
        n = output_size(length, k, s, 2 * p, d, ceil_mode, pad_lo=p)
        if n <= 0:
            raise ShapeError(
                f"{op}: input of shape {tuple(shape)} is too small for kernel {kernel}, padding {padding}, "
                f"dilation {dilation}"
            )
        outs.append(n)
        needed = (n - 1) * s + d * (k - 1) + 1
        pads.append((p, max(needed - length - p, p)))
    if spatial == 1:
        return (1, kernel[0]), (1, stride[0]), (1, dilation[0]), ((0, 0), pads[0]), (1, outs[0]), padding
    return kernel, stride, dilation, tuple(pads), tuple(outs), padding


def _as_planes(data: Any, spatial: int) -> Any:
    h, w = (1, data.shape[-1]) if spatial == 1 else data.shape[-2:]
    return data.reshape(1, -1, h, w)


def _max_pool(
    op: str,
    input: Any,
    spatial: int,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
) -> Any:
    _check_pool_input(op, input, spatial, integers=True)
    x = tensor_of(input)
    xp = xp_of(x)
    kernel, stride_, dilation_, pads, out_hw, padding_ = _window_geometry(
        op, tuple(input.shape), spatial, kernel_size, stride, padding, dilation, ceil_mode
    )
    floating = input.dtype.is_floating_point
    if spatial == 2 and floating:
        options = {
            "kernel_size": kernel,
            "stride": stride_,
            "padding": padding_,
            "dilation": dilation_,
            "ceil_mode": ceil_mode,
        }
        out, index = Pool2dFunction.apply(input, "max", options)
        return (out, index.data) if return_indices else out
    planes = _as_planes(x.array, spatial)
    h, w = planes.shape[-2:]
    lowest = -xp.inf if floating else xp.iinfo(planes.dtype).min
    padded = xp.pad(planes, ((0, 0), (0, 0), pads[0], pads[1]), constant_values=lowest)
    cols = im2col(xp, padded, kernel, stride_, dilation_, out_hw).reshape(
        planes.shape[1], kernel[0] * kernel[1], *out_hw
    )
    best = xp.argmax(cols, axis=1)
    row = xp.arange(out_hw[0])[:, None] * stride_[0] - pads[0][0] + (best // kernel[1]) * dilation_[0]
    col = xp.arange(out_hw[1])[None, :] * stride_[1] - pads[1][0] + (best % kernel[1]) * dilation_[1]
    out_shape = _pooled_shape(tuple(input.shape), spatial, out_hw)
    index = out_like((row * w + col).astype(xp.int64).reshape(out_shape), x)
    out = TakeFlatFunction.apply(input, index, spatial)
    return (out, index) if return_indices else out


def _avg_pool(
    op: str,
    input: Any,
    spatial: int,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Any:
    _check_pool_input(op, input, spatial)
    xp = xp_of(tensor_of(input))
    kernel, stride_, _, pads, out_hw, padding_ = _window_geometry(
        op, tuple(input.shape), spatial, kernel_size, stride, padding, 1, ceil_mode
    )
    if spatial == 2:
        options = {
            "kernel_size": kernel,
            "stride": stride_,
            "padding": padding_,
            "ceil_mode": ceil_mode,
            "count_include_pad": count_include_pad,
            "divisor_override": divisor_override,
        }
        return Pool2dFunction.apply(input, "avg", options)
    h, w = 1, input.shape[-1]
    if divisor_override is not None:
        if divisor_override <= 0:
            raise ValueError(f"{op}: divisor_override must be positive, got {divisor_override}")
        divisor = xp.full(out_hw, float(divisor_override), dtype=input.dtype.np)
    else:
        # Count, per window, the positions that take part in the mean: the input plus (with
        # count_include_pad) its symmetric padding, never the extra ceil-mode overhang.
        counted = xp.zeros((1, 1, h + sum(pads[0]), w + sum(pads[1])), dtype=input.dtype.np)
        grow_h = grow_w = 0
        if count_include_pad:
            grow_h, grow_w = 0, padding_[-1]
        counted[..., pads[0][0] - grow_h : pads[0][0] + h + grow_h, pads[1][0] - grow_w : pads[1][0] + w + grow_w] = 1
        divisor = im2col(xp, counted, kernel, stride_, (1, 1), out_hw).sum(axis=(1, 2))[0, 0]
    return AvgPoolFunction.apply(input, spatial, kernel, stride_, pads, divisor)


def _adaptive_windows(length: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows: ``[floor(i * L / O), ceil((i + 1) * L / O))``."""
    return [((i * length) // out, -(-((i + 1) * length) // out)) for i in range(out)]


def _adaptive_sizes(op: str, input: Any, output_size: Any) -> tuple[int, int]:
    if len(input.shape) not in (3, 4):
        raise ShapeError(f"{op}: expected a 3-d or 4-d input, got shape {tuple(input.shape)}")
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    resolved = tuple(input.shape[-2 + k] if s is None else int(s) for k, s in enumerate(sizes))
    if any(s <= 0 for s in resolved) or any(n == 0 for n in input.shape[-2:]):
        raise ShapeError(f"{op}: cannot pool input of shape {tuple(input.shape)} to {resolved}")
    return resolved


def max_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Window maxima of ``input [N, C, L]`` (or ``[C, L]``) -> ``[N, C, Lo]`` (and flat indices into ``L``)."""
    return _max_pool("max_pool1d", input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Window maxima of ``input [N, C, H, W]`` (or ``[C, H, W]``) -> ``[N, C, Ho, Wo]`` (and flat
    indices into ``H * W``)."""
    return _max_pool("max_pool2d", input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Any:
    """Window means of ``input [N, C, L]`` -> ``[N, C, Lo]``."""
    return _avg_pool("avg_pool1d", input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """Window means of ``input [N, C, H, W]`` -> ``[N, C, Ho, Wo]``."""
    return _avg_pool(
        "avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """Means over PyTorch's adaptive windows: ``[N, C, H, W]`` -> ``[N, C, *output_size]`` (None keeps a size)."""
    out_h, out_w = _adaptive_sizes("adaptive_avg_pool2d", input, output_size)
    x = tensor_of(input)
    xp, dtype = xp_of(x), input.dtype.np
    h, w = input.shape[-2:]
    matrices = []
    for length, out in ((h, out_h), (w, out_w)):
        matrix = xp.zeros((out, length), dtype=dtype)
        for i, (lo, hi) in enumerate(_adaptive_windows(length, out)):
            matrix[i, lo:hi] = 1.0 / (hi - lo)
        matrices.append(matrix)
    return AdaptiveAvgPoolFunction.apply(input, *matrices)


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Maxima over PyTorch's adaptive windows: ``[N, C, H, W]`` -> ``[N, C, *output_size]`` (and flat indices)."""
    out_h, out_w = _adaptive_sizes("adaptive_max_pool2d", input, output_size)
    x = tensor_of(input)
    xp = xp_of(x)
    h, w = input.shape[-2:]
    planes = x.array.reshape(-1, h, w)
    index = xp.empty((planes.shape[0], out_h, out_w), dtype=xp.int64)
    for i, (top, bottom) in enumerate(_adaptive_windows(h, out_h)):
        for j, (left, right) in enumerate(_adaptive_windows(w, out_w)):
            # An explicit size: -1 is ambiguous for an empty batch.
            window = planes[:, top:bottom, left:right].reshape(planes.shape[0], (bottom - top) * (right - left))
            best = xp.argmax(window, axis=1)
            index[:, i, j] = (top + best // (right - left)) * w + left + best % (right - left)
    index_t = out_like(index.reshape(*input.shape[:-2], out_h, out_w), x)
    out = TakeFlatFunction.apply(input, index_t, 2)
    return (out, index_t) if return_indices else out
