"""Running extremes along a dim: ``cummax`` and ``cummin`` with their indices, as PyTorch's.

A NaN, once met, is the running extreme from there on (its index too); ties take the later index.
"""

from __future__ import annotations

from axon_core import DTypeError

from ..tensor import Tensor, normalize_dim, tensor_method, wrap
from .reduction import ValuesIndices

__all__ = ["cummax", "cummin"]


def _running(op: str, input: Tensor, dim: int, larger: bool) -> ValuesIndices:
    if input.dtype.is_complex:
        raise DTypeError(f"{op}: complex tensors have no ordering")
    data = input.array
    xp = input.backend.xp
    flat = data.reshape(1) if data.ndim == 0 else data
    axis = normalize_dim(dim, flat.ndim, op)
    moved = xp.moveaxis(flat, axis, 0)
    values = xp.empty_like(moved)
    indices = xp.zeros(moved.shape, dtype=xp.int64)
    floating = moved.dtype.kind in "fV"
    for i in range(moved.shape[0]):
        current = moved[i]
        if i == 0:
            values[0], indices[0] = current, 0
            continue
        best = values[i - 1]
        wins = (current >= best) if larger else (current <= best)
        if floating:
            wins = (wins & ~xp.isnan(best)) | xp.isnan(current)
        values[i] = xp.where(wins, current, best)
        indices[i] = xp.where(wins, i, indices[i - 1])
    values, indices = xp.moveaxis(values, 0, axis), xp.moveaxis(indices, 0, axis)
    shape = data.shape
    return ValuesIndices(
        wrap(xp.ascontiguousarray(values).reshape(shape), input.device),
        wrap(xp.ascontiguousarray(indices).reshape(shape), input.device),
    )


@tensor_method()
def cummax(input: Tensor, dim: int) -> ValuesIndices:
    """``(values, indices)``: the running maximum along ``dim`` and where it was taken."""
    return _running("cummax", input, dim, larger=True)


@tensor_method()
def cummin(input: Tensor, dim: int) -> ValuesIndices:
    """``(values, indices)``: the running minimum along ``dim`` and where it was taken."""
    return _running("cummin", input, dim, larger=False)
