"""Matrix products: matmul (``@``), mm, bmm, mv, dot, outer, addmm, baddbmm, tensordot, einsum.

As in PyTorch, both operands must share a dtype (no silent promotion of a large product), bool is
rejected, and shape errors name the op and both shapes. float16/bfloat16 products accumulate in
float32 and round back, as PyTorch's CPU kernels do.
"""

from __future__ import annotations

import string
from typing import Any, Sequence

import numpy as np

from axon_core import DTypeError, ShapeError

from ..tensor import Tensor, check_same_device, tensor_method, wrap

__all__ = [
    "matmul",
    "mm",
    "bmm",
    "mv",
    "dot",
    "vdot",
    "outer",
    "ger",
    "addmm",
    "addmv",
    "baddbmm",
    "tensordot",
    "einsum",
]

# Below this many elements in all operands together einsum's path search costs more than it saves.
_EINSUM_OPTIMIZE_ELEMENTS = 4096
_SUBSCRIPT_LETTERS = frozenset(string.ascii_letters)
# float32, float64, complex64, complex128: the dtypes BLAS multiplies directly.
_BLAS_CHARS = "fdFD"
_ndarray = np.ndarray
_new = object.__new__


def _operands(op: str, *tensors: Any) -> Any:
    for t in tensors:
        if t.__class__ is not Tensor:
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    device = check_same_device(op, *tensors)
    first = tensors[0].dtype
    for t in tensors[1:]:
        if t.dtype is not first:
            raise DTypeError(f"{op}: expected operands of one dtype, got {', '.join(str(x.dtype) for x in tensors)}")
    if first.is_bool:
        raise DTypeError(f"{op}: bool tensors are not supported")
    return device


def _shapes(*tensors: Tensor) -> str:
    return " and ".join(str(tuple(t.shape)) for t in tensors)


def _product(op: str, fn: Any, *tensors: Tensor) -> Tensor:
    """``fn(xp, *arrays)`` with half floats computed in float32; ValueError becomes ShapeError."""
    device = _operands(op, *tensors)
    xp = device.backend.xp
    arrays = [t._data for t in tensors]
    dtype = arrays[0].dtype
    half = dtype.itemsize == 2 and dtype.kind in "fV"
    if half:
        arrays = [a.astype(np.float32) for a in arrays]
    try:
        out = fn(xp, *arrays)
    except ValueError as exc:
        raise ShapeError(f"{op}: shapes {_shapes(*tensors)} do not match ({exc})") from exc
    out = xp.asarray(out)
    return wrap(out.astype(dtype) if half else out, device)


def _require_ndim(op: str, tensors: Sequence[Tensor], ndims: Sequence[int]) -> None:
    for name, t, ndim in zip(("first", "second", "third"), tensors, ndims):
        if t.__class__ is Tensor and t.ndim != ndim:
            raise ShapeError(f"{op}: the {name} operand must be {ndim}-D, got shape {tuple(t.shape)}")


@tensor_method("matmul", "__matmul__")
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with PyTorch's rules: ``[n] @ [n] -> []``, ``[m, n] @ [n] -> [m]``,
    ``[n] @ [n, p] -> [p]``, ``[*, m, n] @ [*, n, p] -> [*, m, p]`` (batch dims broadcast).
    """
    if other.__class__ is Tensor and input.__class__ is Tensor:
        x, y = input._data, other._data
        dtype = x.dtype
        if dtype is y.dtype and dtype.char in _BLAS_CHARS and input._device is other._device:
            # Hot path: one BLAS dtype, one device; any error (0-d, shapes) takes the checked path.
            # ndarray.dot has less per-call overhead than @ for matrices (both are one GEMM); other
            # ranks go to the backend's matmul (``x @ y``; on the CPU stacks split across threads).
            try:
                out = x.dot(y) if x.ndim == 2 == y.ndim else input._device.backend.matmul(x, y)
            except ValueError:
                pass
            else:
                if out.__class__ is not _ndarray:
                    return wrap(out, input._device)
                t = _new(Tensor)
                t._data, t._device, t._base = out, input._device, None
                return t
        if input.ndim == 0 or other.ndim == 0:
            raise ShapeError(f"matmul: both operands must be at least 1-D, got shapes {_shapes(input, other)}")
    return _product("matmul", _matmul, input, other)


def _matmul(xp: Any, a: Any, b: Any) -> Any:
    return xp.matmul(a, b)


@tensor_method("__rmatmul__")
def _rmatmul(input: Tensor, other: Tensor) -> Tensor:
    return matmul(other, input)


@tensor_method()
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """``[n, m] @ [m, p] -> [n, p]``; both operands strictly 2-D."""
    _require_ndim("mm", (input, mat2), (2, 2))
    return matmul(input, mat2)


@tensor_method()
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """``[b, n, m] @ [b, m, p] -> [b, n, p]``; strictly 3-D with equal batch sizes (no broadcasting)."""
    _require_ndim("bmm", (input, mat2), (3, 3))
    if input.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: batch sizes differ: shapes {_shapes(input, mat2)}")
    return matmul(input, mat2)


@tensor_method()
def mv(input: Tensor, vec: Tensor) -> Tensor:
    """``[n, m] @ [m] -> [n]``."""
    _require_ndim("mv", (input, vec), (2, 1))
    return matmul(input, vec)


@tensor_method()
def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of one length -> 0-d."""
    _require_ndim("dot", (input, other), (1, 1))
    if input.shape[0] != other.shape[0]:
        raise ShapeError(f"dot: 1-D tensors of different lengths: shapes {_shapes(input, other)}")
    return matmul(input, other)


@tensor_method()
def vdot(input: Tensor, other: Tensor) -> Tensor:
    """Like :func:`dot`, conjugating ``input`` first (the same as dot for real tensors)."""
    _require_ndim("vdot", (input, other), (1, 1))
    if input.shape[0] != other.shape[0]:
        raise ShapeError(f"vdot: 1-D tensors of different lengths: shapes {_shapes(input, other)}")
    return _product("vdot", lambda xp, a, b: xp.vdot(a, b), input, other)


@tensor_method("outer", "ger")
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """``[n] x [m] -> [n, m]``: ``out[i, j] = input[i] * vec2[j]``."""
    _require_ndim("outer", (input, vec2), (1, 1))
    return _product("outer", lambda xp, a, b: xp.multiply.outer(a, b), input, vec2)


ger = outer


def _scaled_sum(op: str, input: Tensor, product: Tensor, beta: Any, alpha: Any) -> Tensor:
    from .arithmetic import add, mul

    scaled = product if alpha == 1 else mul(product, alpha)
    if beta == 0:
        # PyTorch ignores input entirely when beta is 0 (its nan/inf do not propagate).
        try:
            shape = np.broadcast_shapes(tuple(input.shape), tuple(scaled.shape))
        except ValueError as exc:
            raise ShapeError(
                f"{op}: input of shape {tuple(input.shape)} does not broadcast to {tuple(scaled.shape)}"
            ) from exc
        if shape != tuple(scaled.shape):
            raise ShapeError(f"{op}: input of shape {tuple(input.shape)} does not broadcast to {tuple(scaled.shape)}")
        return scaled
    base = input if beta == 1 else mul(input, beta)
    try:
        out = add(base, scaled)
    except ShapeError as exc:
        raise ShapeError(
            f"{op}: input of shape {tuple(input.shape)} does not broadcast to {tuple(scaled.shape)}"
        ) from exc
    if tuple(out.shape) != tuple(scaled.shape):
        raise ShapeError(f"{op}: input of shape {tuple(input.shape)} does not broadcast to {tuple(scaled.shape)}")
    return out


@tensor_method()
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``; ``[n, p] + [n, m] @ [m, p]``."""
    return _scaled_sum("addmm", input, mm(mat1, mat2), beta, alpha)


@tensor_method()
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``; ``[n] + [n, m] @ [m]``."""
    return _scaled_sum("addmv", input, mv(mat, vec), beta, alpha)


@tensor_method()
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``; ``[b, n, p] + [b, n, m] @ [b, m, p]``."""
    return _scaled_sum("baddbmm", input, bmm(batch1, batch2), beta, alpha)


@tensor_method()
def tensordot(a: Tensor, b: Tensor, dims: "int | tuple[Sequence[int], Sequence[int]]" = 2) -> Tensor:
    """Contract the last ``dims`` dims of ``a`` with the first ``dims`` of ``b``, or the listed pairs
    ``([dims of a], [dims of b])``.
    """
    if isinstance(dims, int):
        if dims < 0:
            raise ValueError(f"tensordot: dims must be non-negative, got {dims}")
        axes: Any = dims
    else:
        left, right = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(left) != len(right):
            raise ShapeError(f"tensordot: dims lists differ in length: {left} and {right}")
        axes = (left, right)
    return _product("tensordot", lambda xp, x, y: xp.tensordot(x, y, axes=axes), a, b)


def _parse_equation(equation: str, tensors: Sequence[Tensor]) -> None:
    """Check subscripts against the operands; raise a ShapeError naming the equation otherwise."""
    spec = equation.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(tensors):
        raise ShapeError(
            f"einsum: {equation!r} has {len(terms)} operand subscripts but {len(tensors)} tensors were given"
        )
    sizes: dict[str, int] = {}
    for term, t in zip(terms, tensors):
        ellipsis = term.count("...")
        letters = term.replace("...", "")
        if ellipsis > 1 or "." in letters or not set(letters) <= _SUBSCRIPT_LETTERS:
            raise ShapeError(f"einsum: invalid subscripts {term!r} in {equation!r}")
        if (ellipsis and len(letters) > t.ndim) or (not ellipsis and len(letters) != t.ndim):
            raise ShapeError(
                f"einsum: subscripts {term!r} do not fit an operand of shape {tuple(t.shape)} in {equation!r}"
            )
        trailing = len(term.split("...")[-1]) if ellipsis else 0
        for position, letter in enumerate(letters):
            axis = (
                position if not ellipsis or position < len(letters) - trailing else t.ndim - (len(letters) - position)
            )
            size = t.shape[axis]
            known = sizes.setdefault(letter, size)
            if known != size and 1 not in (known, size):
                raise ShapeError(
                    f"einsum: subscript {letter!r} is size {known} and {size} in {equation!r} (shapes "
                    f"{_shapes(*tensors)})"
                )
    if arrow:
        out_letters = output.replace("...", "")
        if (
            "." in out_letters
            or not set(out_letters) <= _SUBSCRIPT_LETTERS
            or len(set(out_letters)) != len(out_letters)
        ):
            raise ShapeError(f"einsum: invalid output subscripts {output!r} in {equation!r}")
        missing = set(out_letters) - set(sizes)
        if missing:
            raise ShapeError(f"einsum: output subscripts {sorted(missing)} appear in no input of {equation!r}")


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``; operands may also come as one list.

    Large or many-operand contractions use NumPy's contraction-order optimizer (BLAS where it can).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if not operands:
        raise ShapeError(f"einsum: {equation!r} needs at least one operand")
    _operands("einsum", *operands)
    _parse_equation(equation, operands)
    optimize = len(operands) > 2 or sum(t._data.size for t in operands) > _EINSUM_OPTIMIZE_ELEMENTS
    return _product("einsum", lambda xp, *arrays: xp.einsum(equation, *arrays, optimize=optimize), *operands)
