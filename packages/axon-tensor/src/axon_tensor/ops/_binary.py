"""The one machinery every binary elementwise op goes through.

Fast path: two tensors of one dtype on one device go straight to the backend array's operator
(:func:`fast_binary` builds the operator methods around it). Otherwise PyTorch's promotion
(:func:`axon_core.result_type`) picks the dtype the op computes in, tensor operands are cast to
it, Python scalars become scalars of that dtype (so ``bfloat16 + 1.5`` stays bfloat16), and
broadcasting failures become a ShapeError naming the op and both shapes.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from axon_core import DType, DTypeError, ShapeError, result_type
from axon_core.dtypes import _BY_NP

from ..tensor import Tensor, check_same_device, wrap

__all__ = [
    "binary",
    "fast_binary",
    "operand_arrays",
    "cast_array",
    "scalar_of",
    "broadcast_error",
    "dtype_of_array",
    "SCALARS",
]

SCALARS = (int, float, bool, complex, np.generic)
_ndarray = np.ndarray
_new = object.__new__
_PRIORITY = Tensor.__array_priority__

_SCALAR_CATEGORY = {bool: 0, int: 1, float: 2, complex: 3}

Fn = Callable[[Any, Any], Any] | str


def cast_array(array: Any, dtype: DType) -> Any:
    """``array`` as ``dtype`` (no copy when it already is)."""
    return array if array.dtype == dtype.np else array.astype(dtype.np)


def scalar_of(value: Any, dtype: DType) -> Any:
    """A Python or NumPy scalar as a NumPy scalar of ``dtype``; integers wrap like PyTorch's."""
    if isinstance(value, np.generic):
        value = value.item()
    if dtype.category <= 1 and isinstance(value, (float, complex)):
        raise DTypeError(f"cannot use {type(value).__name__} scalar {value} with {dtype} operands")
    try:
        return dtype.np.type(value)
    except OverflowError:
        # Out-of-range Python ints wrap modulo 2**bits, as PyTorch casts them.
        return np.array(value & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64).astype(dtype.np)[()]


def _check_operand(op: str, x: Any) -> None:
    if x.__class__ is not Tensor and not isinstance(x, SCALARS):
        raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}")


def operand_arrays(op: str, a: Any, b: Any, compute: DType | None = None) -> tuple[Any, Any, DType]:
    """Backend arrays (or NumPy scalars) of ``a`` and ``b`` cast to the dtype the op runs in."""
    _check_operand(op, a)
    _check_operand(op, b)
    if a.__class__ is Tensor and b.__class__ is Tensor and a._device is not b._device:
        check_same_device(op, a, b)
    if compute is not None:
        dtype = compute
    elif (
        a.__class__ is Tensor and b.__class__ in _SCALAR_CATEGORY and _SCALAR_CATEGORY[b.__class__] <= a.dtype.category
    ):
        dtype = a.dtype
    elif (
        b.__class__ is Tensor and a.__class__ in _SCALAR_CATEGORY and _SCALAR_CATEGORY[a.__class__] <= b.dtype.category
    ):
        dtype = b.dtype
    else:
        dtype = result_type(a, b)
    return _array_of(a, dtype), _array_of(b, dtype), dtype


def _array_of(x: Any, dtype: DType) -> Any:
    if x.__class__ is Tensor:
        return cast_array(x._data, dtype)
    return scalar_of(x, dtype)


def _device_of(a: Any, b: Any) -> Any:
    return a._device if a.__class__ is Tensor else b._device


def binary(op: str, fn: Fn, a: Any, b: Any, compute: DType | None = None, quiet: bool = False) -> Tensor:
    """Apply ``fn`` to the arrays of ``a`` and ``b`` with PyTorch promotion and broadcasting.

    ``fn`` is a callable on backend arrays or the name of a function of the backend's ``xp``
    (``"maximum"``). ``compute`` forces the dtype both operands are cast to. ``a`` may be a
    scalar when the call comes from a reflected operator (``2 - t``). ``quiet`` silences NumPy's
    floating-point warnings (PyTorch yields inf/nan without a word).
    """
    left, right, _ = operand_arrays(op, a, b, compute)
    device = _device_of(a, b)
    if fn.__class__ is str:
        fn = getattr(device.backend.xp, fn)
    try:
        if quiet:
            with np.errstate(all="ignore"):
                out = fn(left, right)
        else:
            out = fn(left, right)
    except ValueError as exc:
        raise broadcast_error(op, a, b) from exc
    return wrap(out, device)


def fast_binary(
    op: str, fn: Callable[[Any, Any], Any], slow: Callable[[Any, Any], Tensor]
) -> Callable[[Any, Any], Tensor]:
    """A method ``self (op) other`` that skips promotion when both are tensors of one dtype, or
    ``other`` is a Python float/int and ``self`` is floating (the op then runs in self's dtype).

    Anything else (other scalars, mixed dtypes, devices, errors) goes to ``slow(self, other)``,
    which does the full checks and raises the typed errors.
    """

    def method(self: Tensor, other: Any) -> Tensor:
        x = self._data
        if other.__class__ is Tensor:
            if x.dtype is not other._data.dtype or self._device is not other._device:
                return slow(self, other)
            y = other._data
        elif (other.__class__ is float or other.__class__ is int) and x.dtype.kind == "f":
            try:
                # Cast exactly as the slow path's scalar_of does (huge ints go there to wrap).
                y = x.dtype.type(other)
            except OverflowError:
                return slow(self, other)
        elif getattr(other, "__array_priority__", 0) > _PRIORITY:
            # An operand that outranks Tensor (a Variable) answers with its reflected operator.
            return NotImplemented
        else:
            return slow(self, other)
        try:
            out = fn(x, y)
        except Exception:
            return slow(self, other)
        if out.__class__ is not _ndarray:
            return wrap(out, self._device)
        t = _new(Tensor)
        t._data = out
        t._device = self._device
        t._base = None
        return t

    method.__name__ = op
    method.__doc__ = slow.__doc__
    method.defers = True  # type: ignore[attr-defined]  # see ops/_operators.py
    return method


def broadcast_error(op: str, a: Any, b: Any) -> ShapeError:
    return ShapeError(f"{op}: shapes {_shape_of(a)} and {_shape_of(b)} cannot be broadcast together")


def _shape_of(x: Any) -> Any:
    return tuple(x.shape) if x.__class__ is Tensor else type(x).__name__


def dtype_of_array(array: Any) -> DType:
    return _BY_NP[array.dtype]
