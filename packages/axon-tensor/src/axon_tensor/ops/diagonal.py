"""Diagonals: ``diagonal`` (a view), ``diag`` and ``diag_embed`` (new tensors), with PyTorch's arguments.

``offset > 0`` is above the main diagonal, ``offset < 0`` below. ``dim1``/``dim2`` take negative
values counted from the end (of the input for ``diagonal``, of the output for ``diag_embed``).
"""

from __future__ import annotations

from axon_core import ShapeError

from ..tensor import Tensor, normalize_dim, tensor_method, view_of, wrap
from .shape import restride

__all__ = ["diagonal", "diag", "diag_embed", "diagonal_positions"]


def diagonal_positions(rows: int, cols: int, offset: int) -> tuple[int, int, int]:
    """``(length, first_row, first_col)`` of diagonal ``offset`` in a ``rows × cols`` matrix."""
    first_row, first_col = max(-offset, 0), max(offset, 0)
    return max(min(rows - first_row, cols - first_col), 0), first_row, first_col


def _diagonal_dims(op: str, ndim: int, dim1: int, dim2: int) -> tuple[int, int]:
    d1, d2 = normalize_dim(dim1, ndim, op), normalize_dim(dim2, ndim, op)
    if d1 == d2:
        raise ShapeError(f"{op}: dim1 and dim2 cannot be the same dimension, got {dim1} and {dim2}")
    return d1, d2


@tensor_method()
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal ``offset`` over dims ``dim1``/``dim2``: those dims are removed and the
    diagonal is appended as the last dim (``[*rest, length]``)."""
    data = input.array
    if data.ndim < 2:
        raise ShapeError(f"diagonal: expected a tensor of at least 2 dims, got shape {tuple(data.shape)}")
    d1, d2 = _diagonal_dims("diagonal", data.ndim, dim1, dim2)
    length, row, col = diagonal_positions(data.shape[d1], data.shape[d2], offset)
    if length == 0:
        row = col = 0
    # A basic slice puts the view's first element at the diagonal's start; then one stride walks it.
    start = data[
        tuple(slice(row, None) if k == d1 else slice(col, None) if k == d2 else slice(None) for k in range(data.ndim))
    ]
    rest = [k for k in range(data.ndim) if k not in (d1, d2)]
    shape = tuple(data.shape[k] for k in rest) + (length,)
    strides = tuple(data.strides[k] for k in rest) + (data.strides[d1] + data.strides[d2],)
    return view_of(restride(input, start, shape, strides), input)


@tensor_method()
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """``input [*, n]`` placed on diagonal ``offset`` of new ``(n + |offset|)``-square planes over the output
    dims ``dim1``/``dim2`` (zeros elsewhere)."""
    ndim = input.ndim + 1
    d1, d2 = _diagonal_dims("diag_embed", ndim, dim1, dim2)
    n = (input.shape[-1] if input.ndim else 1) + abs(offset)
    last = input.reshape(1) if input.ndim == 0 else input
    xp = input.backend.xp
    out = xp.zeros(tuple(last.shape[:-1]) + (n, n), dtype=last.array.dtype)
    length, row, col = diagonal_positions(n, n, offset)
    positions = xp.arange(length)
    out[..., positions + row, positions + col] = last.array
    if (d1, d2) != (ndim - 2, ndim - 1):
        out = xp.ascontiguousarray(xp.moveaxis(out, (-2, -1), (d1, d2)))
    return wrap(out, input.device)


@tensor_method()
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-d ``input`` as the ``diagonal`` of a square matrix; of a 2-d ``input``, its ``diagonal`` (a copy)."""
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return input.diagonal(diagonal).clone()
    raise ShapeError(f"diag: expected a 1-d or 2-d tensor, got shape {tuple(input.shape)}")
