"""Sliding windows over ``[N, C, H, W]`` arrays: im2col / col2im and output sizes.

Columns are laid out ``[C, kh, kw, N, Ho, Wo]`` so that reshaping them to
``[groups, C/groups * kh * kw, N * Ho * Wo]`` needs no copy and one GEMM per group does a
convolution. Both directions loop over the ``kh * kw`` kernel offsets and move one strided
slice each, which works unchanged on NumPy and CuPy arrays.
"""

from __future__ import annotations

from typing import Any

__all__ = ["output_size", "im2col", "col2im"]


def output_size(
    length: int, kernel: int, stride: int, pad_total: int, dilation: int, ceil_mode: bool = False, pad_lo: int = 0
) -> int:
    """Number of window positions along one axis (PyTorch's rule, including ``ceil_mode``)."""
    span = length + pad_total - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    size = (-(-span // stride) if ceil_mode else span // stride) + 1
    # A ceil-mode window must start inside the input or its low padding.
    if ceil_mode and (size - 1) * stride >= length + pad_lo:
        size -= 1
    return size


def _slices(
    i: int, j: int, out_h: int, out_w: int, stride: tuple[int, int], dilation: tuple[int, int]
) -> tuple[slice, slice]:
    top, left = i * dilation[0], j * dilation[1]
    return (
        slice(top, top + stride[0] * (out_h - 1) + 1, stride[0]),
        slice(left, left + stride[1] * (out_w - 1) + 1, stride[1]),
    )


def im2col(
    xp: Any,
    x: Any,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> Any:
    """``x [N, C, H, W]`` (already padded) -> columns ``[C, kh, kw, N, Ho, Wo]``."""
    n, c = x.shape[:2]
    out_h, out_w = out_hw
    cols = xp.empty((c, kernel[0], kernel[1], n, out_h, out_w), dtype=x.dtype)
    swapped = x.transpose(1, 0, 2, 3)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows, columns = _slices(i, j, out_h, out_w, stride, dilation)
            cols[:, i, j] = swapped[:, :, rows, columns]
    return cols


def col2im(
    xp: Any, cols: Any, padded_shape: tuple[int, int, int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> Any:
    """Sum columns ``[C, kh, kw, N, Ho, Wo]`` back into an array of ``padded_shape [N, C, H, W]``."""
    n, c, h, w = padded_shape
    _, kh, kw, _, out_h, out_w = cols.shape
    out = xp.zeros((c, n, h, w), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = _slices(i, j, out_h, out_w, stride, dilation)
            out[:, :, rows, columns] += cols[:, i, j]
    return out.transpose(1, 0, 2, 3)
