"""Helpers shared by the backward rules."""

from __future__ import annotations

from typing import Any

from axon_tensor import Tensor
from axon_tensor.tensor import normalize_dim

from ..variable import Variable, make_variable

__all__ = ["meta", "reduce_grad", "dims_of", "keep_shape", "constant"]


def meta(x: Any) -> tuple | None:
    """``(shape, dtype)`` of a Tensor operand; None for a Python scalar."""
    return (x.array.shape, x.dtype) if x.__class__ is Tensor else None


def reduce_grad(g: Variable, m: tuple | None) -> Variable | None:
    """``g`` summed over the dims broadcasting added, in the operand's dtype (None for scalars)."""
    if m is None:
        return None
    shape, dtype = m
    gshape = g.data.array.shape
    if gshape != shape:
        lead = len(gshape) - len(shape)
        dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)
        if dims:
            from .reduction import Sum

            g = Sum.apply(g, dims, True)
        if g.data.array.shape != shape:
            from .shape import Reshape

            g = Reshape.apply(g, shape)
    if g.data.dtype is not dtype:
        from .conversion import To

        g = To.apply(g, dtype)
    return g


def dims_of(dim: Any, ndim: int, op: str) -> tuple[int, ...]:
    """Reduced dims as sorted non-negative ints (all dims for None)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        return (normalize_dim(dim, ndim, op),)
    return tuple(sorted(normalize_dim(d, ndim, op) for d in dim))


def keep_shape(shape: tuple, dims: tuple[int, ...]) -> tuple:
    """``shape`` with the reduced ``dims`` kept as size 1."""
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def constant(t: Tensor) -> Variable:
    """A Variable with no gradient around ``t``."""
    return make_variable(t, False, None)
