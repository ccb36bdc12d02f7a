"""Convolutions: ``conv1d``, ``conv2d`` and ``conv_transpose2d`` by im2col + one GEMM per group.

1-d convolutions run as 2-d ones over a height of 1.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function, once_differentiable
from axon_core import ShapeError

from ._util import out_like, pair, xp_of
from ._window import col2im, im2col, output_size

__all__ = ["conv1d", "conv2d", "conv_transpose2d"]


def _pad_array(xp: Any, x: Any, pads: tuple[tuple[int, int], tuple[int, int]]) -> Any:
    if not any(pads[0] + pads[1]):
        return x
    return xp.pad(x, ((0, 0), (0, 0), pads[0], pads[1]))


class Conv2dFunction(Function):
    """``x [N, C, H, W]``, ``weight [O, C/groups, kh, kw]``, ``bias [O]`` -> ``[N, O, Ho, Wo]``.

    ``pads`` is ``((top, bottom), (left, right))`` of zeros. 1-d inputs ``[N, C, L]`` with
    weights ``[O, C/groups, k]`` run with a height of 1 and come back 1-d.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups):
        xp, data, w_data = xp_of(x), x._data, weight._data
        ctx.in_shape, ctx.weight_shape = data.shape, weight.shape
        if data.ndim == 3:
            data, w_data = data[:, :, None], w_data[:, :, None]
        n, c, h, w = data.shape
        o, cg, kh, kw = w_data.shape
        out_h = output_size(h, kh, stride[0], sum(pads[0]), dilation[0])
        out_w = output_size(w, kw, stride[1], sum(pads[1]), dilation[1])
        padded = _pad_array(xp, data, pads)
        cols = im2col(xp, padded, (kh, kw), stride, dilation, (out_h, out_w)).reshape(groups, cg * kh * kw, n * out_h * out_w)
        w_mat = w_data.reshape(groups, o // groups, cg * kh * kw)
        out = xp.matmul(w_mat, cols).reshape(o, n, out_h, out_w).transpose(1, 0, 2, 3)
        if bias is not None:
            out = out + bias._data.reshape(1, o, 1, 1)
        ctx.cols, ctx.w_mat = cols, w_mat
        ctx.geometry = (padded.shape, stride, pads, dilation, groups, (kh, kw), (out_h, out_w))
        ctx.has_bias = bias is not None
        out = xp.ascontiguousarray(out)
        return out_like(out[:, :, 0] if len(ctx.in_shape) == 3 else out, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        xp, g = xp_of(grad), grad._data
        if g.ndim == 3:
            g = g[:, :, None]
        padded_shape, stride, pads, dilation, groups, kernel, (out_h, out_w) = ctx.geometry
        n, c, hp, wp = padded_shape
        o = g.shape[1]
        g_mat = g.transpose(1, 0, 2, 3).reshape(groups, o // groups, n * out_h * out_w)
        needs = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if needs[0]:
            g_cols = xp.matmul(ctx.w_mat.transpose(0, 2, 1), g_mat).reshape(c, kernel[0], kernel[1], n, out_h, out_w)
            g_padded = col2im(xp, g_cols, padded_shape, stride, dilation)
            gx = g_padded[:, :, pads[0][0] : hp - pads[0][1], pads[1][0] : wp - pads[1][1]]
            grad_x = out_like(xp.ascontiguousarray(gx).reshape(ctx.in_shape), grad)
        if needs[1]:
            grad_w = out_like(xp.matmul(g_mat, ctx.cols.transpose(0, 2, 1)).reshape(ctx.weight_shape), grad)
        if ctx.has_bias and needs[2]:
            grad_b = out_like(g.sum(axis=(0, 2, 3)), grad)
        return grad_x, grad_w, grad_b, None, None, None, None


class ConvTranspose2dFunction(Function):
    """``x [N, Cin, H, W]``, ``weight [Cin, Cout/groups, kh, kw]`` -> ``[N, Cout, Ho, Wo]``.

    The adjoint of :class:`Conv2dFunction`: columns are scattered with col2im, then ``padding``
    is cropped; ``output_padding`` extends the bottom/right edge.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation, groups):
        xp, data = xp_of(x), x._data
        n, cin, h, w = data.shape
        _, cout_g, kh, kw = weight.shape
        cout = cout_g * groups
        full_h = (h - 1) * stride[0] + dilation[0] * (kh - 1) + 1 + output_padding[0]
        full_w = (w - 1) * stride[1] + dilation[1] * (kw - 1) + 1 + output_padding[1]
        x_mat = data.transpose(1, 0, 2, 3).reshape(groups, cin // groups, n * h * w)
        w_mat = weight._data.reshape(groups, cin // groups, cout_g * kh * kw)
        cols = xp.matmul(w_mat.transpose(0, 2, 1), x_mat).reshape(cout, kh, kw, n, h, w)
        full = col2im(xp, cols, (n, cout, full_h, full_w), stride, dilation)
        out = full[:, :, padding[0] : full_h - padding[0], padding[1] : full_w - padding[1]]
        if bias is not None:
            out = out + bias._data.reshape(1, cout, 1, 1)
        ctx.x_mat, ctx.w_mat = x_mat, w_mat
        ctx.geometry = (n, cin, h, w, cout, (kh, kw), (full_h, full_w), stride, padding, dilation, groups)
        ctx.weight_shape, ctx.has_bias = weight.shape, bias is not None
        return out_like(xp.ascontiguousarray(out), x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        xp, g = xp_of(grad), grad._data
        n, cin, h, w, cout, kernel, (full_h, full_w), stride, padding, dilation, groups = ctx.geometry
        g_full = xp.pad(g, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
        g_cols = im2col(xp, g_full, kernel, stride, dilation, (h, w)).reshape(groups, cout // groups * kernel[0] * kernel[1], n * h * w)
        needs = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if needs[0]:
            gx = xp.matmul(ctx.w_mat, g_cols).reshape(cin, n, h, w).transpose(1, 0, 2, 3)
            grad_x = out_like(xp.ascontiguousarray(gx), grad)
        if needs[1]:
            grad_w = out_like(xp.matmul(ctx.x_mat, g_cols.transpose(0, 2, 1)).reshape(ctx.weight_shape), grad)
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
        raise ShapeError(f"{op}: expected a {dims}-d input and weight, got input {tuple(input.shape)} and weight {tuple(weight.shape)}")
    if groups < 1:
        raise ValueError(f"{op}: groups must be positive, got {groups}")
    in_channels = input.shape[1]
    expected_in = weight.shape[0] if transposed else weight.shape[1] * groups
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if in_channels != expected_in or weight.shape[0] % groups:
        raise ShapeError(f"{op}: input {tuple(input.shape)} does not match weight {tuple(weight.shape)} with groups={groups}")
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ShapeError(f"{op}: bias {tuple(bias.shape)} does not match {out_channels} output channels")


def _conv(op: str, input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: int, spatial: int) -> Any:
    _check_conv(op, input, weight, bias, groups, spatial, transposed=False)
    stride, dilation = pair(stride, spatial, f"{op} stride"), pair(dilation, spatial, f"{op} dilation")
    kernel = tuple(weight.shape[2:])
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
    for axis in range(spatial):
        size = input.shape[2 + axis] + sum(pads[axis])
        if size < dilation[axis] * (kernel[axis] - 1) + 1:
            raise ShapeError(f"{op}: padded input size {size} is smaller than the dilated kernel {dilation[axis] * (kernel[axis] - 1) + 1} (input {tuple(input.shape)}, weight {tuple(weight.shape)})")
    if spatial == 1:
        return Conv2dFunction.apply(input, weight, bias, (1, stride[0]), ((0, 0), pads[0]), (1, dilation[0]), groups)
    return Conv2dFunction.apply(input, weight, bias, stride, pads, dilation, groups)


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Any:
    """``input [N, C, L]``, ``weight [O, C/groups, k]`` -> ``[N, O, Lo]``; ``padding`` may be 'same'/'valid'."""
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, spatial=1)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Any:
    """``input [N, C, H, W]``, ``weight [O, C/groups, kh, kw]`` -> ``[N, O, Ho, Wo]``; ``padding`` may be 'same'/'valid'."""
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, spatial=2)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Any:
    """``input [N, Cin, H, W]``, ``weight [Cin, Cout/groups, kh, kw]`` -> ``[N, Cout, Ho, Wo]`` with
    ``Ho = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1``."""
    _check_conv("conv_transpose2d", input, weight, bias, groups, 2, transposed=True)
    stride, padding = pair(stride, 2, "conv_transpose2d stride"), pair(padding, 2, "conv_transpose2d padding")
    output_padding, dilation = pair(output_padding, 2, "conv_transpose2d output_padding"), pair(dilation, 2, "conv_transpose2d dilation")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= max(s, d):
            raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than stride {stride} or dilation {dilation}")
    return ConvTranspose2dFunction.apply(input, weight, bias, stride, padding, output_padding, dilation, groups)
