"""Ops that are compositions of other differentiable ops; their gradient is the composition's."""

from __future__ import annotations

import math
from typing import Any

import axon_tensor
from axon_tensor import Tensor
from axon_tensor.tensor import normalize_dim

from ..function import Function
from ..variable import Variable, call_tensor_op, variable_method
from ._util import constant, meta, reduce_grad
from .indexing import IndexSelect, where
from .reduction import ValuesIndices

__all__ = ["LogAddExp", "LogCumSumExp"]


def _scaled(x: Any, factor: Any) -> Any:
    return x if factor == 1 else x * factor


@variable_method("addcmul")
def addcmul(input: Variable, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Variable:
    return input + _scaled(tensor1 * tensor2, value)


@variable_method("addcdiv")
def addcdiv(input: Variable, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Variable:
    return input + _scaled(tensor1 / tensor2, value)


def _add_product(input: Variable, product: Variable, beta: Any, alpha: Any) -> Variable:
    # beta == 0 ignores input entirely (NaN/inf in it do not propagate), as PyTorch.
    return _scaled(product, alpha) if beta == 0 else _scaled(input, beta) + _scaled(product, alpha)


@variable_method("addmm")
def addmm(input: Variable, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Variable:
    return _add_product(input, mat1.mm(mat2), beta, alpha)


@variable_method("addmv")
def addmv(input: Variable, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Variable:
    return _add_product(input, mat.matmul(vec), beta, alpha)


@variable_method("baddbmm")
def baddbmm(input: Variable, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Variable:
    return _add_product(input, batch1.bmm(batch2), beta, alpha)


@variable_method("outer", "ger")
def outer(input: Variable, vec2: Any) -> Variable:
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


variable_method("mv")(lambda input, vec: input.matmul(vec))
variable_method("vdot")(lambda input, other: input.dot(other))


@variable_method("lerp")
def lerp(input: Variable, end: Any, weight: Any) -> Variable:
    return input + weight * (end - input)


@variable_method("hypot")
def hypot(input: Variable, other: Any) -> Variable:
    return (input * input + other * other).sqrt()


@variable_method("var_mean")
def var_mean(input: Variable, dim: Any = None, *, correction: Any = 1, keepdim: bool = False) -> tuple:
    return input.var(dim, correction=correction, keepdim=keepdim), input.mean(dim, keepdim=keepdim)


@variable_method("std_mean")
def std_mean(input: Variable, dim: Any = None, *, correction: Any = 1, keepdim: bool = False) -> tuple:
    return input.std(dim, correction=correction, keepdim=keepdim), input.mean(dim, keepdim=keepdim)


@variable_method("aminmax")
def aminmax(input: Variable, *, dim: Any = None, keepdim: bool = False) -> Any:
    low = input.amin(dim if dim is not None else (), keepdim)
    high = input.amax(dim if dim is not None else (), keepdim)
    return ValuesIndices(low, high)


@variable_method("repeat_interleave")
def repeat_interleave(input: Variable, repeats: Any, dim: int | None = None) -> Variable:
    if dim is None:
        input, dim = input.reshape(-1), 0
    size = input.shape[dim]
    repeats = repeats.data if isinstance(repeats, Variable) else repeats
    index = axon_tensor.arange(size, device=input.device).repeat_interleave(repeats)
    return IndexSelect.apply(input, dim, index)


class LogAddExp(Function):
    """``logaddexp`` / ``logaddexp2``: each operand's gradient is ``g / (1 + base**(other - self))``."""

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any, name: str) -> Tensor:
        ctx.meta = (meta(a), meta(b))
        ctx.base2 = name == "logaddexp2"
        ctx.save_for_backward(a if a.__class__ is Tensor else None, b if b.__class__ is Tensor else None)
        ctx.scalars = (a, b)
        return getattr(a, name)(b) if a.__class__ is Tensor else getattr(b, name)(a)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        a, b = ctx.saved_tensors
        a = ctx.scalars[0] if a is None else a
        b = ctx.scalars[1] if b is None else b

        def share(self: Any, other: Any) -> Variable:
            gap = other - self
            return g / ((gap * math.log(2.0)).exp() + 1.0) if ctx.base2 else g / ((gap).exp() + 1.0)

        ma, mb = ctx.meta
        return (
            reduce_grad(share(a, b), ma) if ctx.needs_input_grad[0] else None,
            reduce_grad(share(b, a), mb) if ctx.needs_input_grad[1] else None,
            None,
        )


variable_method("logaddexp")(lambda input, other: LogAddExp.apply(input, other, "logaddexp"))
variable_method("logaddexp2")(lambda input, other: LogAddExp.apply(input, other, "logaddexp2"))


class LogCumSumExp(Function):
    """``logcumsumexp``: ``d out_j / d x_i = exp(x_i - out_j)`` for ``i <= j``, summed over ``j`` as an
    ``[n, n]`` triangle per slice (Variable math, so differentiable again)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int) -> Tensor:
        y = x.logcumsumexp(dim)
        ctx.dim = normalize_dim(dim, max(x.ndim, 1), "logcumsumexp") if x.ndim else None
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        x, y = ctx.saved_tensors
        if ctx.dim is None:
            return g
        xs, ys, gs = x.movedim(ctx.dim, -1), y.movedim(ctx.dim, -1), g.movedim(ctx.dim, -1)
        n = xs.shape[-1]
        later = constant(axon_tensor.ones(n, n, dtype=axon_tensor.bool_, device=x.device).triu())
        # [*, i, j]: x_i - out_j where j >= i, -inf elsewhere (exp gives 0 there, with no inf - inf).
        gap = where(later, xs.unsqueeze(-1) - ys.unsqueeze(-2), -math.inf)
        return (gap.exp() * gs.unsqueeze(-2)).sum(-1).movedim(-1, ctx.dim)


variable_method("logcumsumexp")(lambda input, dim: LogCumSumExp.apply(input, dim))


def _running_extreme(name: str) -> Any:
    def method(input: Variable, dim: int) -> ValuesIndices:
        indices = getattr(input.data, name)(dim).indices
        if input.ndim == 0:
            return ValuesIndices(input * 1.0 if input.requires_grad else input, constant(indices))
        return ValuesIndices(input.gather(dim, indices), constant(indices))

    method.__name__ = name
    return method


variable_method("cummax")(_running_extreme("cummax"))
variable_method("cummin")(_running_extreme("cummin"))


@variable_method("diagonal")
def diagonal(input: Variable, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Variable:
    from axon_tensor.ops.diagonal import diagonal_positions

    if input.ndim < 2:
        return call_tensor_op("diagonal", input, (offset, dim1, dim2), {})  # its ShapeError
    d1, d2 = normalize_dim(dim1, input.ndim, "diagonal"), normalize_dim(dim2, input.ndim, "diagonal")
    if d1 == d2:
        return call_tensor_op("diagonal", input, (offset, dim1, dim2), {})
    length, row, col = diagonal_positions(input.shape[d1], input.shape[d2], offset)
    positions = axon_tensor.arange(length, device=input.device)
    moved = input.movedim((d1, d2), (-2, -1))
    return moved[..., positions + row, positions + col]


@variable_method("diag_embed")
def diag_embed(input: Variable, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Variable:
    from axon_tensor.ops.diagonal import diagonal_positions

    from .shape import IndexInto

    ndim = input.ndim + 1
    d1, d2 = normalize_dim(dim1, ndim, "diag_embed"), normalize_dim(dim2, ndim, "diag_embed")
    if d1 == d2:
        return call_tensor_op("diag_embed", input, (offset, dim1, dim2), {})
    last = input.reshape(1) if input.ndim == 0 else input
    n = last.shape[-1] + abs(offset)
    length, row, col = diagonal_positions(n, n, offset)
    positions = axon_tensor.arange(length, device=input.device)
    key = (Ellipsis, positions + row, positions + col)
    out = IndexInto.apply(last, tuple(last.shape[:-1]) + (n, n), key)
    return out if (d1, d2) == (ndim - 2, ndim - 1) else out.movedim((-2, -1), (d1, d2))


@variable_method("diag")
def diag(input: Variable, diagonal: int = 0) -> Variable:
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return input.diagonal(diagonal)
    return call_tensor_op("diag", input, (diagonal,), {})


def _attach_composites() -> None:
    """Tensor ops written as compositions of methods serve Variables as they are (axon_tensor.ops.composites)."""
    from axon_tensor.ops.composites import COMPOSITES, JOIN

    from .shape import cat

    JOIN[Variable] = lambda parts, dim: cat(parts, dim)
    for name, fn in COMPOSITES.items():
        variable_method(name)(fn)


_attach_composites()


@variable_method("unfold")
def unfold(input: Variable, dimension: int, size: int, step: int) -> Variable:
    """Windows along ``dimension`` as an index (so the gradient sums where windows overlap)."""
    if input.ndim == 0:
        return call_tensor_op("unfold", input, (dimension, size, step), {})
    d = normalize_dim(dimension, input.ndim, "unfold")
    probe = input.data.unfold(d, size, step)  # the Tensor op's checks and output shape
    count = probe.shape[d]
    windows = axon_tensor.arange(count, device=input.device).reshape(-1, 1) * step
    index = windows + axon_tensor.arange(size, device=input.device).reshape(1, -1)
    return input.movedim(d, -1)[..., index].movedim(-2, d)
