"""Gathering and scattering: gather, scatter, scatter_add, index_select, masked_fill, where, clamp."""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_tensor import Tensor, zeros, zeros_like

from ..function import Function
from ..variable import Variable, tensor_of, variable_method
from ._util import constant, meta, reduce_grad

__all__ = ["Gather", "Scatter", "ScatterAdd", "IndexSelect", "MaskedFill", "Where", "Clamp", "where"]


def _zeros_like_meta(shape: tuple, dtype: Any, device: Any) -> Variable:
    return constant(zeros(shape, dtype=dtype, device=device))


class Gather(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int, index: Tensor) -> Tensor:
        ctx.meta = (x.array.shape, x.dtype)
        ctx.dim, ctx.index = dim, index
        return x.gather(dim, index)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        shape, dtype = ctx.meta
        return ScatterAdd.apply(_zeros_like_meta(shape, dtype, g.device), ctx.dim, ctx.index, g)


class Scatter(Function):
    """``x.scatter(dim, index, src)``: ``src`` a Tensor or a Python number."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int, index: Tensor, src: Any) -> Tensor:
        ctx.dim, ctx.index = dim, index
        return x.scatter(dim, index, src)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        need_x, _, _, need_src = ctx.needs_input_grad
        return (
            Scatter.apply(g, ctx.dim, ctx.index, 0.0) if need_x else None,
            None,
            None,
            Gather.apply(g, ctx.dim, ctx.index) if need_src else None,
        )


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
        ctx.dim, ctx.index = dim, index
        return x.scatter_add(dim, index, src)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        need_x, _, _, need_src = ctx.needs_input_grad
        return (g if need_x else None, None, None, Gather.apply(g, ctx.dim, ctx.index) if need_src else None)


class ScatterReduce(Function):
    """``x.scatter_reduce(dim, index, src, reduce, include_self=...)``. Gradients as PyTorch's: sum
    passes ``g`` through, mean divides it by each position's count, amax/amin share it evenly among
    every element equal to the result; prod has no rule here (it raises in backward)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, include_self: bool) -> Tensor:
        y = x.scatter_reduce(dim, index, src, reduce, include_self=include_self)
        ctx.dim, ctx.index, ctx.reduce, ctx.include_self = dim, index, reduce, include_self
        ctx.save_for_backward(x, src, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        x, src, y = (v.data for v in ctx.saved_tensors)
        dim, index, reduce = ctx.dim, ctx.index, ctx.reduce
        need_x, need_src = ctx.needs_input_grad[0], ctx.needs_input_grad[3]
        # Positions something was scattered to: without include_self their old value takes no part.
        hit = zeros_like(x).scatter(dim, index, 1.0) != 0
        keep = 1.0 if ctx.include_self else (~hit).to(g.dtype)
        if reduce == "sum":
            gx = g * keep
            gs = Gather.apply(g, dim, index)
        elif reduce == "mean":
            counts = zeros_like(x).scatter_add(dim, index, axon_tensor.ones_like(src)) + (
                1.0 if ctx.include_self else 0.0
            )
            counts = axon_tensor.where(counts == 0, 1.0, counts)
            gx = g * keep / counts
            gs = Gather.apply(g / counts, dim, index)
        elif reduce in ("amax", "amin"):
            from_x = (x == y).to(g.dtype) * keep
            from_src = (src == y.gather(dim, index)).to(g.dtype)
            count = from_x.scatter_add(dim, index, from_src)
            share = g / count
            gx = share * from_x
            gs = Gather.apply(share, dim, index) * from_src
        else:
            raise RuntimeError(
                f"scatter_reduce: reduce={reduce!r} has no gradient rule in axon (sum, mean, amax, amin do)"
            )
        return (gx if need_x else None, None, None, gs if need_src else None, None, None)


class IndexSelect(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int, index: Tensor) -> Tensor:
        from axon_tensor.tensor import normalize_dim

        d = normalize_dim(dim, x.ndim, "index_select")
        ctx.in_shape = x.array.shape
        ctx.key = (slice(None),) * d + (index.reshape(-1) if index.ndim else index.reshape(1),)
        return x.index_select(dim, index)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        from .shape import IndexInto

        return IndexInto.apply(g, ctx.in_shape, ctx.key)


class MaskedFill(Function):
    """``x.masked_fill(mask, value)``; ``value`` a number or a 0-d Variable (which gets a gradient)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, mask: Tensor, value: Any) -> Tensor:
        ctx.mask = mask
        ctx.meta = (meta(x), meta(value))
        return x.masked_fill(mask, value)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        need_x, _, need_value = ctx.needs_input_grad
        mx, mv = ctx.meta
        gx = reduce_grad(MaskedFill.apply(g, ctx.mask, 0.0), mx) if need_x else None
        gv = reduce_grad(Where.apply(ctx.mask, g, 0.0).sum(), mv) if need_value else None
        return gx, None, gv


class Where(Function):
    """``where(condition, a, b)``; ``a``/``b`` Tensors or numbers, broadcast together."""

    @staticmethod
    def forward(ctx: Any, condition: Tensor, a: Any, b: Any) -> Tensor:
        ctx.condition = condition
        ctx.meta = (meta(a), meta(b))
        return axon_tensor.where(condition, a, b)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        _, need_a, need_b = ctx.needs_input_grad
        ma, mb = ctx.meta
        c = ctx.condition
        return (
            None,
            reduce_grad(Where.apply(c, g, 0.0), ma) if need_a else None,
            reduce_grad(Where.apply(c, 0.0, g), mb) if need_b else None,
        )


def where(condition: Any, a: Any, b: Any) -> Variable:
    """Elementwise ``a if condition else b`` over Variables, Tensors or numbers."""
    return Where.apply(tensor_of(condition), a, b)


class Clamp(Function):
    """``clamp(min, max)`` with number or tensor bounds; the gradient passes where
    ``min <= x <= max`` and goes to a tensor bound where it is the result."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, low: Any = None, high: Any = None) -> Tensor:
        ctx.meta = (meta(x), meta(low), meta(high))
        out = x.clamp(low, high)
        with_low = x if low is None else x.maximum(low) if low.__class__ is Tensor else x.clamp(low, None)
        below = (x < low) if low is not None else None
        above = (with_low > high) if high is not None else None
        ctx.masks = (below, above)
        return out

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        below, above = ctx.masks
        mx, ml, mh = ctx.meta
        need_x, need_low, need_high = (ctx.needs_input_grad + (False, False))[:3]
        pass_mask = None
        for m in (below, above):
            if m is not None:
                pass_mask = ~m if pass_mask is None else pass_mask & ~m
        gx = (g if pass_mask is None else Where.apply(pass_mask, g, 0.0)) if need_x else None
        g_low = g_high = None
        if need_low:
            low_wins = below if above is None else below & ~above
            g_low = reduce_grad(Where.apply(low_wins, g, 0.0), ml)
        if need_high:
            g_high = reduce_grad(Where.apply(above, g, 0.0), mh)
        return reduce_grad(gx, mx) if gx is not None else None, g_low, g_high


@variable_method("gather")
def gather(input: Variable, dim: int, index: Any) -> Variable:
    return Gather.apply(input, dim, tensor_of(index))


@variable_method("scatter")
def scatter(
    input: Variable, dim: int, index: Any, src: Any = None, *, value: Any = None, reduce: str | None = None
) -> Variable:
    source = value if src is None else src
    if reduce is not None:
        kinds = {"add": "sum", "multiply": "prod"}
        if reduce not in kinds:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        if not isinstance(source, (Variable, Tensor)):
            source = axon_tensor.full(tuple(index.shape), source, dtype=input.dtype, device=input.device)
        return ScatterReduce.apply(input, dim, tensor_of(index), source, kinds[reduce], True)
    return Scatter.apply(input, dim, tensor_of(index), source)


@variable_method("scatter_reduce")
def scatter_reduce(
    input: Variable, dim: int, index: Any, src: Any, reduce: str, *, include_self: bool = True
) -> Variable:
    return ScatterReduce.apply(input, dim, tensor_of(index), src, reduce, include_self)


@variable_method("scatter_add")
def scatter_add(input: Variable, dim: int, index: Any, src: Any) -> Variable:
    return ScatterAdd.apply(input, dim, tensor_of(index), src)


@variable_method("index_select")
def index_select(input: Variable, dim: int, index: Any) -> Variable:
    return IndexSelect.apply(input, dim, tensor_of(index))


@variable_method("masked_fill")
def masked_fill(input: Variable, mask: Any, value: Any) -> Variable:
    return MaskedFill.apply(input, tensor_of(mask), value)


@variable_method("where")
def where_method(input: Variable, condition: Any, other: Any) -> Variable:
    return Where.apply(tensor_of(condition), input, other)


@variable_method("clamp", "clip")
def clamp(input: Variable, min: Any = None, max: Any = None) -> Variable:
    return Clamp.apply(input, min, max)


class SortLike(Function):
    """``sort``/``topk``/``kthvalue``/``median(dim)``: values and indices; the gradient of each
    value goes back to where it was taken from."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, name: str, dim: int, keepdim_squeezed: bool, args: tuple, kwargs: dict) -> Any:
        from axon_tensor.tensor import normalize_dim

        ctx.meta = (x.array.shape, x.dtype)
        ctx.dim = normalize_dim(dim, x.ndim, name)
        values, indices = getattr(x, name)(*args, dim=dim, **kwargs)
        ctx.indices = indices.unsqueeze(ctx.dim) if keepdim_squeezed and x.ndim else indices
        ctx.squeezed = keepdim_squeezed and x.ndim > 0
        ctx.mark_non_differentiable(indices)
        return values, indices

    @staticmethod
    def backward(ctx: Any, g: Variable, _indices_grad: Any = None) -> Variable:
        shape, dtype = ctx.meta
        if ctx.squeezed:
            g = g.unsqueeze(ctx.dim)
        if not shape:
            return g.reshape(())
        return ScatterAdd.apply(_zeros_like_meta(shape, dtype, g.device), ctx.dim, ctx.indices, g)


class IndexAdd(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int, index: Tensor, source: Tensor, alpha: Any = 1) -> Tensor:
        ctx.dim, ctx.index, ctx.alpha = dim, index, alpha
        return x.index_add(dim, index, source, alpha=alpha)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        need_x, _, _, need_source = ctx.needs_input_grad[:4]
        g_source = None
        if need_source:
            g_source = IndexSelect.apply(g, ctx.dim, ctx.index)
            g_source = g_source if ctx.alpha == 1 else g_source * ctx.alpha
        return (g if need_x else None, None, None, g_source)


def _values_indices(name: str) -> Any:
    from .reduction import ValuesIndices

    def method(input: Variable, *args: Any, **kwargs: Any) -> Any:
        if name == "sort":
            dim = args[0] if args else kwargs.pop("dim", -1)
            # Positional arguments after ``dim`` become keywords: SortLike passes ``dim=`` by name.
            kwargs.update(zip(("descending", "stable"), args[1:]))
            rest, keep = (), False
        elif name == "topk":
            dim = args[1] if len(args) > 1 else kwargs.pop("dim", -1)
            kwargs.update(zip(("largest", "sorted"), args[2:]))
            rest, keep = args[:1], False
        elif name == "kthvalue":
            dim = args[1] if len(args) > 1 else kwargs.pop("dim", -1)
            keep = not (args[2] if len(args) > 2 else kwargs.get("keepdim", False))
            rest = args[:1]
            kwargs["keepdim"] = not keep
        else:
            if not args and "dim" not in kwargs:
                from ..variable import call_tensor_op

                return call_tensor_op(name, input, args, kwargs)
            dim = args[0] if args else kwargs.pop("dim")
            keep = not (args[1] if len(args) > 1 else kwargs.get("keepdim", False))
            rest = ()
            kwargs["keepdim"] = not keep
        values, indices = SortLike.apply(input, name, dim, keep, tuple(rest), kwargs)
        return ValuesIndices(values, indices)

    method.__name__ = name
    return method


for _name in ("sort", "topk", "kthvalue", "median"):
    variable_method(_name)(_values_indices(_name))


@variable_method("index_add")
def index_add(input: Variable, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Variable:
    return IndexAdd.apply(input, dim, tensor_of(index), source, alpha)


@variable_method("masked_select")
def masked_select(input: Variable, mask: Any) -> Variable:
    mask = tensor_of(mask)
    if tuple(mask.shape) != tuple(input.shape):
        shape = (
            tuple(axon_tensor.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
            if hasattr(axon_tensor, "broadcast_shapes")
            else tuple(input.shape)
        )
        input = input.expand(shape)
        mask = mask.expand(shape)
    from .shape import Index

    return Index.apply(input, mask)


@variable_method("take")
def take(input: Variable, index: Any) -> Variable:
    from .shape import Index, Reshape

    return Index.apply(Reshape.apply(input, (-1,)), tensor_of(index))
