"""``unfold`` (im2col) and ``fold`` (col2im) over ``[N, C, H, W]``, as ``torch.nn.functional``'s.

``unfold`` pads, then gathers each window with one index (a recorded op: its gradient scatters
back, summing where windows overlap). ``fold`` is its adjoint: window values are summed into the
padded image, then cropped; its backward is ``unfold`` of the gradient, so it is differentiable again.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function
from axon_core import ShapeError
from axon_tensor import tensor

from ._util import check_positive, out_like, pair, xp_of
from ._window import output_size
from .padding import pad

__all__ = ["unfold", "fold"]


def _geometry(op: str, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> tuple:
    kernel, dilation = pair(kernel_size, 2, f"{op} kernel_size"), pair(dilation, 2, f"{op} dilation")
    padding, stride = pair(padding, 2, f"{op} padding"), pair(stride, 2, f"{op} stride")
    check_positive(op, "kernel_size", kernel)
    check_positive(op, "dilation", dilation)
    check_positive(op, "stride", stride)
    check_positive(op, "padding", padding, low=0)
    return kernel, dilation, padding, stride


def _blocks(op: str, size: tuple[int, int], kernel, dilation, padding, stride) -> tuple[int, int]:
    blocks = tuple(output_size(n, k, s, 2 * p, d) for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    if any(b <= 0 for b in blocks):
        raise ShapeError(
            f"{op}: spatial size {size} with padding {padding} is too small for kernel {kernel} and dilation {dilation}"
        )
    return blocks


def _window_index(kernel, dilation, stride, blocks) -> tuple[Any, Any]:
    """Row and column of each (kernel offset, block) pair: shapes ``[kh, 1, oh, 1]`` and ``[1, kw, 1, ow]``."""
    import numpy as np

    rows = (np.arange(kernel[0]) * dilation[0])[:, None] + (np.arange(blocks[0]) * stride[0])[None, :]
    cols = (np.arange(kernel[1]) * dilation[1])[:, None] + (np.arange(blocks[1]) * stride[1])[None, :]
    return rows[:, None, :, None], cols[None, :, None, :]


def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Any:
    """``input [N, C, H, W]`` (or ``[C, H, W]``) -> ``[N, C * kh * kw, L]``: every sliding window as a column."""
    op = "unfold"
    if len(input.shape) not in (3, 4):
        raise ShapeError(f"{op}: expected a 3-d or 4-d input, got shape {tuple(input.shape)}")
    batched = len(input.shape) == 4
    x = input if batched else input.unsqueeze(0)
    kernel, dilation, padding, stride = _geometry(op, kernel_size, dilation, padding, stride)
    n, c, h, w = x.shape
    blocks = _blocks(op, (h, w), kernel, dilation, padding, stride)
    if any(padding):
        x = pad(x, (padding[1], padding[1], padding[0], padding[0]))
    rows, cols = _window_index(kernel, dilation, stride, blocks)
    device = x.device
    windows = x[:, :, tensor(rows, device=device), tensor(cols, device=device)]  # [N, C, kh, kw, oh, ow]
    out = windows.reshape(n, c * kernel[0] * kernel[1], blocks[0] * blocks[1])
    return out if batched else out.squeeze(0)


class FoldFunction(Function):
    """Columns ``[N, C * kh * kw, L]`` summed into ``[N, C, H, W]``; the gradient is :func:`unfold`."""

    @staticmethod
    def forward(ctx, cols, output_hw, kernel, dilation, padding, stride, blocks):
        xp, data = xp_of(cols), cols.array
        n = data.shape[0]
        c = data.shape[1] // (kernel[0] * kernel[1])
        ctx.options = (kernel, dilation, padding, stride)
        padded = xp.zeros((n, c, output_hw[0] + 2 * padding[0], output_hw[1] + 2 * padding[1]), dtype=data.dtype)
        rows, columns = _window_index(kernel, dilation, stride, blocks)
        values = data.reshape(n, c, kernel[0], kernel[1], blocks[0], blocks[1])
        xp.add.at(padded, (slice(None), slice(None), xp.asarray(rows), xp.asarray(columns)), values)
        out = padded[:, :, padding[0] : padding[0] + output_hw[0], padding[1] : padding[1] + output_hw[1]]
        return out_like(xp.ascontiguousarray(out), cols)

    @staticmethod
    def backward(ctx, grad):
        kernel, dilation, padding, stride = ctx.options
        return unfold(grad, kernel, dilation, padding, stride), None, None, None, None, None, None


def fold(input: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Any:
    """``input [N, C * kh * kw, L]`` (or ``[C * kh * kw, L]``) -> ``[N, C, *output_size]``, overlaps summed."""
    op = "fold"
    if len(input.shape) not in (2, 3):
        raise ShapeError(f"{op}: expected a 2-d or 3-d input, got shape {tuple(input.shape)}")
    batched = len(input.shape) == 3
    cols = input if batched else input.unsqueeze(0)
    output_hw = pair(output_size, 2, f"{op} output_size")
    kernel, dilation, padding, stride = _geometry(op, kernel_size, dilation, padding, stride)
    blocks = _blocks(op, output_hw, kernel, dilation, padding, stride)
    per_channel = kernel[0] * kernel[1]
    if cols.shape[1] % per_channel or cols.shape[2] != blocks[0] * blocks[1]:
        raise ShapeError(
            f"{op}: input {tuple(input.shape)} does not hold C * {per_channel} rows and {blocks[0] * blocks[1]} "
            f"blocks for output_size {output_hw}, kernel {kernel}"
        )
    out = FoldFunction.apply(cols, output_hw, kernel, dilation, padding, stride, blocks)
    return out if batched else out.squeeze(0)
