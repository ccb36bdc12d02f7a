"""Helpers shared by the backward rules."""

from __future__ import annotations

from typing import Any

from axon_tensor import Tensor
from axon_tensor.tensor import normalize_dim

from ..variable import Variable, make_variable

__all__ = ["meta", "sum_to", "reduce_grad", "dims_of", "keep_shape", "constant"]


def meta(x: Any) -> tuple | None:
    """``(shape, dtype)`` of a Tensor operand; None for a Python scalar."""
    return (x.array.shape, x.dtype) if x.__class__ is Tensor else None


def sum_to(x: Any, shape: tuple[int, ...]) -> Any:
    """``x`` summed over the dims broadcasting added to ``shape`` (leading dims, and size-1 dims
    of ``shape`` that grew), then viewed as ``shape``: the gradient of a broadcast.

    ``x`` is a Variable (the sum is recorded, for double backward) or a backend array (for the
    raw-array backward rules of axon-nn).
    """
    is_variable = isinstance(x, Variable)
    xshape = x.data.array.shape if is_variable else x.shape
    shape = tuple(shape)
    if xshape == shape:
        return x
    lead = len(xshape) - len(shape)
    dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and xshape[i + lead] != 1)
    if not is_variable:
        return x.sum(axis=dims, keepdims=True).reshape(shape) if dims else x.reshape(shape)
    if dims:
        from .reduction import Sum

        x = Sum.apply(x, dims, True)
    if x.data.array.shape != shape:
        from .shape import Reshape

        x = Reshape.apply(x, shape)
    return x


def reduce_grad(g: Variable, m: tuple | None) -> Variable | None:
    """``g`` summed to the operand's shape (:func:`sum_to`), in its dtype (None for scalars)."""
    if m is None:
        return None
    shape, dtype = m
    g = sum_to(g, shape)
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
