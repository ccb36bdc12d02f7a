"""Convolutions: ``conv1d``, ``conv2d`` and ``conv_transpose2d`` on the backend's im2col / col2im.

The backend's ``im2col`` (our CUDA kernel on cuda and cuda-sim, NumPy on cpu) lays out sliding
blocks as ``[N, C*kh*kw, L]``; viewing them as ``[N, groups, C/groups*kh*kw, L]`` turns a
grouped convolution into one batched GEMM whose result already is ``[N, O, Ho, Wo]``.
``col2im`` is im2col's adjoint and serves the input gradient and the transposed convolution.
1-d convolutions run as 2-d ones over a height of 1.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function, once_differentiable
from axon_core import DeviceError, ShapeError

from ._util import out_like, pair, xp_of

__all__ = ["conv1d", "conv2d", "conv_transpose2d"]


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


def _batched_weight_grad(xp: Any, g_mat: Any, cols: Any) -> Any:
    """``Σ_n g_mat[n] @ cols[n]ᵀ``: ``[N, G, A, L]`` and ``[N, G, B, L]`` -> ``[G, A, B]``.

    Per-sample GEMMs summed make an ``[N, G, A, B]`` intermediate; laying both operands out as
    ``[G, *, N*L]`` instead copies ``N*G*(A+B)*L`` elements for one GEMM per group. Take the
    smaller: small layers (LeNet) win with the first, wide ones would blow memory up with it.
    """
    n, groups, a, blocks = g_mat.shape
    b = cols.shape[2]
    if a * b <= (a + b) * blocks:
        return xp.matmul(g_mat, cols.transpose(0, 1, 3, 2)).sum(axis=0)
    g2 = g_mat.transpose(1, 2, 0, 3).reshape(groups, a, n * blocks)
    c2 = cols.transpose(1, 2, 0, 3).reshape(groups, b, n * blocks)
    return xp.matmul(g2, c2.transpose(0, 2, 1))


class Conv2dFunction(Function):
    """``x [N, C, H, W]``, ``weight [O, C/groups, kh, kw]``, ``bias [O]`` -> ``[N, O, Ho, Wo]``.

    ``pads`` is ``((top, bottom), (left, right))`` of zeros. 1-d inputs ``[N, C, L]`` with
    weights ``[O, C/groups, k]`` run with a height of 1 and come back 1-d.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups):
        backend, xp = x._device._backend, xp_of(x)
        data, w_data = x._data, weight._data
        ctx.in_shape, ctx.weight_shape = data.shape, weight.shape
        if data.ndim == 3:
            data, w_data = data[:, :, None], w_data[:, :, None]
        o, cg, kh, kw = w_data.shape
        padded, sym = _split_pads(xp, data, pads)
        cols = backend.im2col(padded, (kh, kw), stride, sym, dilation)
        n, _, blocks = cols.shape
        cols = cols.reshape(n, groups, cg * kh * kw, blocks)
        w_mat = w_data.reshape(groups, o // groups, cg * kh * kw)
        out_h = (padded.shape[2] + 2 * sym[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        out = xp.matmul(w_mat, cols).reshape(n, o, out_h, blocks // out_h)
        if bias is not None:
            out += bias._data.reshape(1, o, 1, 1)
        ctx.cols, ctx.w_mat = cols, w_mat
        ctx.geometry = (data.shape[2:], padded.shape[2:], sym, stride, pads, dilation, groups, (kh, kw))
        ctx.has_bias = bias is not None
        return out_like(out[:, :, 0] if len(ctx.in_shape) == 3 else out, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        backend, xp, g = grad._device._backend, xp_of(grad), grad._data
        if g.ndim == 3:
            g = g[:, :, None]
        (h, w), padded_hw, sym, stride, pads, dilation, groups, kernel = ctx.geometry
        n, o, out_h, out_w = g.shape
        g_mat = g.reshape(n, groups, o // groups, out_h * out_w)
        needs = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if needs[0]:
            g_cols = xp.matmul(ctx.w_mat.transpose(0, 2, 1), g_mat).reshape(n, groups * ctx.cols.shape[2], out_h * out_w)
            g_padded = backend.col2im(g_cols, padded_hw, kernel, stride, sym, dilation)
            top, left = pads[0][0] - sym[0], pads[1][0] - sym[1]
            gx = g_padded[:, :, top : top + h, left : left + w]
            grad_x = out_like(xp.ascontiguousarray(gx).reshape(ctx.in_shape), grad)
        if needs[1]:
            grad_w = out_like(_batched_weight_grad(xp, g_mat, ctx.cols).reshape(ctx.weight_shape), grad)
        if ctx.has_bias and needs[2]:
            grad_b = out_like(g.sum(axis=(0, 2, 3)), grad)
        return grad_x, grad_w, grad_b, None, None, None, None


class ConvTranspose2dFunction(Function):
    """``x [N, Cin, H, W]``, ``weight [Cin, Cout/groups, kh, kw]`` -> ``[N, Cout, Ho, Wo]``.

    The adjoint of :class:`Conv2dFunction`: one batched GEMM makes columns and col2im folds
    them into the "full" output (every position a window reaches) seen through ``padding``.
    With ``output_padding < stride`` that view is exactly col2im's geometry; otherwise
    (possible when dilation > stride) the full output is folded and then cropped / zero-extended.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation, groups):
        backend, xp, data = x._device._backend, xp_of(x), x._data
        n, cin, h, w = data.shape
        _, cout_g, kh, kw = weight.shape
        cout = cout_g * groups
        full_hw = tuple((size - 1) * s + d * (k - 1) + 1 for size, s, d, k in zip((h, w), stride, dilation, (kh, kw)))
        out_hw = tuple(f - 2 * p + extra for f, p, extra in zip(full_hw, padding, output_padding))
        x_mat = data.reshape(n, groups, cin // groups, h * w)
        w_mat = weight._data.reshape(groups, cin // groups, cout_g * kh * kw)
        cols = xp.matmul(w_mat.transpose(0, 2, 1), x_mat).reshape(n, cout * kh * kw, h * w)
        direct = all(extra < s for extra, s in zip(output_padding, stride))
        if direct:
            out = backend.col2im(cols, out_hw, (kh, kw), stride, padding, dilation)
        else:
            out = xp.ascontiguousarray(_window(xp, backend.col2im(cols, full_hw, (kh, kw), stride, 0, dilation), padding, out_hw))
        if bias is not None:
            out += bias._data.reshape(1, cout, 1, 1)
        ctx.x_mat, ctx.w_mat = x_mat, w_mat
        ctx.geometry = (direct, full_hw, (kh, kw), stride, padding, dilation, groups)
        ctx.in_shape, ctx.weight_shape, ctx.has_bias = data.shape, weight.shape, bias is not None
        return out_like(out, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        backend, xp, g = grad._device._backend, xp_of(grad), grad._data
        direct, full_hw, kernel, stride, padding, dilation, groups = ctx.geometry
        n = g.shape[0]
        if direct:
            g_cols = backend.im2col(g, kernel, stride, padding, dilation)
        else:
            g_full = _window(xp, g, (-padding[0], -padding[1]), full_hw)
            g_cols = backend.im2col(g_full, kernel, stride, 0, dilation)
        g_cols = g_cols.reshape(n, groups, g_cols.shape[1] // groups, g_cols.shape[2])
        needs = ctx.needs_input_grad
        grad_x = grad_w = grad_b = None
        if needs[0]:
            grad_x = out_like(xp.matmul(ctx.w_mat, g_cols).reshape(ctx.in_shape), grad)
        if needs[1]:
            grad_w = out_like(_batched_weight_grad(xp, ctx.x_mat, g_cols).reshape(ctx.weight_shape), grad)
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
    for name, other in (("weight", weight), ("bias", bias)):
        if other is not None and other.device is not input.device:
            raise DeviceError(f"{op}: input is on {input.device} but {name} is on {other.device}")
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
