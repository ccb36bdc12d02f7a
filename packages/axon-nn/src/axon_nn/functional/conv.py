"""Convolutions: ``conv1d``, ``conv2d`` and ``conv_transpose2d`` on the backend's im2col / col2im.

The backend's ``im2col`` (our CUDA kernel on cuda and cuda-sim, a Numba kernel on cpu) lays out
the sliding blocks of the whole batch as one matrix ``[C*kh*kw, N*L]`` (``batched_columns``), so
each product of a convolution is a single GEMM per group over the whole batch rather than ``N``
small ones: ``weight [G, O/G, C/G*kh*kw] @ cols [G, C/G*kh*kw, N*L]``. The channel-major result
``[O, N*L]`` is transposed to ``[N, O, Ho, Wo]`` once. ``col2im`` is im2col's adjoint and serves
the input gradient and the transposed convolution. 1-d convolutions run as 2-d ones over a
height of 1.
"""

from __future__ import annotations

import math
from typing import Any

from axon_autograd import Function, once_differentiable
from axon_core import DeviceError, ShapeError

from ._twice import graph_backward, wants_graph
from ._util import check_positive, out_like, pair, xp_of
from .padding import pad

__all__ = ["conv1d", "conv2d", "conv_transpose2d"]


def _channel_major(xp: Any, a: Any, groups: int) -> Any:
    """``a [N, C, *spatial]`` as ``[G, C/G, N*S]`` (one transposing copy)."""
    n, c, size = a.shape[0], a.shape[1], math.prod(a.shape[2:])
    return xp.ascontiguousarray(a.reshape(n, c, size).transpose(1, 0, 2)).reshape(groups, c // groups, n * size)


def _batch_major(xp: Any, a: Any, shape: tuple[int, ...], bias: Any = None) -> Any:
    """Channel-major ``a`` (``[C, N*S]`` in any split) as ``[N, C, *spatial]`` = ``shape``, plus
    ``bias [C]`` if given, in one pass."""
    n, c, size = shape[0], shape[1], math.prod(shape[2:])
    out = xp.empty((n, c, size), dtype=a.dtype)
    source = a.reshape(c, n, size).transpose(1, 0, 2)
    if bias is None:
        out[...] = source
    else:
        xp.add(source, bias.reshape(1, c, 1), out=out)
    return out.reshape(shape)


def _split_pads(xp: Any, x: Any, pads: tuple[tuple[int, int], tuple[int, int]]) -> tuple[Any, tuple[int, int]]:
    """``x`` padded by the asymmetric part of ``pads`` and the symmetric part the backend pads itself."""
    sym = (min(pads[0]), min(pads[1]))
    extra = tuple((lo - s, hi - s) for (lo, hi), s in zip(pads, sym))
    if any(extra[0] + extra[1]):
        x = xp.pad(x, ((0, 0), (0, 0), extra[0], extra[1]))
    return x, sym


def _window(xp: Any, x: Any, start: tuple[int, int], size: tuple[int, int]) -> Any:
    """``out[..., i, j] = x[..., i + start[0], j + start[1]]`` over ``size``, zeros outside ``x``."""
    lo = tuple(max(0, -s) for s in start)
    hi = tuple(max(0, s + n - length) for s, n, length in zip(start, size, x.shape[2:]))
    if any(lo + hi):
        x = xp.pad(x, ((0, 0), (0, 0), (lo[0], hi[0]), (lo[1], hi[1])))
    top, left = start[0] + lo[0], start[1] + lo[1]
    return x[:, :, top : top + size[0], left : left + size[1]]


def _as_2d(a: Any) -> Any:
    """A 1-d convolution's ``[N, C, L]`` (or weight ``[O, C, k]``) with a height of 1."""
    return a[:, :, None] if a.ndim == 3 else a


def _columns(backend: Any, xp: Any, data: Any, geometry: tuple) -> Any:
    """im2col of ``data [N, C, H, W]`` as ``[G, C/G*kh*kw, N*L]``."""
    _, _, _, stride, pads, dilation, groups, kernel = geometry
    padded, sym = _split_pads(xp, data, pads)
    cols = backend.im2col(padded, kernel, stride, sym, dilation, batched_columns=True)
    return cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])


def _input_gradient(backend: Any, xp: Any, g_mat: Any, w_mat: Any, geometry: tuple, in_shape: tuple) -> Any:
    """The gradient of a convolution for its input ``[*in_shape]``: ``w_matᵀ @ g_mat`` folded by col2im."""
    (h, w), padded_hw, sym, stride, pads, dilation, _, kernel = geometry
    g_cols = backend.matmul(w_mat.transpose(0, 2, 1), g_mat)
    g_cols = g_cols.reshape(g_cols.shape[0] * g_cols.shape[1], g_cols.shape[2])
    g_padded = backend.col2im(g_cols, padded_hw, kernel, stride, sym, dilation, batched_columns=True)
    top, left = pads[0][0] - sym[0], pads[1][0] - sym[1]
    return xp.ascontiguousarray(g_padded[:, :, top : top + h, left : left + w]).reshape(in_shape)


class Conv2dFunction(Function):
    """``x [N, C, H, W]``, ``weight [O, C/groups, kh, kw]``, ``bias [O]`` -> ``[N, O, Ho, Wo]``.

    ``pads`` is ``((top, bottom), (left, right))`` of zeros. 1-d inputs ``[N, C, L]`` with
    weights ``[O, C/groups, k]`` run with a height of 1 and come back 1-d. Under
    ``create_graph`` the backward is :class:`ConvInputGrad` and :class:`ConvWeightGrad`, which
    are differentiable again (through this Function and each other), as PyTorch's.
    """

    fresh_gradients = True  # every gradient is a new product, fold or sum (or a view of one)

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups):
        backend, xp = x.backend, xp_of(x)
        data, w_data = _as_2d(x.array), _as_2d(weight.array)
        ctx.in_shape, ctx.weight_shape = x.array.shape, weight.shape
        n, o, (cg, kh, kw) = data.shape[0], w_data.shape[0], w_data.shape[1:]
        padded, sym = _split_pads(xp, data, pads)
        ctx.geometry = (data.shape[2:], padded.shape[2:], sym, stride, pads, dilation, groups, (kh, kw))
        cols = _columns(backend, xp, data, ctx.geometry)
        w_mat = w_data.reshape(groups, o // groups, cg * kh * kw)
        out_hw = tuple(
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip(padded.shape[2:], sym, dilation, (kh, kw), stride)
        )
        out = _batch_major(xp, backend.matmul(w_mat, cols), (n, o, *out_hw), None if bias is None else bias.array)
        ctx.cols, ctx.w_mat = cols, w_mat
        ctx.options = (stride, pads, dilation, groups)
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, weight)
        return out_like(out[:, :, 0] if len(ctx.in_shape) == 3 else out, x)

    @staticmethod
    def backward(ctx, grad):
        if not wants_graph(ctx, (grad,)):
            return _conv_backward(ctx, grad)
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x = ConvInputGrad.apply(grad, weight, ctx.options, ctx.in_shape) if needs[0] else None
        grad_w = ConvWeightGrad.apply(x, grad, ctx.options, ctx.weight_shape) if needs[1] else None
        grad_b = grad.sum((0,) + tuple(range(2, len(grad.shape)))) if ctx.has_bias and needs[2] else None
        return grad_x, grad_w, grad_b, None, None, None, None


@once_differentiable
def _conv_backward(ctx, grad):
    backend, xp, g = grad.backend, xp_of(grad), grad.array
    groups = ctx.geometry[6]
    g_mat = _channel_major(xp, g, groups)
    needs = ctx.needs_input_grad
    grad_x = grad_w = grad_b = None
    if needs[0]:
        grad_x = out_like(_input_gradient(backend, xp, g_mat, ctx.w_mat, ctx.geometry, ctx.in_shape), grad)
    if needs[1]:
        grad_w = out_like(backend.matmul(g_mat, ctx.cols.transpose(0, 2, 1)).reshape(ctx.weight_shape), grad)
    if ctx.has_bias and needs[2]:
        grad_b = out_like(g_mat.sum(axis=2).reshape(-1), grad)
    return grad_x, grad_w, grad_b, None, None, None, None


def _geometry(x_shape: tuple, options: tuple, kernel: tuple) -> tuple:
    """:class:`Conv2dFunction`'s geometry for an input of ``x_shape`` (1-d seen as 2-d)."""
    stride, pads, dilation, groups = options
    hw = (1,) + tuple(x_shape[2:]) if len(x_shape) == 3 else tuple(x_shape[2:])
    sym = (min(pads[0]), min(pads[1]))
    # As _split_pads: the asymmetric part is padded before im2col, the symmetric part by it.
    padded = tuple(size + lo + hi - 2 * s for size, (lo, hi), s in zip(hw, pads, sym))
    return (hw, padded, sym, stride, pads, dilation, groups, kernel)


class ConvInputGrad(Function):
    """The input gradient of :class:`Conv2dFunction`: ``grad [N, O, *]``, ``weight`` -> ``[*in_shape]``.

    Linear in each argument: its derivative for ``grad`` is the convolution with ``weight``,
    for ``weight`` the weight gradient of the convolution of the incoming ``u`` by ``grad``.
    """

    @staticmethod
    def forward(ctx, grad, weight, options, in_shape):
        backend, xp = grad.backend, xp_of(grad)
        w_data = _as_2d(weight.array)
        o, (cg, kh, kw) = w_data.shape[0], w_data.shape[1:]
        groups = options[3]
        geometry = _geometry(in_shape, options, (kh, kw))
        g_mat = _channel_major(xp, grad.array, groups)
        w_mat = w_data.reshape(groups, o // groups, cg * kh * kw)
        ctx.options, ctx.weight_shape = options, weight.shape
        ctx.save_for_backward(grad, weight)
        return out_like(_input_gradient(backend, xp, g_mat, w_mat, geometry, in_shape), grad)

    @staticmethod
    def backward(ctx, u):
        grad, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_grad = Conv2dFunction.apply(u, weight, None, *ctx.options) if needs[0] else None
        d_weight = ConvWeightGrad.apply(u, grad, ctx.options, ctx.weight_shape) if needs[1] else None
        return d_grad, d_weight, None, None


class ConvWeightGrad(Function):
    """The weight gradient of :class:`Conv2dFunction`: ``x``, ``grad [N, O, *]`` -> ``[*weight_shape]``.

    Its derivative for ``x`` is the input gradient of ``grad`` through the incoming ``v`` as a
    weight, for ``grad`` the convolution of ``x`` with ``v``.
    """

    @staticmethod
    def forward(ctx, x, grad, options, weight_shape):
        backend, xp = x.backend, xp_of(x)
        data = _as_2d(x.array)
        geometry = _geometry(x.array.shape, options, tuple(_kernel(weight_shape)))
        cols = _columns(backend, xp, data, geometry)
        g_mat = _channel_major(xp, grad.array, options[3])
        ctx.options, ctx.in_shape = options, x.array.shape
        ctx.save_for_backward(x, grad)
        return out_like(backend.matmul(g_mat, cols.transpose(0, 2, 1)).reshape(weight_shape), x)

    @staticmethod
    def backward(ctx, v):
        x, grad = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_x = ConvInputGrad.apply(grad, v, ctx.options, ctx.in_shape) if needs[0] else None
        d_grad = Conv2dFunction.apply(x, v, None, *ctx.options) if needs[1] else None
        return d_x, d_grad, None, None


def _kernel(weight_shape: tuple) -> tuple[int, int]:
    return (1, weight_shape[2]) if len(weight_shape) == 3 else (weight_shape[2], weight_shape[3])


def _conv_transpose_composite(ctx, x, weight, bias):
    """:class:`ConvTranspose2dFunction` as the input gradient of a convolution (a Function that
    is differentiable again), folded into the full output and seen through ``padding``."""
    direct, full_hw, _, stride, padding, dilation, groups = ctx.geometry
    n, cout = x.shape[0], weight.shape[1] * groups
    if direct:
        pads = tuple((p, p) for p in padding)
        y = ConvInputGrad.apply(x, weight, (stride, pads, dilation, groups), (n, cout, *ctx.out_hw))
    else:
        y = ConvInputGrad.apply(x, weight, (stride, ((0, 0), (0, 0)), dilation, groups), (n, cout, *full_hw))
        y = _window_variable(y, padding, ctx.out_hw)
    return y if bias is None else y + bias.reshape(1, cout, 1, 1)


def _window_variable(y: Any, start: tuple[int, int], size: tuple[int, int]) -> Any:
    """:func:`_window` (with ``start >= 0``) on a Variable: crop, then zeros past the end."""
    from axon_autograd import cat

    y = y[:, :, start[0] : start[0] + size[0], start[1] : start[1] + size[1]]
    for axis in (2, 3):
        short = size[axis - 2] - y.shape[axis]
        if short > 0:
            shape = list(y.shape)
            shape[axis] = short
            zeros = y.data.backend.xp.zeros(shape, dtype=y.data.array.dtype)
            y = cat([y, _constant(zeros, y)], axis)
    return y


def _constant(array: Any, like: Any) -> Any:
    from axon_autograd.variable import make_variable

    return make_variable(out_like(array, like.data), False, None)


class ConvTranspose2dFunction(Function):
    """``x [N, Cin, H, W]``, ``weight [Cin, Cout/groups, kh, kw]`` -> ``[N, Cout, Ho, Wo]``.

    The adjoint of :class:`Conv2dFunction`: one batched GEMM makes columns and col2im folds
    them into the "full" output (every position a window reaches) seen through ``padding``.
    With ``output_padding < stride`` that view is exactly col2im's geometry; otherwise
    (possible when dilation > stride) the full output is folded and then cropped / zero-extended.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation, groups):
        backend, xp, data = x.backend, xp_of(x), x.array
        n, cin, h, w = data.shape
        _, cout_g, kh, kw = weight.shape
        cout = cout_g * groups
        full_hw = tuple((size - 1) * s + d * (k - 1) + 1 for size, s, d, k in zip((h, w), stride, dilation, (kh, kw)))
        out_hw = tuple(f - 2 * p + extra for f, p, extra in zip(full_hw, padding, output_padding))
        x_mat = _channel_major(xp, data, groups)
        w_mat = weight.array.reshape(groups, cin // groups, cout_g * kh * kw)
        cols = backend.matmul(w_mat.transpose(0, 2, 1), x_mat).reshape(cout * kh * kw, n * h * w)
        direct = all(extra < s for extra, s in zip(output_padding, stride))
        if direct:
            out = backend.col2im(cols, out_hw, (kh, kw), stride, padding, dilation, batched_columns=True)
        else:
            full = backend.col2im(cols, full_hw, (kh, kw), stride, 0, dilation, batched_columns=True)
            out = xp.ascontiguousarray(_window(xp, full, padding, out_hw))
        if bias is not None:
            out += bias.array.reshape(1, cout, 1, 1)
        ctx.x_mat, ctx.w_mat = x_mat, w_mat
        ctx.geometry = (direct, full_hw, (kh, kw), stride, padding, dilation, groups)
        ctx.out_hw = out_hw
        ctx.save_for_backward(x, weight, bias)
        ctx.in_shape, ctx.weight_shape, ctx.has_bias = data.shape, weight.shape, bias is not None
        return out_like(out, x)

    @staticmethod
    @graph_backward(_conv_transpose_composite)
    def backward(ctx, grad):
        backend, xp, g = grad.backend, xp_of(grad), grad.array
        direct, full_hw, kernel, stride, padding, dilation, groups = ctx.geometry
        if direct:
            g_cols = backend.im2col(g, kernel, stride, padding, dilation, batched_columns=True)
        else:
            g_full = _window(xp, g, (-padding[0], -padding[1]), full_hw)
            g_cols = backend.im2col(g_full, kernel, stride, 0, dilation, batched_columns=True)
        g_cols = g_cols.reshape(groups, g_cols.shape[0] // groups, g_cols.shape[1])
        needs = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if needs[0]:
            grad_x = out_like(_batch_major(xp, backend.matmul(ctx.w_mat, g_cols), ctx.in_shape), grad)
        if needs[1]:
            grad_w = out_like(backend.matmul(ctx.x_mat, g_cols.transpose(0, 2, 1)).reshape(ctx.weight_shape), grad)
        if ctx.has_bias and needs[2]:
            grad_b = out_like(g.sum(axis=(0, 2, 3)), grad)
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _same_padding(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    # PyTorch puts the odd leftover on the high side.
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def _check_conv(op: str, input: Any, weight: Any, bias: Any, groups: int, spatial: int, transposed: bool) -> None:
    dims = 2 + spatial
    if len(input.shape) != dims or len(weight.shape) != dims:
        raise ShapeError(
            f"{op}: expected a {dims}-d input and weight, "
            f"got input {tuple(input.shape)} and weight {tuple(weight.shape)}"
        )
    if groups < 1:
        raise ValueError(f"{op}: groups must be positive, got {groups}")
    for name, other in (("weight", weight), ("bias", bias)):
        if other is not None and other.device is not input.device:
            raise DeviceError(f"{op}: input is on {input.device} but {name} is on {other.device}")
    in_channels = input.shape[1]
    expected_in = weight.shape[0] if transposed else weight.shape[1] * groups
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if in_channels != expected_in or weight.shape[0] % groups:
        raise ShapeError(
            f"{op}: input {tuple(input.shape)} does not match weight {tuple(weight.shape)} with groups={groups}"
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ShapeError(f"{op}: bias {tuple(bias.shape)} does not match {out_channels} output channels")


def _conv(
    op: str, input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: int, spatial: int
) -> Any:
    _check_conv(op, input, weight, bias, groups, spatial, transposed=False)
    stride, dilation = pair(stride, spatial, f"{op} stride"), pair(dilation, spatial, f"{op} dilation")
    kernel = tuple(weight.shape[2:])
    check_positive(op, "stride", stride)
    check_positive(op, "dilation", dilation)
    check_positive(op, "kernel size (weight.shape[2:])", kernel)
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * spatial
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            pads = _same_padding(kernel, dilation)
        else:
            raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    else:
        pads = tuple((p, p) for p in pair(padding, spatial, f"{op} padding"))
        check_positive(op, "padding", tuple(p for p, _ in pads), low=0)
    for axis in range(spatial):
        size = input.shape[2 + axis] + sum(pads[axis])
        if size < dilation[axis] * (kernel[axis] - 1) + 1:
            raise ShapeError(
                f"{op}: padded input size {size} is smaller than the dilated kernel "
                f"{dilation[axis] * (kernel[axis] - 1) + 1} (input {tuple(input.shape)}, weight {tuple(weight.shape)})"
            )
    if spatial == 1:
        return Conv2dFunction.apply(input, weight, bias, (1, stride[0]), ((0, 0), pads[0]), (1, dilation[0]), groups)
    return Conv2dFunction.apply(input, weight, bias, stride, pads, dilation, groups)


def conv1d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
) -> Any:
    """``input [N, C, L]``, ``weight [O, C/groups, k]`` -> ``[N, O, Lo]``; ``padding`` may be 'same'/'valid'."""
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, spatial=1)


def conv2d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
) -> Any:
    """``input [N, C, H, W]``, ``weight [O, C/groups, kh, kw]`` -> ``[N, O, Ho, Wo]``; ``padding`` may be
    'same'/'valid'."""
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, spatial=2)


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """``input [N, Cin, H, W]``, ``weight [Cin, Cout/groups, kh, kw]`` -> ``[N, Cout, Ho, Wo]`` with
    ``Ho = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1``."""
    _check_conv("conv_transpose2d", input, weight, bias, groups, 2, transposed=True)
    stride, padding = pair(stride, 2, "conv_transpose2d stride"), pair(padding, 2, "conv_transpose2d padding")
    output_padding, dilation = (
        pair(output_padding, 2, "conv_transpose2d output_padding"),
        pair(dilation, 2, "conv_transpose2d dilation"),
    )
    check_positive("conv_transpose2d", "stride", stride)
    check_positive("conv_transpose2d", "dilation", dilation)
    check_positive("conv_transpose2d", "kernel size (weight.shape[2:])", tuple(weight.shape[2:]))
    check_positive("conv_transpose2d", "padding", padding, low=0)
    check_positive("conv_transpose2d", "output_padding", output_padding, low=0)
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= max(s, d):
            raise ValueError(
                f"conv_transpose2d: output_padding {output_padding} must be smaller than stride {stride} "
                f"or dilation {dilation}"
            )
    return ConvTranspose2dFunction.apply(input, weight, bias, stride, padding, output_padding, dilation, groups)


def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """``input [N, Cin, L]``, ``weight [Cin, Cout/groups, k]`` -> ``[N, Cout, Lo]`` with
    ``Lo = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``: the 2-d
    transposed convolution over a height of 1."""
    _check_conv("conv_transpose1d", input, weight, bias, groups, 1, transposed=True)
    one = lambda value, what: pair(value, 1, f"conv_transpose1d {what}")[0]  # noqa: E731
    out = conv_transpose2d(
        input.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        (1, one(stride, "stride")),
        (0, one(padding, "padding")),
        (0, one(output_padding, "output_padding")),
        groups,
        (1, one(dilation, "dilation")),
    )
    return out.squeeze(2)


def _depth_slice(x: Any, start: int, count: int, step: int) -> Any:
    """``x[:, :, start : start + (count - 1) * step + 1 : step]`` (dim 2), as a recorded op."""
    return x[:, :, start : start + (count - 1) * step + 1 : step]


def conv3d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1
) -> Any:
    """``input [N, C, D, H, W]``, ``weight [O, C/groups, kd, kh, kw]`` -> ``[N, O, Do, Ho, Wo]``.

    The depth axis is a sum over the ``kd`` kernel slices of 2-d convolutions, each over the input
    planes that slice meets (depth folded into the batch); every step is a recorded op.
    """
    op = "conv3d"
    _check_conv(op, input, weight, bias, groups, 3, transposed=False)
    stride, dilation = pair(stride, 3, f"{op} stride"), pair(dilation, 3, f"{op} dilation")
    kernel = tuple(weight.shape[2:])
    check_positive(op, "stride", stride)
    check_positive(op, "dilation", dilation)
    check_positive(op, "kernel size (weight.shape[2:])", kernel)
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * 3
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
            pads = _same_padding(kernel, dilation)
        else:
            raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    else:
        pads = tuple((p, p) for p in pair(padding, 3, f"{op} padding"))
        check_positive(op, "padding", tuple(p for p, _ in pads), low=0)
    x = pad(input, (0, 0, 0, 0, *pads[0])) if any(pads[0]) else input
    n, c, depth = x.shape[0], x.shape[1], x.shape[2]
    span = dilation[0] * (kernel[0] - 1) + 1
    if depth < span:
        raise ShapeError(f"{op}: padded depth {depth} is smaller than the dilated kernel depth {span}")
    out_depth = (depth - span) // stride[0] + 1
    hw_padding = _hw_padding(pads)
    total = None
    for k in range(kernel[0]):
        planes = _depth_slice(x, k * dilation[0], out_depth, stride[0])  # [N, C, Do, H, W]
        flat = planes.movedim(2, 1).reshape(n * out_depth, c, *planes.shape[3:])
        part = _conv(op, flat, weight[:, :, k], None, stride[1:], hw_padding, dilation[1:], groups, spatial=2)
        total = part if total is None else total + part
    out = total.reshape(n, out_depth, *total.shape[1:]).movedim(1, 2)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out


def _hw_padding(pads: tuple) -> Any:
    """The (symmetric or 'same'-split) H/W padding of a 3-d conv as a 2-d conv's padding argument."""
    (top, bottom), (left, right) = pads[1], pads[2]
    if top == bottom and left == right:
        return (top, left)
    return "same"


def _spread_depth(y: Any, step: int) -> Any:
    """``y [N, C, D, *rest]`` with ``step - 1`` zero planes between planes -> ``[N, C, (D - 1) * step + 1, *rest]``."""
    if step == 1:
        return y
    n, c, depth, *rest = y.shape
    gaps = pad(y.unsqueeze(3), (0, 0) * len(rest) + (0, step - 1))  # [N, C, D, step, *rest]
    return gaps.reshape(n, c, depth * step, *rest)[:, :, : (depth - 1) * step + 1]


def conv_transpose3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """``input [N, Cin, D, H, W]``, ``weight [Cin, Cout/groups, kd, kh, kw]`` -> ``[N, Cout, Do, Ho, Wo]`` with
    ``Do = (D - 1) * stride - 2 * padding + dilation * (kd - 1) + output_padding + 1`` (each axis alike).

    Each kernel depth slice is a 2-d transposed convolution of every input plane; its planes are
    spread ``stride`` apart, shifted by the slice's offset and summed, then the padding is cropped.
    """
    op = "conv_transpose3d"
    _check_conv(op, input, weight, bias, groups, 3, transposed=True)
    stride, padding = pair(stride, 3, f"{op} stride"), pair(padding, 3, f"{op} padding")
    output_padding, dilation = pair(output_padding, 3, f"{op} output_padding"), pair(dilation, 3, f"{op} dilation")
    check_positive(op, "stride", stride)
    check_positive(op, "dilation", dilation)
    check_positive(op, "kernel size (weight.shape[2:])", tuple(weight.shape[2:]))
    check_positive(op, "padding", padding, low=0)
    check_positive(op, "output_padding", output_padding, low=0)
    for extra, s, d in zip(output_padding, stride, dilation):
        if extra >= max(s, d):
            raise ValueError(
                f"{op}: output_padding {output_padding} must be smaller than stride {stride} or dilation {dilation}"
            )
    n, _, depth = input.shape[:3]
    kd = weight.shape[2]
    full = (depth - 1) * stride[0] + dilation[0] * (kd - 1) + 1
    out_depth = full - 2 * padding[0] + output_padding[0]
    if out_depth <= 0:
        raise ShapeError(f"{op}: output depth {out_depth} is not positive for input {tuple(input.shape)}")
    planes = input.movedim(2, 1).reshape(n * depth, *input.shape[1:2], *input.shape[3:])
    total = None
    for k in range(kd):
        y = conv_transpose2d(
            planes, weight[:, :, k], None, stride[1:], padding[1:], output_padding[1:], groups, dilation[1:]
        )
        y = _spread_depth(y.reshape(n, depth, *y.shape[1:]).movedim(1, 2), stride[0])
        shift = k * dilation[0]
        y = pad(y, (0, 0, 0, 0, shift, full + output_padding[0] - shift - y.shape[2]))
        total = y if total is None else total + y
    out = total[:, :, padding[0] : padding[0] + out_depth]
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1, 1)
    return out
