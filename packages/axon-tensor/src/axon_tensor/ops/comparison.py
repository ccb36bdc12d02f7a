"""Comparisons (bool results), closeness tests, ``where`` and ``clamp``.

Operands are promoted with PyTorch's rules before comparing, so ``int_tensor < 2.5`` compares
as floats. ``t == x`` returns a tensor; ``Tensor.__hash__`` stays identity-based, so tensors
still work as dict keys by identity.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from axon_core import DTypeError, ShapeError, result_type

from ..tensor import Tensor, check_same_device, tensor_method, wrap
from ._binary import SCALARS, binary, fast_binary, scalar_of

__all__ = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
    "equal",
    "isclose",
    "allclose",
    "where",
    "clamp",
    "clip",
]


def _ordered(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def compare(a: Any, b: Any) -> Any:
        if a.dtype.kind == "c":
            raise TypeError("ordering comparison of complex values")
        return fn(a, b)

    return compare


def _comparison(name: str, fn: Callable[[Any, Any], Any], ordered: bool, doc: str) -> Callable[[Any, Any], Tensor]:
    def op(input: Any, other: Any) -> Tensor:
        if ordered and result_type(input, other).is_complex:
            raise DTypeError(f"{name}: complex tensors have no ordering")
        return binary(name, fn, input, other)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Bool tensor of ``input {doc} other`` with broadcasting and promotion."
    return op


eq = tensor_method("eq")(_comparison("eq", operator.eq, False, "=="))
ne = not_equal = tensor_method("ne", "not_equal")(_comparison("ne", operator.ne, False, "!="))
lt = less = tensor_method("lt", "less")(_comparison("lt", operator.lt, True, "<"))
le = less_equal = tensor_method("le", "less_equal")(_comparison("le", operator.le, True, "<="))
gt = greater = tensor_method("gt", "greater")(_comparison("gt", operator.gt, True, ">"))
ge = greater_equal = tensor_method("ge", "greater_equal")(_comparison("ge", operator.ge, True, ">="))


def _equality_operator(name: str, op: Callable[[Any, Any], Tensor], fn: Callable[[Any, Any], Any]) -> Any:
    def slow(input: Any, other: Any) -> Any:
        # Python's protocol: an unrelated type (None, str) is not equal, so defer to identity.
        if other.__class__ is not Tensor and not isinstance(other, SCALARS):
            return NotImplemented
        return op(input, other)

    return fast_binary(name, fn, slow)


Tensor.__eq__ = _equality_operator("__eq__", eq, operator.eq)  # type: ignore[method-assign,assignment]
Tensor.__ne__ = _equality_operator("__ne__", ne, operator.ne)  # type: ignore[method-assign,assignment]
Tensor.__lt__ = fast_binary("__lt__", _ordered(operator.lt), lt)  # type: ignore[method-assign]
Tensor.__le__ = fast_binary("__le__", _ordered(operator.le), le)  # type: ignore[method-assign]
Tensor.__gt__ = fast_binary("__gt__", _ordered(operator.gt), gt)  # type: ignore[method-assign]
Tensor.__ge__ = fast_binary("__ge__", _ordered(operator.ge), ge)  # type: ignore[method-assign]


@tensor_method()
def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same values (nan is never equal)."""
    if input.shape != other.shape:
        return False
    return bool(eq(input, other)._data.all())


def _bfloat16_free(array: Any) -> Any:
    return array.astype(np.float32) if array.dtype.kind == "V" else array


@tensor_method()
def isclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """Bool tensor of ``|input - other| <= atol + rtol * |other|`` (equal infinities are close)."""
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    xp = input._device.backend.xp

    def close(a: Any, b: Any) -> Any:
        with np.errstate(all="ignore"):
            return xp.isclose(
                _bfloat16_free(xp.asarray(a)), _bfloat16_free(xp.asarray(b)), rtol=rtol, atol=atol, equal_nan=equal_nan
            )

    return binary("isclose", close, input, other)


@tensor_method()
def allclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """True when every element of :func:`isclose` is true."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def _operand(op: str, name: str, value: Any) -> None:
    if value.__class__ is not Tensor and not isinstance(value, SCALARS):
        raise TypeError(f"{op}: {name} must be a Tensor or a number, got {type(value).__name__}")


def _array(value: Any, dtype: Any) -> Any:
    return value._data.astype(dtype.np, copy=False) if value.__class__ is Tensor else scalar_of(value, dtype)


@tensor_method()
def where(condition: Tensor, input: Any, other: Any) -> Tensor:
    """``input`` where ``condition`` is true, else ``other``; all three broadcast together.

    ``condition`` must be a bool tensor; ``input``/``other`` may be tensors or numbers and are
    promoted together like a binary op.
    """
    if condition.__class__ is not Tensor:
        raise TypeError(f"where: condition must be a bool Tensor, got {type(condition).__name__}")
    if not condition.dtype.is_bool:
        raise DTypeError(f"where: condition must be a bool tensor, got {condition.dtype}")
    _operand("where", "input", input)
    _operand("where", "other", other)
    tensors = [t for t in (condition, input, other) if t.__class__ is Tensor]
    device = check_same_device("where", *tensors)
    dtype = result_type(input, other)
    xp = device.backend.xp
    try:
        out = xp.where(condition._data, _array(input, dtype), _array(other, dtype))
    except ValueError as exc:
        shapes = ", ".join(
            str(tuple(t.shape)) if t.__class__ is Tensor else "scalar" for t in (condition, input, other)
        )
        raise ShapeError(f"where: shapes {shapes} cannot be broadcast together") from exc
    return wrap(xp.asarray(out, dtype=dtype.np), device)


@tensor_method("clamp", "clip")
def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """``input`` limited to ``[min, max]`` (either may be None; tensors broadcast).

    Computed as ``minimum(maximum(input, min), max)``, so ``min > max`` gives ``max`` and nan
    in ``input`` stays nan, as in PyTorch.
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    bounds = [b for b in (min, max) if b is not None]
    for bound in bounds:
        _operand("clamp", "min/max", bound)
    tensors = [input] + [b for b in bounds if b.__class__ is Tensor]
    device = check_same_device("clamp", *tensors)
    dtype = result_type(input, *bounds)
    xp = device.backend.xp
    out = input._data.astype(dtype.np, copy=False)
    try:
        if min is not None:
            out = xp.maximum(out, _array(min, dtype))
        if max is not None:
            out = xp.minimum(out, _array(max, dtype))
    except ValueError as exc:
        shapes = ", ".join(
            str(tuple(t.shape)) if t.__class__ is Tensor else "scalar" for t in (input, min, max) if t is not None
        )
        raise ShapeError(f"clamp: shapes {shapes} cannot be broadcast together") from exc
    if out is input._data:
        out = out.copy()
    return wrap(out, device)


clip = clamp
