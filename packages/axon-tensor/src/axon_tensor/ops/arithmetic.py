"""Arithmetic operators with broadcasting and PyTorch's promotion."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from axon_core import get_default_dtype, result_type

from ..tensor import Tensor, tensor_method
from ._binary import binary

__all__ = ["add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "pow", "neg"]


@tensor_method("add", "__add__")
def add(input: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return binary("add", operator.add, input, other)


@tensor_method("__radd__")
def _radd(input: Tensor, other: Any) -> Tensor:
    return binary("add", operator.add, other, input)


@tensor_method("sub", "__sub__")
def sub(input: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    _reject_bool("sub", input, other)
    return binary("sub", operator.sub, input, other)


@tensor_method("__rsub__")
def _rsub(input: Tensor, other: Any) -> Tensor:
    _reject_bool("sub", input, other)
    return binary("sub", operator.sub, other, input)


@tensor_method("mul", "__mul__", "__rmul__")
def mul(input: Tensor, other: Any) -> Tensor:
    """Elementwise product with broadcasting."""
    return binary("mul", operator.mul, input, other)


def _true_dtype(a: Any, b: Any):
    dtype = result_type(a, b)
    return dtype if dtype.category >= 2 else get_default_dtype()


@tensor_method("div", "true_divide", "__truediv__")
def div(input: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers divide as the default float), or ``rounding_mode`` 'trunc'/'floor'."""
    if rounding_mode is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            return binary("div", operator.truediv, input, other, _true_dtype(input, other))
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        return _int_checked("div", _trunc_divide, input, other)
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


true_divide = div


@tensor_method("__rtruediv__")
def _rtruediv(input: Tensor, other: Any) -> Tensor:
    with np.errstate(divide="ignore", invalid="ignore"):
        return binary("div", operator.truediv, other, input, _true_dtype(other, input))


def _trunc_divide(a: Any, b: Any) -> Any:
    quotient = a / b
    xp = np if isinstance(quotient, np.ndarray | np.generic) else _xp_of(quotient)
    truncated = xp.trunc(quotient)
    return truncated.astype(np.result_type(a, b)) if not isinstance(a, float) else truncated


def _xp_of(array: Any) -> Any:
    import importlib

    return importlib.import_module(type(array).__module__.split(".")[0])


@tensor_method("floor_divide", "__floordiv__")
def floor_divide(input: Tensor, other: Any) -> Tensor:
    """``floor(input / other)``; integer division by zero raises ZeroDivisionError."""
    return _int_checked("floor_divide", operator.floordiv, input, other)


@tensor_method("__rfloordiv__")
def _rfloordiv(input: Tensor, other: Any) -> Tensor:
    return _int_checked("floor_divide", operator.floordiv, other, input)


@tensor_method("remainder", "__mod__")
def remainder(input: Tensor, other: Any) -> Tensor:
    """Python-style modulus (sign of the divisor)."""
    return _int_checked("remainder", operator.mod, input, other)


@tensor_method("__rmod__")
def _rmod(input: Tensor, other: Any) -> Tensor:
    return _int_checked("remainder", operator.mod, other, input)


def _int_checked(op: str, fn: Any, a: Any, b: Any) -> Tensor:
    if result_type(a, b).category <= 1 and _has_zero(b):
        raise ZeroDivisionError(f"{op}: integer division by zero")
    with np.errstate(divide="ignore", invalid="ignore"):
        return binary(op, fn, a, b)


def _has_zero(b: Any) -> bool:
    if isinstance(b, Tensor):
        return bool((b._data == 0).any())
    return b == 0


@tensor_method("pow", "__pow__")
def pow(input: Tensor, exponent: Any) -> Tensor:
    """``input ** exponent``; a negative integer power of an integer tensor is an error, as in PyTorch."""
    if result_type(input, exponent).category <= 1 and _negative(exponent):
        raise ValueError("pow: integers to negative integer powers are not allowed")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return binary("pow", operator.pow, input, exponent)


@tensor_method("__rpow__")
def _rpow(input: Tensor, base: Any) -> Tensor:
    if result_type(base, input).category <= 1 and _negative(input):
        raise ValueError("pow: integers to negative integer powers are not allowed")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return binary("pow", operator.pow, base, input)


def _negative(x: Any) -> bool:
    if isinstance(x, Tensor):
        return bool((x._data < 0).any())
    return x < 0


def _reject_bool(op: str, a: Any, b: Any) -> None:
    if result_type(a, b).is_bool:
        raise TypeError(f"{op}: subtraction of bool tensors is not supported; use logical_xor or ~")


@tensor_method("neg", "negative", "__neg__")
def neg(input: Tensor) -> Tensor:
    if input.dtype.is_bool:
        raise TypeError("neg: negation of a bool tensor is not supported; use ~ or logical_not")
    from ..tensor import wrap

    return wrap(-input._data, input._device)
