"""Reductions over one or more dimensions, and cumulative sums/products.

``dim`` is an int, a tuple of ints (negative counts from the end) or None (every dimension);
``keepdim`` keeps reduced dimensions as size 1. Following PyTorch: integer and bool sums and
products are int64, ``mean``/``var``/``std`` need floating inputs, float16/bfloat16 accumulate in
float32 and round back, ``max``/``min`` with a dim return ``(values, indices)``, and reducing
an empty dimension with max/min/argmax raises IndexError.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, NamedTuple, Sequence

import numpy as np

from axon_core import DTypeError, as_dtype, get_default_dtype

from ..tensor import Tensor, normalize_dim, tensor_method, wrap

__all__ = [
    "ValuesIndices",
    "sum",
    "mean",
    "var",
    "std",
    "max",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "prod",
    "logsumexp",
    "all",
    "any",
    "cumsum",
    "cumprod",
    "logcumsumexp",
    "norm",
    "count_nonzero",
    "median",
    "aminmax",
    "var_mean",
    "std_mean",
]

Dim = int | Sequence[int] | None
_add_reduce = np.add.reduce


class ValuesIndices(NamedTuple):
    """``(values, indices)`` of ``max``/``min``/``median`` along a dimension."""

    values: Tensor
    indices: Tensor


class MinMax(NamedTuple):
    """``(min, max)`` of :func:`aminmax`."""

    min: Tensor
    max: Tensor


def _axes(op: str, dim: Dim, ndim: int) -> tuple[int, ...] | None:
    """Normalized, duplicate-free axes; None means every dimension."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:
        return None
    axes = tuple(normalize_dim(int(d), ndim, op) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {tuple(dims)} names a dimension more than once")
    return axes


def _is_half(dtype: np.dtype) -> bool:
    return dtype.itemsize == 2 and dtype.kind in "fV"


def _reduce(
    op: str, input: Tensor, dim: Dim, keepdim: bool, fn: Any, work: Any = None, out: Any = None, quiet: bool = False
) -> Tensor:
    """``fn(xp, array, axis, keepdims)`` over ``dim``; ``array`` is cast to ``work`` first and the
    result to ``out`` (defaults: half floats accumulate in float32 and return their own dtype).
    ``quiet`` silences NumPy's warnings where PyTorch returns nan quietly (mean of nothing).
    """
    data = input._data
    xp = input._device.backend.xp
    axes = _axes(op, dim, data.ndim)
    if data.ndim == 0:
        # A 0-d tensor reduces over its one implicit dimension (dim 0 or -1) to itself.
        axes = None
    if work is None and _is_half(data.dtype):
        work, out = np.float32, data.dtype if out is None else out
    if work is not None and data.dtype != work:
        data = data.astype(work)
    if quiet:
        with np.errstate(all="ignore"):
            result = fn(xp, data, axes, keepdim)
    else:
        result = fn(xp, data, axes, keepdim)
    result = xp.asarray(result)
    if out is not None and result.dtype != out:
        result = result.astype(out)
    return wrap(result, input._device)


def _sum_dtype(input: Tensor, dtype: Any) -> Any:
    if dtype is not None:
        return as_dtype(dtype).np
    return np.int64 if input._data.dtype.kind in "biu" else None


@tensor_method()
def sum(input: Tensor, dim: Dim = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Sum over ``dim``; bool and integer inputs sum as int64 unless ``dtype`` is given."""
    data = input._data
    if dim is None and dtype is None and not keepdim and data.dtype.char in "fdFD":
        # Hot path: a full float sum needs no casts or axis bookkeeping; on NumPy arrays the
        # ufunc reduction skips ndarray.sum's Python-level wrapper.
        return wrap(_add_reduce(data, None) if data.__class__ is np.ndarray else data.sum(), input._device)
    work = _sum_dtype(input, dtype)
    return _reduce("sum", input, dim, keepdim, lambda xp, x, axis, kd: xp.sum(x, axis=axis, keepdims=kd), work, work)


@tensor_method()
def prod(input: Tensor, dim: Dim = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product over ``dim``; bool and integer inputs multiply as int64 unless ``dtype`` is given."""
    work = _sum_dtype(input, dtype)
    return _reduce("prod", input, dim, keepdim, lambda xp, x, axis, kd: xp.prod(x, axis=axis, keepdims=kd), work, work)


def _floating(op: str, input: Tensor, dtype: Any) -> Any:
    chosen = input.dtype if dtype is None else as_dtype(dtype)
    if not (chosen.is_floating_point or chosen.is_complex):
        raise DTypeError(
            f"{op}: could not infer an output dtype; the input must be floating point or complex (or pass dtype=), "
            f"got {input.dtype}"
        )
    return None if dtype is None else chosen.np


@tensor_method()
def mean(input: Tensor, dim: Dim = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Arithmetic mean over ``dim`` (nan for an empty reduction); floating or complex inputs only."""
    work = _floating("mean", input, dtype)
    return _reduce(
        "mean", input, dim, keepdim, lambda xp, x, axis, kd: xp.mean(x, axis=axis, keepdims=kd), work, work, quiet=True
    )


def _correction(op: str, unbiased: bool | None, correction: float | None) -> float:
    if unbiased is not None and correction is not None:
        raise ValueError(f"{op}: give either unbiased or correction, not both")
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def _var(xp: Any, x: Any, axis: Any, keepdim: bool, correction: float) -> Any:
    count = x.size if axis is None else math.prod(x.shape[a] for a in axis)
    centered = x - x.mean(axis=axis, keepdims=True)
    squared = (centered * centered.conj()).real if x.dtype.kind == "c" else centered * centered
    # PyTorch clamps the divisor at 0: too large a correction gives inf (or nan for 0/0).
    return squared.sum(axis=axis, keepdims=keepdim) / builtins.max(count - correction, 0)


@tensor_method()
def var(
    input: Tensor,
    dim: Dim = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Variance over ``dim`` with ``correction`` (1 by default: Bessel's, like PyTorch)."""
    _floating("var", input, None)
    c = _correction("var", unbiased, correction)
    return _reduce("var", input, dim, keepdim, lambda xp, x, axis, kd: _var(xp, x, axis, kd, c), quiet=True)


@tensor_method()
def std(
    input: Tensor,
    dim: Dim = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation over ``dim``: ``sqrt(var(...))``."""
    _floating("std", input, None)
    c = _correction("std", unbiased, correction)
    return _reduce("std", input, dim, keepdim, lambda xp, x, axis, kd: xp.sqrt(_var(xp, x, axis, kd, c)), quiet=True)


@tensor_method()
def var_mean(
    input: Tensor,
    dim: Dim = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim``."""
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


@tensor_method()
def std_mean(
    input: Tensor,
    dim: Dim = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim``."""
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def _check_nonempty(op: str, input: Tensor, axes: tuple[int, ...] | None) -> None:
    shape = input._data.shape
    if axes is None:
        if input._data.size == 0:
            raise RuntimeError(f"{op}: cannot reduce an empty tensor of shape {tuple(shape)} without a dim")
        return
    for axis in axes:
        if input._data.ndim and shape[axis] == 0:
            raise IndexError(f"{op}: reduction dim {axis} of shape {tuple(shape)} has size 0")


def _extreme(op: str, input: Tensor, dim: Dim, keepdim: bool, name: str) -> Tensor:
    if input.dtype.is_complex:
        raise DTypeError(f"{op}: complex tensors have no ordering")
    _check_nonempty(op, input, _axes(op, dim, input._data.ndim))
    # max/min are exact in any dtype, so no float32 accumulation is needed.
    keep = input._data.dtype
    return _reduce(
        op, input, dim, keepdim, lambda xp, x, axis, kd: getattr(xp, name)(x, axis=axis, keepdims=kd), keep, keep
    )


@tensor_method()
def amax(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Largest value over ``dim`` (nan if any is nan)."""
    return _extreme("amax", input, dim, keepdim, "max")


@tensor_method()
def amin(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Smallest value over ``dim`` (nan if any is nan)."""
    return _extreme("amin", input, dim, keepdim, "min")


@tensor_method()
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> MinMax:
    """``(amin, amax)`` over ``dim``."""
    return MinMax(amin(input, dim, keepdim), amax(input, dim, keepdim))


def _arg(op: str, input: Tensor, dim: int | None, keepdim: bool, name: str) -> Tensor:
    if input.dtype.is_complex:
        raise DTypeError(f"{op}: complex tensors have no ordering")
    data = input._data
    xp = input._device.backend.xp
    if data.dtype.kind == "V":
        data = data.astype(np.float32)
    if dim is None:
        _check_nonempty(op, input, None)
        index = getattr(xp, name)(data.reshape(-1))
        shape = (1,) * data.ndim if keepdim else ()
        return wrap(xp.asarray(index, dtype=np.int64).reshape(shape), input._device)
    axis = normalize_dim(dim, data.ndim, op)
    if data.ndim == 0:
        return wrap(xp.zeros((), dtype=np.int64), input._device)
    _check_nonempty(op, input, (axis,))
    index = getattr(xp, name)(data, axis=axis, keepdims=keepdim)
    return wrap(xp.asarray(index, dtype=np.int64), input._device)


@tensor_method()
def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (first one on ties; a nan counts as largest); flat when ``dim`` is None."""
    return _arg("argmax", input, dim, keepdim, "argmax")


@tensor_method()
def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value (first one on ties; a nan counts as smallest); flat when ``dim`` is None."""
    return _arg("argmin", input, dim, keepdim, "argmin")


def _max_or_min(op: str, input: Tensor, dim: Any, keepdim: bool, extreme: Any, arg: Any, pairwise: str) -> Any:
    if dim.__class__ is Tensor:
        from . import arithmetic

        return getattr(arithmetic, pairwise)(input, dim)
    if dim is None:
        if keepdim:
            raise TypeError(f"{op}: keepdim needs a dim")
        return extreme(input)
    return ValuesIndices(extreme(input, dim, keepdim), arg(input, dim, keepdim))


@tensor_method()
def max(input: Tensor, dim: "int | Tensor | None" = None, keepdim: bool = False) -> Any:
    """The largest value (0-d tensor); with ``dim``, ``(values, indices)`` along it; with a
    tensor, the elementwise :func:`maximum`.
    """
    return _max_or_min("max", input, dim, keepdim, amax, argmax, "maximum")


@tensor_method()
def min(input: Tensor, dim: "int | Tensor | None" = None, keepdim: bool = False) -> Any:
    """The smallest value (0-d tensor); with ``dim``, ``(values, indices)`` along it; with a
    tensor, the elementwise :func:`minimum`.
    """
    return _max_or_min("min", input, dim, keepdim, amin, argmin, "minimum")


def _float_input(input: Tensor) -> Any:
    return None if input._data.dtype.kind in "fVc" else get_default_dtype().np


@tensor_method()
def logsumexp(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim``, computed without overflow; -inf for an empty dim."""

    def compute(xp: Any, x: Any, axis: Any, kd: bool) -> Any:
        if x.size == 0:
            return xp.log(xp.sum(xp.exp(x), axis=axis, keepdims=kd))
        peak = xp.max(x, axis=axis, keepdims=True)
        # An all -inf (or +inf) slice would give inf - inf = nan; shift it by 0 instead.
        peak = xp.where(xp.isinf(peak), 0, peak)
        total = xp.log(xp.sum(xp.exp(x - peak), axis=axis, keepdims=True)) + peak
        return total if kd else (total.reshape(()) if axis is None else xp.squeeze(total, axis=axis))

    work = _float_input(input)
    return _reduce("logsumexp", input, dim, keepdim, compute, work, work, quiet=True)


@tensor_method()
def all(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Bool: whether every element over ``dim`` is nonzero (true for an empty dim)."""
    return _reduce(
        "all", input, dim, keepdim, lambda xp, x, axis, kd: xp.all(x, axis=axis, keepdims=kd), np.bool_, np.bool_
    )


@tensor_method()
def any(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """Bool: whether some element over ``dim`` is nonzero (false for an empty dim)."""
    return _reduce(
        "any", input, dim, keepdim, lambda xp, x, axis, kd: xp.any(x, axis=axis, keepdims=kd), np.bool_, np.bool_
    )


@tensor_method()
def count_nonzero(input: Tensor, dim: Dim = None) -> Tensor:
    """int64 count of nonzero elements over ``dim``."""
    return _reduce(
        "count_nonzero",
        input,
        dim,
        False,
        lambda xp, x, axis, kd: xp.sum(x != 0, axis=axis, dtype=np.int64),
        None,
        np.int64,
    )


def _cumulative(op: str, input: Tensor, dim: int, dtype: Any, name: str) -> Tensor:
    data = input._data
    xp = input._device.backend.xp
    work = _sum_dtype(input, dtype)
    out = None
    if work is None and _is_half(data.dtype):
        work, out = np.float32, data.dtype
    if work is not None:
        data = data.astype(work)
    axis = normalize_dim(dim, data.ndim, op)
    if data.ndim == 0:
        result = data.copy()
    else:
        with np.errstate(all="ignore"):
            result = getattr(xp, name)(data, axis=axis)
    return wrap(result if out is None else result.astype(out), input._device)


@tensor_method()
def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sum along ``dim``; integers accumulate as int64."""
    return _cumulative("cumsum", input, dim, dtype, "cumsum")


@tensor_method()
def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running product along ``dim``; integers accumulate as int64."""
    return _cumulative("cumprod", input, dim, dtype, "cumprod")


@tensor_method()
def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(input), dim))`` without overflow (a running ``logaddexp``); floating inputs only."""
    _floating("logcumsumexp", input, None)
    data = input._data
    flat = data.reshape(1) if data.ndim == 0 else data
    axis = normalize_dim(dim, flat.ndim, "logcumsumexp")
    work = flat.astype(np.float32) if _is_half(flat.dtype) else flat
    xp = input._device.backend.xp
    with np.errstate(invalid="ignore"):
        out = xp.logaddexp.accumulate(work, axis=axis)
    return wrap(out.astype(data.dtype, copy=False).reshape(data.shape), input._device)


@tensor_method()
def norm(
    input: Tensor, p: "float | str | None" = "fro", dim: Dim = None, keepdim: bool = False, dtype: Any = None
) -> Tensor:
    """Vector p-norm over ``dim`` (all elements when None): ``p`` is a number, ``inf``, ``-inf``
    or ``"fro"`` (the 2-norm of the flattened dims). Floating or complex inputs only.
    """
    if p is None or p == "fro":
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r} (nuclear norms are not supported)")
    work = _floating("norm", input, dtype)

    def compute(xp: Any, x: Any, axis: Any, kd: bool) -> Any:
        magnitude = xp.abs(x)
        if p == math.inf:
            return (
                xp.max(magnitude, axis=axis, keepdims=kd)
                if x.size
                else xp.zeros(_kept_shape(x.shape, axis, kd), magnitude.dtype)
            )
        if p == -math.inf:
            return xp.min(magnitude, axis=axis, keepdims=kd)
        if p == 0:
            return xp.sum(magnitude != 0, axis=axis, keepdims=kd).astype(magnitude.dtype)
        if p == 1:
            return xp.sum(magnitude, axis=axis, keepdims=kd)
        if p == 2:
            return xp.sqrt(xp.sum(magnitude * magnitude, axis=axis, keepdims=kd))
        return xp.sum(magnitude**p, axis=axis, keepdims=kd) ** (1.0 / p)

    real = None
    if input.dtype.is_complex:
        real = np.float64 if input._data.dtype == np.complex128 else np.float32
    return _reduce("norm", input, dim, keepdim, compute, work, real or work, quiet=True)


def _kept_shape(shape: tuple[int, ...], axis: Any, keepdim: bool) -> tuple[int, ...]:
    axes = range(len(shape)) if axis is None else axis
    if keepdim:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


@tensor_method()
def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median (element ``(n - 1) // 2`` of the sorted values), nan if any is nan.

    Without ``dim``: a 0-d tensor over all elements. With ``dim``: ``(values, indices)``.
    """
    if input.dtype.is_complex:
        raise DTypeError("median: complex tensors have no ordering")
    data = input._data
    xp = input._device.backend.xp
    flat = dim is None
    if flat:
        if data.size == 0:
            if data.dtype.kind not in "fV":
                raise RuntimeError(f"median: cannot take the median of an empty {input.dtype} tensor")
            return wrap(xp.full((), xp.nan, dtype=data.dtype), input._device)  # PyTorch: nan
        data = data.reshape(-1)
        axis = 0
    else:
        axis = normalize_dim(dim, data.ndim, "median")
        if data.ndim == 0:
            data = data.reshape(1)
        _check_nonempty("median", input, (axis,) if input._data.ndim else None)
    work = data.astype(np.float32) if data.dtype.kind == "V" else data
    # Stable argsort puts nan last; a slice with any nan has its median at the first nan.
    order = xp.argsort(work, axis=axis, kind="stable")
    count = work.shape[axis]
    has_nan = xp.isnan(work).any(axis=axis, keepdims=True) if work.dtype.kind == "f" else None
    position = (count - 1) // 2
    if has_nan is not None:
        finite_count = count - xp.isnan(work).sum(axis=axis, keepdims=True)
        position = xp.where(has_nan, finite_count, position)
    else:
        position = xp.full(tuple(1 if i == axis else s for i, s in enumerate(work.shape)), position)
    indices = xp.take_along_axis(order, xp.asarray(position, dtype=np.int64), axis=axis)
    values = xp.take_along_axis(data, indices, axis=axis)
    if flat:
        return wrap(values.reshape(()), input._device)
    if not keepdim or input._data.ndim == 0:
        values = xp.squeeze(values, axis=axis) if input._data.ndim else values.reshape(())
        indices = xp.squeeze(indices, axis=axis) if input._data.ndim else indices.reshape(())
    return ValuesIndices(wrap(values, input._device), wrap(indices.astype(np.int64), input._device))
