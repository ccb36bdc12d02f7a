"""Views and layout: reshape/view/flatten/squeeze/unsqueeze, transpose, permute, expand, narrow,
select, indexing (``x[key]`` with every index kind), chunk/split/unbind, flip, repeat, cat, stack."""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_core import DType
from axon_tensor import Tensor
from axon_tensor.tensor import normalize_dim, wrap

from ..function import Function
from ..variable import Variable, variable_method
from ._util import reduce_grad

__all__ = [
    "Reshape",
    "Transpose",
    "Permute",
    "Expand",
    "Index",
    "IndexInto",
    "Split",
    "Flip",
    "Repeat",
    "Cat",
    "Stack",
    "cat",
    "stack",
]


def _sizes(args: tuple) -> tuple:
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)


def _keep_input_shape(ctx: Any, inputs: tuple, output: Tensor) -> None:
    ctx.in_shape = inputs[0].array.shape


class Reshape(Function):
    setup_context = staticmethod(_keep_input_shape)

    @staticmethod
    def forward(x: Tensor, shape: tuple) -> Tensor:
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return Reshape.apply(g, ctx.in_shape)


def _same_elements_function(name: str) -> type[Function]:
    """A view that keeps every element in order (view, flatten, squeeze, ...): backward reshapes."""

    tensor_op = getattr(Tensor, name, None)

    def forward(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return tensor_op(x, *args, **kwargs)

    def backward(ctx: Any, g: Variable) -> Variable:
        return Reshape.apply(g, ctx.in_shape)

    return type(
        name.capitalize(),
        (Function,),
        {
            "forward": staticmethod(forward),
            "backward": staticmethod(backward),
            "setup_context": staticmethod(_keep_input_shape),
        },
    )


View = _same_elements_function("view")
Flatten = _same_elements_function("flatten")
Squeeze = _same_elements_function("squeeze")
Unsqueeze = _same_elements_function("unsqueeze")
Unflatten = _same_elements_function("unflatten")


class Transpose(Function):
    @staticmethod
    def forward(x: Tensor, dim0: int, dim1: int) -> Tensor:
        return x.transpose(dim0, dim1)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        ctx.dims = inputs[1:]

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return Transpose.apply(g, *ctx.dims)


class Permute(Function):
    @staticmethod
    def forward(x: Tensor, dims: tuple) -> Tensor:
        return x.permute(*dims)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        x, dims = inputs
        ndim = x.ndim
        order = [normalize_dim(d, ndim, "permute") for d in dims]
        ctx.inverse = tuple(sorted(range(len(order)), key=order.__getitem__))

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return Permute.apply(g, ctx.inverse)


class Expand(Function):
    @staticmethod
    def forward(x: Tensor, sizes: tuple) -> Tensor:
        return x.expand(*sizes)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        x = inputs[0]
        ctx.meta = (x.array.shape, x.dtype)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return reduce_grad(g, ctx.meta)


def _raw_key(key: Any) -> Any:
    """``key`` with Variables replaced by their Tensors."""
    if isinstance(key, Variable):
        return key.data
    if isinstance(key, tuple):
        return tuple(k.data if isinstance(k, Variable) else k for k in key)
    if isinstance(key, list) and any(isinstance(k, Variable) for k in key):
        return [k.data if isinstance(k, Variable) else k for k in key]
    return key


def _array_key(key: Any) -> Any:
    """``key`` for indexing backend arrays directly (Tensors become their arrays)."""
    if key.__class__ is Tensor:
        return key.array
    if isinstance(key, tuple):
        return tuple(k.array if k.__class__ is Tensor else k for k in key)
    return key


def _is_advanced(key: Any) -> bool:
    items = key if isinstance(key, tuple) else (key,)
    return any(k.__class__ is Tensor or isinstance(k, list) for k in items)


class Index(Function):
    """``x[key]``: ints, slices, None, Ellipsis, bool masks and integer index tensors/lists."""

    @staticmethod
    def forward(x: Tensor, key: Any) -> Tensor:
        return x[key]

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        x, ctx.key = inputs
        ctx.in_shape = x.array.shape

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return IndexInto.apply(g, ctx.in_shape, ctx.key)


class IndexInto(Function):
    """Zeros of ``shape`` with ``g`` written at ``key``, summed where an index repeats: the
    gradient of indexing (and of narrow, select, index_select)."""

    @staticmethod
    def forward(ctx: Any, g: Tensor, shape: tuple, key: Any) -> Tensor:
        ctx.key = key
        xp = g.backend.xp
        out = xp.zeros(shape, dtype=g.array.dtype)
        if _is_advanced(key):
            # Through Tensor.index_put_, which places index-array dims as the forward did (PyTorch's rule).
            wrap(out, g.device).index_put_(key if isinstance(key, tuple) else (key,), g, accumulate=True)
        else:
            out[_array_key(key)] = g.array
        return wrap(out, g.device)

    @staticmethod
    def backward(ctx: Any, u: Variable) -> Variable:
        return Index.apply(u, ctx.key)


class Narrow(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int, start: int, length: int) -> Tensor:
        d = normalize_dim(dim, x.ndim, "narrow")
        start = start % x.array.shape[d] if start < 0 else start
        ctx.in_shape = x.array.shape
        ctx.key = (slice(None),) * d + (slice(start, start + length),)
        return x.narrow(dim, start, length)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return IndexInto.apply(g, ctx.in_shape, ctx.key)


class Select(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int, index: int) -> Tensor:
        d = normalize_dim(dim, x.ndim, "select")
        ctx.in_shape = x.array.shape
        ctx.key = (slice(None),) * d + (index,)
        return x.select(dim, index)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return IndexInto.apply(g, ctx.in_shape, ctx.key)


class Split(Function):
    """chunk / split / unbind: several views; backward joins their gradients (zeros for unused)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, name: str, *args: Any, **kwargs: Any) -> tuple:
        if name == "unbind":
            dim = args[0] if args else kwargs.get("dim", 0)
        else:
            dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        ctx.dim = normalize_dim(dim, x.ndim, name)
        ctx.stacked = name == "unbind"
        return tuple(getattr(x, name)(*args, **kwargs))

    @staticmethod
    def backward(ctx: Any, *grads: Variable) -> Variable:
        return (Stack if ctx.stacked else Cat).apply(ctx.dim, *grads)


class Flip(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dims: tuple) -> Tensor:
        ctx.dims = dims
        return x.flip(dims)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return Flip.apply(g, ctx.dims)


class Repeat(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, sizes: tuple) -> Tensor:
        ctx.in_shape = x.array.shape
        ctx.sizes = sizes
        return x.repeat(*sizes)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        sizes = ctx.sizes
        padded = (1,) * (len(sizes) - len(ctx.in_shape)) + tuple(ctx.in_shape)
        # [r0*s0, r1*s1, ...] -> [r0, s0, r1, s1, ...], then sum over every r.
        split = tuple(v for pair in zip(sizes, padded) for v in pair)
        summed = g.reshape(split).sum(tuple(range(0, 2 * len(sizes), 2)))
        return summed.reshape(ctx.in_shape)


class Cat(Function):
    @staticmethod
    def forward(ctx: Any, dim: int, *tensors: Tensor) -> Tensor:
        out = axon_tensor.cat(tensors, dim)
        ctx.dim = normalize_dim(dim, out.ndim, "cat")
        ctx.sizes = tuple(t.array.shape[ctx.dim] if t.ndim else 0 for t in tensors)
        return out

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        grads: list[Any] = [None]
        offset = 0
        for size, needed in zip(ctx.sizes, ctx.needs_input_grad[1:]):
            grads.append(Narrow.apply(g, ctx.dim, offset, size) if needed else None)
            offset += size
        return tuple(grads)


class Stack(Function):
    @staticmethod
    def forward(ctx: Any, dim: int, *tensors: Tensor) -> Tensor:
        out = axon_tensor.stack(tensors, dim)
        ctx.dim = normalize_dim(dim, out.ndim, "stack")
        return out

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        return (None,) + tuple(
            Select.apply(g, ctx.dim, i) if needed else None for i, needed in enumerate(ctx.needs_input_grad[1:])
        )


def cat(tensors: Any, dim: int = 0) -> Variable:
    """Join Variables along ``dim``: ``[..., n_i, ...] -> [..., sum n_i, ...]``."""
    return Cat.apply(dim, *tensors)


def stack(tensors: Any, dim: int = 0) -> Variable:
    """Stack same-shaped Variables along a new ``dim``."""
    return Stack.apply(dim, *tensors)


@variable_method("reshape")
def reshape(input: Variable, *shape: Any) -> Variable:
    return Reshape.apply(input, _sizes(shape))


@variable_method("view")
def view(input: Variable, *shape: Any) -> Variable:
    if len(shape) == 1 and isinstance(shape[0], DType):
        from ..variable import call_tensor_op

        # A bitcast has no gradient: like any op without a rule, it refuses an input that requires grad.
        return call_tensor_op("view", input, shape, {})
    return View.apply(input, _sizes(shape))


variable_method("view_as")(lambda input, other: View.apply(input, tuple(other.shape)))
variable_method("reshape_as")(lambda input, other: Reshape.apply(input, tuple(other.shape)))
variable_method("flatten")(lambda input, start_dim=0, end_dim=-1: Flatten.apply(input, start_dim, end_dim))
variable_method("unflatten")(lambda input, dim, sizes: Unflatten.apply(input, dim, sizes))
variable_method("squeeze")(lambda input, *dim: Squeeze.apply(input, *dim))
variable_method("unsqueeze")(lambda input, dim: Unsqueeze.apply(input, dim))
variable_method("transpose", "swapaxes", "swapdims")(lambda input, dim0, dim1: Transpose.apply(input, dim0, dim1))
variable_method("t")(lambda input: input if input.ndim < 2 else Transpose.apply(input, 0, 1))
variable_method("permute")(lambda input, *dims: Permute.apply(input, _sizes(dims)))
variable_method("expand")(lambda input, *sizes: Expand.apply(input, _sizes(sizes)))
variable_method("expand_as")(lambda input, other: Expand.apply(input, tuple(other.shape)))
variable_method("narrow")(lambda input, dim, start, length: Narrow.apply(input, dim, start, length))
variable_method("select")(lambda input, dim, index: Select.apply(input, dim, index))
variable_method("chunk")(lambda input, *args, **kwargs: Split.apply(input, "chunk", *args, **kwargs))
variable_method("split")(lambda input, *args, **kwargs: Split.apply(input, "split", *args, **kwargs))
variable_method("unbind")(lambda input, *args, **kwargs: Split.apply(input, "unbind", *args, **kwargs))
variable_method("flip")(lambda input, *dims: Flip.apply(input, _sizes(dims)))
variable_method("repeat")(lambda input, *sizes: Repeat.apply(input, _sizes(sizes)))
if hasattr(Tensor, "__getitem__"):
    Variable.__getitem__ = lambda self, key: Index.apply(self, _raw_key(key))  # type: ignore[attr-defined]
if hasattr(Tensor, "permute"):
    Variable.T = property(lambda self: Permute.apply(self, tuple(range(self.ndim - 1, -1, -1))))  # type: ignore[attr-defined]
if hasattr(Tensor, "transpose"):
    Variable.mT = property(lambda self: Transpose.apply(self, -2, -1))  # type: ignore[attr-defined]


class Triangle(Function):
    """``tril``/``triu``: the gradient keeps the same triangle."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, name: str, diagonal: int = 0) -> Tensor:
        ctx.name, ctx.diagonal = name, diagonal
        return getattr(x, name)(diagonal)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return Triangle.apply(g, ctx.name, ctx.diagonal)


class Roll(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
        ctx.shifts, ctx.dims = shifts, dims
        return x.roll(shifts, dims)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        shifts = ctx.shifts
        back = tuple(-s for s in shifts) if isinstance(shifts, (tuple, list)) else -shifts
        return Roll.apply(g, back, ctx.dims)


def _movedim(input: Variable, source: Any, destination: Any) -> Variable:
    ndim = input.ndim
    src = [normalize_dim(d, ndim, "movedim") for d in ((source,) if isinstance(source, int) else source)]
    dst = [normalize_dim(d, ndim, "movedim") for d in ((destination,) if isinstance(destination, int) else destination)]
    order = [None] * ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(ndim) if d not in src)
    return Permute.apply(input, tuple(o if o is not None else next(rest) for o in order))


def _tile(input: Variable, *dims: Any) -> Variable:
    sizes = _sizes(dims)
    return Repeat.apply(input, (1,) * (input.ndim - len(sizes)) + tuple(sizes))


variable_method("tril")(lambda input, diagonal=0: Triangle.apply(input, "tril", diagonal))
variable_method("triu")(lambda input, diagonal=0: Triangle.apply(input, "triu", diagonal))
variable_method("roll")(lambda input, shifts, dims=None: Roll.apply(input, shifts, dims))
variable_method("movedim", "moveaxis")(_movedim)
variable_method("tile")(_tile)
