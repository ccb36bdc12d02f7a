"""``max_unpool1d`` / ``max_unpool2d``: the partial inverse of max pooling.

Each pooled value goes back to the flat position in its plane that ``max_pool*(return_indices=True)``
recorded; every other position is zero. A recorded ``scatter`` into zeros, so the gradient is the
gather at the same positions.
"""

from __future__ import annotations

import math
from typing import Any

from axon_autograd import Variable, tensor_of
from axon_core import DTypeError, ShapeError
from axon_tensor import zeros

from ._util import pair

__all__ = ["max_unpool1d", "max_unpool2d"]


def _output_size(op: str, in_sizes, kernel, stride, padding, output_size) -> tuple[int, ...]:
    """PyTorch's default ``(in - 1) * stride + kernel - 2 * padding``, or a checked ``output_size``."""
    default = [(n - 1) * s + k - 2 * p for n, k, s, p in zip(in_sizes, kernel, stride, padding)]
    if output_size is None:
        sizes = default
    else:
        sizes = (
            [int(s) for s in output_size][-len(kernel) :]
            if len(output_size) in (len(kernel), len(kernel) + 2)
            else None
        )
        if sizes is None:
            raise ValueError(
                f"{op}: output_size must have {len(kernel)} or {len(kernel) + 2} elements, got {output_size}"
            )
        for d, (size, base, s) in enumerate(zip(sizes, default, stride)):
            if not base - s < size < base + s:
                raise ValueError(
                    f"{op}: invalid output_size {tuple(output_size)} "
                    f"(dim {d} must be between {base - s} and {base + s}, exclusive)"
                )
    if any(s <= 0 for s in sizes):
        raise ShapeError(f"{op}: output size {tuple(sizes)} must be positive")
    return tuple(sizes)


def _max_unpool(op: str, spatial: int, input: Any, indices: Any, kernel_size, stride, padding, output_size) -> Any:
    shape = tuple(input.shape)
    if len(shape) not in (spatial + 1, spatial + 2):
        raise ShapeError(f"{op}: expected a {spatial + 1}-d or {spatial + 2}-d input, got shape {shape}")
    index = tensor_of(indices)
    if tuple(index.shape) != shape:
        raise ShapeError(f"{op}: indices {tuple(index.shape)} must have the input's shape {shape}")
    if index.dtype.name != "int64":
        raise DTypeError(f"{op}: indices must be int64, got {index.dtype}")
    kernel = pair(kernel_size, spatial, f"{op} kernel_size")
    stride = kernel if stride is None else pair(stride, spatial, f"{op} stride")
    padding = pair(padding, spatial, f"{op} padding")
    sizes = _output_size(op, shape[-spatial:], kernel, stride, padding, output_size)
    plane = math.prod(sizes)
    if index.numel() and (int(index.array.min()) < 0 or int(index.array.max()) >= plane):
        raise IndexError(f"{op}: an index is outside the output plane of {plane} positions {sizes}")
    lead = shape[:-spatial]
    flat_values = input.reshape(*lead, -1)
    base = zeros(*lead, plane, dtype=input.dtype, device=index.device)
    if isinstance(input, Variable):
        base = Variable(base)
    return base.scatter(len(lead), index.reshape(*lead, -1), flat_values).reshape(*lead, *sizes)


def max_unpool1d(
    input: Any, indices: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, output_size: Any = None
) -> Any:
    """``input [N, C, L]`` and its max_pool1d ``indices`` -> ``[N, C, Lout]`` (zeros where nothing lands)."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(
    input: Any, indices: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, output_size: Any = None
) -> Any:
    """``input [N, C, H, W]`` and its max_pool2d ``indices`` -> ``[N, C, Hout, Wout]``."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)
