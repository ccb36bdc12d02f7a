"""The one machinery every binary elementwise op goes through.

Fast path: two tensors of one dtype on one device go straight to the backend array's operator.
Otherwise PyTorch's promotion (:func:`axon_core.result_type`) picks the dtype the op computes
in, operands are cast to it, and broadcasting failures become a ShapeError naming the op.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from axon_core import DType, DTypeError, ShapeError, result_type
from axon_core.dtypes import _BY_NP

from ..tensor import Tensor, check_same_device, wrap

__all__ = ["binary", "operand_arrays", "cast_array"]

_SCALARS = (int, float, bool, complex, np.generic)


def cast_array(array: Any, dtype: DType) -> Any:
    return array if array.dtype == dtype.np else array.astype(dtype.np)


def operand_arrays(op: str, a: Any, b: Any, compute: DType | None = None) -> tuple[Any, Any, DType]:
    """Backend arrays (or Python scalars) of ``a`` and ``b`` cast to the dtype the op runs in."""
    if b.__class__ is Tensor:
        check_same_device(op, a, b) if a.__class__ is Tensor else None
    elif not isinstance(b, _SCALARS):
        raise TypeError(f"{op}: unsupported operand of type {type(b).__name__}")
    dtype = result_type(a, b) if compute is None else compute
    return _array_of(a, dtype), _array_of(b, dtype), dtype


def _array_of(x: Any, dtype: DType) -> Any:
    if x.__class__ is Tensor:
        return cast_array(x._data, dtype)
    if isinstance(x, np.generic):
        x = x.item()
    if dtype.is_integer and isinstance(x, float):
        raise DTypeError(f"cannot use float scalar {x} with integer dtype {dtype}")
    return x


def binary(op: str, fn: Callable[[Any, Any], Any], a: Any, b: Any, compute: DType | None = None) -> Tensor:
    """Apply ``fn`` to the arrays of ``a`` and ``b`` with PyTorch promotion and broadcasting.

    ``a`` may be a scalar when the call comes from a reflected operator (``2 - t``).
    """
    if compute is None and a.__class__ is Tensor and b.__class__ is Tensor and a._data.dtype is b._data.dtype:
        if a._device is not b._device:
            check_same_device(op, a, b)
        try:
            return wrap(fn(a._data, b._data), a._device)
        except ValueError as exc:
            raise ShapeError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together") from exc
    left, right, _ = operand_arrays(op, a, b, compute)
    device = a._device if a.__class__ is Tensor else b._device
    try:
        return wrap(fn(left, right), device)
    except ValueError as exc:
        raise ShapeError(f"{op}: shapes {_shape_of(a)} and {_shape_of(b)} cannot be broadcast together") from exc


def _shape_of(x: Any) -> Any:
    return tuple(x.shape) if x.__class__ is Tensor else type(x).__name__


def dtype_of_array(array: Any) -> DType:
    return _BY_NP[array.dtype]
