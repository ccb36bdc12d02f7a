"""Reductions: sum, mean, var, std, max/min (with and without dim), amax/amin, prod, logsumexp,
norm, cumsum; and the elementwise maximum/minimum."""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

from axon_tensor import Tensor, zeros

from ..function import Function
from ..variable import Variable, variable_method
from ._util import constant, dims_of, keep_shape, meta, reduce_grad

__all__ = ["Sum", "Mean", "Var", "Std", "MaxDim", "Amax", "Prod", "Logsumexp", "Norm", "Cumsum", "Cumprod", "Maximum"]


def _expand_back(g: Variable, ctx: Any) -> Variable:
    """The reduced gradient reshaped to keep the reduced dims, then expanded to the input shape."""
    from .shape import Expand, Reshape

    if g.data.array.shape != ctx.keep:
        g = Reshape.apply(g, ctx.keep)
    return Expand.apply(g, ctx.in_shape)


def _setup(ctx: Any, x: Tensor, dim: Any, op: str) -> tuple[int, ...]:
    dims = dims_of(dim, x.ndim, op)
    if x.ndim == 0:
        # A 0-d tensor reduces over its one implicit dimension (dim 0 or -1) to itself.
        dims = ()
    ctx.in_shape = x.array.shape
    ctx.keep = keep_shape(ctx.in_shape, dims)
    ctx.dims = dims
    ctx.count = math.prod(ctx.in_shape[d] for d in dims)
    return dims


def _setup_reduction(op: str) -> Any:
    """``setup_context`` of a reduction ``op(x, dim=None, ...)``: the shapes backward expands to."""

    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        x = inputs[0]
        _setup(ctx, x, inputs[1] if len(inputs) > 1 else None, op)
        ctx.in_dtype = x.dtype

    return staticmethod(setup_context)


def _call(x: Tensor, name: str, dim: Any, keepdim: bool, **kwargs: Any) -> Tensor:
    method = getattr(x, name)
    if dim is None:
        return method(**kwargs) if not keepdim else method(dim=tuple(range(x.ndim)), keepdim=True, **kwargs)
    return method(dim, keepdim=keepdim, **kwargs)


class Sum(Function):
    autocast_policy = "fp32"
    setup_context = _setup_reduction("sum")

    @staticmethod
    def forward(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        extra = {} if dtype is None else {"dtype": dtype}
        return _call(x, "sum", dim, keepdim, **extra)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        out = _expand_back(g, ctx)
        return out if out.data.dtype is ctx.in_dtype else out.to(ctx.in_dtype)


class Mean(Function):
    autocast_policy = "fp32"
    setup_context = _setup_reduction("mean")

    @staticmethod
    def forward(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _call(x, "mean", dim, keepdim)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return _expand_back(g, ctx) / ctx.count


def _correction(unbiased: Any, correction: Any) -> float:
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


class Var(Function):
    autocast_policy = "fp32"

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: Any = None, correction: float = 1, keepdim: bool = False) -> Tensor:
        dims = _setup(ctx, x, dim, "var")
        ctx.correction = correction
        ctx.save_for_backward(x)
        return x.var(dim=dims, correction=correction, keepdim=keepdim)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        (x,) = ctx.saved_tensors
        centered = x - x.mean(ctx.dims, keepdim=True)
        dof = ctx.count - ctx.correction
        if dof <= 0:
            # No degrees of freedom: PyTorch gives +inf (nan where the element equals the mean).
            return (_expand_back(g, ctx) * centered).abs() * math.inf
        return _expand_back(g, ctx) * centered * (2.0 / dof)


class Std(Function):
    autocast_policy = "fp32"

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: Any = None, correction: float = 1, keepdim: bool = False) -> Tensor:
        dims = _setup(ctx, x, dim, "std")
        ctx.correction = correction
        y = x.std(dim=dims, correction=correction, keepdim=keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        x, y = ctx.saved_tensors
        centered = x - x.mean(ctx.dims, keepdim=True)
        y_keep = _expand_back(y, ctx)
        return _expand_back(g, ctx) * centered / (y_keep * max(ctx.count - ctx.correction, 0))


class MaxDim(Function):
    """``max(dim)`` / ``min(dim)``: values and indices; the gradient goes to the chosen index."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, name: str, dim: int, keepdim: bool = False) -> Any:
        _setup(ctx, x, dim, name)
        ctx.in_dtype = x.dtype
        ctx.dim = ctx.dims[0]
        result = getattr(x, name)(dim, keepdim=keepdim)
        values, indices = result
        ctx.indices = indices if keepdim or x.ndim == 0 else indices.unsqueeze(ctx.dim)
        ctx.mark_non_differentiable(indices)
        ctx.result_type = type(result)
        return result

    @staticmethod
    def backward(ctx: Any, g: Variable, _indices_grad: Any = None) -> Variable:
        from .indexing import Scatter
        from .shape import Reshape

        if ctx.keep == ():
            return Reshape.apply(g, ())
        g = Reshape.apply(g, ctx.keep) if g.data.array.shape != ctx.keep else g
        base = constant(zeros(ctx.in_shape, dtype=ctx.in_dtype, device=g.device))
        return Scatter.apply(base, ctx.dim, ctx.indices, g)


class Amax(Function):
    """``amax``/``amin`` and ``max()``/``min()`` over all elements: ties share the gradient evenly."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, name: str, dim: Any = None, keepdim: bool = False) -> Tensor:
        _setup(ctx, x, dim, name)
        if name in ("max", "min"):
            y = getattr(x, name)()
        else:
            y = getattr(x, name)(dim=ctx.dims, keepdim=keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        x, y = ctx.saved_tensors
        mask = (x.data == _expand_back(y, ctx).data).to(g.dtype)
        count = _expand_back(constant(_sum_dims(mask, ctx.dims)), ctx).data
        return _expand_back(g, ctx) * (mask / count)


class Prod(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
        _setup(ctx, x, dim, "prod")
        y = _call(x, "prod", dim, keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        from .indexing import where

        x, y = ctx.saved_tensors
        is_zero = x.data == 0
        zero_count = _expand_back(constant(_sum_dims(is_zero.to(x.dtype), ctx.dims)), ctx).data
        safe_x = where(is_zero, 1.0, x)
        # Product of the other elements: y / x in slices without zeros; at the single zero of a
        # slice, the product of its non-zero elements; 0 where a slice holds two zeros or more.
        others_nonzero = _expand_back(_prod_dims(safe_x, ctx.dims), ctx)
        others = where(
            zero_count == 0, _expand_back(y, ctx) / safe_x, where(is_zero & (zero_count == 1), others_nonzero, 0.0)
        )
        return _expand_back(g, ctx) * others


def _sum_dims(t: Tensor, dims: tuple[int, ...]) -> Tensor:
    for d in dims:
        t = t.sum(d, keepdim=True)
    return t


def _prod_dims(x: Variable, dims: tuple[int, ...]) -> Variable:
    for d in dims:
        x = x.prod(d, keepdim=True)
    return x


class Logsumexp(Function):
    autocast_policy = "fp32"

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
        _setup(ctx, x, dim, "logsumexp")
        y = x.logsumexp(ctx.dims, keepdim=keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        x, y = ctx.saved_tensors
        return _expand_back(g, ctx) * (x - _expand_back(y, ctx)).exp()


class Norm(Function):
    """Vector p-norm over ``dim`` (all elements by default): p = 2 ('fro'), 1, inf, -inf, 0 or any p."""

    autocast_policy = "fp32"

    @staticmethod
    def forward(ctx: Any, x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
        _setup(ctx, x, dim, "norm")
        ctx.p = 2.0 if p == "fro" else float(p)
        y = x.norm(p, dim, keepdim) if dim is not None else x.norm(p)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        from .indexing import where

        x, y = ctx.saved_tensors
        p = ctx.p
        g_full = _expand_back(g, ctx)
        if p == 0:
            return g_full * 0.0
        sign = constant(x.data.sign())
        if p == 1:
            return g_full * sign
        y_full = _expand_back(y, ctx)
        if math.isinf(p):
            mask = (x.data.abs() == y_full.data).to(x.dtype)
            count = _expand_back(constant(_sum_dims(mask, ctx.dims)), ctx).data
            return g_full * sign * (mask / count)
        safe_y = where(y_full.data == 0, 1.0, y_full)
        if p == 2:
            return where(y_full.data == 0, 0.0, g_full * x / safe_y)
        scaled = x * x.abs() ** (p - 2) / safe_y ** (p - 1)
        return where(y_full.data == 0, 0.0, g_full * scaled)


class Cumsum(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int) -> Tensor:
        ctx.dim = dims_of(dim, x.ndim, "cumsum")[0]
        return x.cumsum(dim)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        # Reverse cumulative sum: total - cumsum + g.
        dim = ctx.dim
        return g.sum(dim, keepdim=True) - g.cumsum(dim) + g


class Cumprod(Function):
    """Cumulative product. Its gradient ``sum_{j>=i} g_j * y_j / x_i`` is written without dividing by
    ``x`` (so zeros are fine, as PyTorch's): for each ``i``, the product of the other elements up to
    ``j`` is an exclusive cumulative product, computed in Variable math so it is differentiable again."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int) -> Tensor:
        ctx.dim = dims_of(dim, x.ndim, "cumprod")[0] if x.ndim else 0
        ctx.save_for_backward(x)
        return x.cumprod(dim)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        (x,) = ctx.saved_tensors
        if x.ndim == 0:
            return g
        dim, n = ctx.dim, x.shape[ctx.dim]
        # d y_j / d x_i = prod_{k <= j, k != i} x_k for j >= i: an [n, n] triangle per slice.
        moved_x, moved_g = x.movedim(dim, -1), g.movedim(dim, -1)
        eye = constant(_eye_of(n, x))
        # rows i, columns k: x_k, with x_i replaced by 1
        others = moved_x.unsqueeze(-2) * (1.0 - eye) + eye
        partial = others.cumprod(-1)  # [*, i, j]: prod_{k <= j, k != i} x_k
        upper = constant(_upper_of(n, x))
        grad = (partial * upper * moved_g.unsqueeze(-2)).sum(-1)
        return grad.movedim(-1, dim)


def _eye_of(n: int, like: Any) -> Tensor:
    from axon_tensor import eye

    return eye(n, dtype=like.dtype, device=like.device)


def _upper_of(n: int, like: Any) -> Tensor:
    """``[n, n]`` ones on and above the diagonal (row i, column j: j >= i)."""
    from axon_tensor import ones

    return ones(n, n, dtype=like.dtype, device=like.device).triu()


class Maximum(Function):
    """Elementwise ``maximum``/``minimum``; ties split the gradient in half, as in PyTorch."""

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor, name: str) -> Tensor:
        ctx.meta = (meta(a), meta(b))
        ctx.name = name
        ctx.save_for_backward(a, b)
        return getattr(a, name)(b)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        a, b = ctx.saved_tensors
        first = ctx.name == "maximum"
        wins = (a.data > b.data) if first else (a.data < b.data)
        ties = (a.data == b.data).to(g.dtype) * 0.5
        wa = wins.to(g.dtype) + ties
        wb = 1.0 - wa
        ma, mb = ctx.meta
        return (
            reduce_grad(g * wa, ma) if ctx.needs_input_grad[0] else None,
            reduce_grad(g * wb, mb) if ctx.needs_input_grad[1] else None,
        )


ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


@variable_method("sum")
def sum(input: Variable, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Variable:
    return Sum.apply(input, dim, keepdim, dtype)


@variable_method("mean")
def mean(input: Variable, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Variable:
    if dtype is not None:
        input = input.to(dtype)
    return Mean.apply(input, dim, keepdim)


def _var_args(dim: Any, unbiased: Any, correction: Any) -> tuple:
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return dim, _correction(unbiased, correction)


@variable_method("var")
def var(
    input: Variable, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None
) -> Variable:
    dim, c = _var_args(dim, unbiased, correction)
    return Var.apply(input, dim, c, keepdim)


@variable_method("std")
def std(
    input: Variable, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None
) -> Variable:
    dim, c = _var_args(dim, unbiased, correction)
    return Std.apply(input, dim, c, keepdim)


def _max_or_min(name: str, pairwise: str) -> Any:
    def reduce(input: Variable, dim: Any = None, keepdim: bool = False) -> Any:
        if dim is None:
            return Amax.apply(input, name)
        if isinstance(dim, (Variable, Tensor)):
            return Maximum.apply(input, dim, pairwise)
        values, indices = MaxDim.apply(input, name, dim, keepdim)
        return ValuesIndices(values, indices)

    reduce.__name__ = name
    return reduce


variable_method("max")(_max_or_min("max", "maximum"))
variable_method("min")(_max_or_min("min", "minimum"))


@variable_method("amax")
def amax(input: Variable, dim: Any = (), keepdim: bool = False) -> Variable:
    return Amax.apply(input, "amax", dim if dim != () else None, keepdim)


@variable_method("amin")
def amin(input: Variable, dim: Any = (), keepdim: bool = False) -> Variable:
    return Amax.apply(input, "amin", dim if dim != () else None, keepdim)


@variable_method("prod")
def prod(input: Variable, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Variable:
    if dtype is not None:
        input = input.to(dtype)
    return Prod.apply(input, dim, keepdim)


@variable_method("logsumexp")
def logsumexp(input: Variable, dim: Any, keepdim: bool = False) -> Variable:
    return Logsumexp.apply(input, dim, keepdim)


@variable_method("norm")
def norm(input: Variable, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Variable:
    return Norm.apply(input, p, dim, keepdim)


@variable_method("cumsum")
def cumsum(input: Variable, dim: int) -> Variable:
    return Cumsum.apply(input, dim)


@variable_method("cumprod")
def cumprod(input: Variable, dim: int, *, dtype: Any = None) -> Variable:
    if dtype is not None:
        input = input.to(dtype)
    return Cumprod.apply(input, dim)


@variable_method("maximum")
def maximum(input: Variable, other: Any) -> Variable:
    return Maximum.apply(input, other, "maximum")


@variable_method("minimum")
def minimum(input: Variable, other: Any) -> Variable:
    return Maximum.apply(input, other, "minimum")
