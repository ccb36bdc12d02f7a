"""Arithmetic with broadcasting and PyTorch's promotion and division rules.

Integer division (``//``, ``%``, ``fmod``, ``div(rounding_mode=...)``) by zero raises
ZeroDivisionError like PyTorch; float division by zero gives ``inf``/``nan`` quietly. Functions
that only make sense on floats (``atan2``, ``hypot``, ``copysign``, true division) compute
integer inputs in the default float dtype.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from axon_core import DType, DTypeError, ShapeError, get_default_dtype, result_type

from ..tensor import Tensor, tensor_method, wrap
from ._binary import SCALARS, binary, broadcast_error, fast_binary, operand_arrays

__all__ = [
    "add",
    "sub",
    "subtract",
    "mul",
    "multiply",
    "div",
    "divide",
    "true_divide",
    "floor_divide",
    "remainder",
    "fmod",
    "pow",
    "neg",
    "negative",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "atan2",
    "hypot",
    "copysign",
    "logaddexp",
    "logaddexp2",
    "lerp",
    "addcmul",
    "addcdiv",
    "float_dtype",
]


def float_dtype(*operands: Any) -> DType:
    """The promoted dtype of ``operands``, or the default float when that is bool/integer."""
    dtype = result_type(*operands)
    return dtype if dtype.category >= 2 else get_default_dtype()


def _check_alpha(op: str, operands: tuple[Any, ...], alpha: Any) -> None:
    dtype = result_type(*operands)
    if dtype.category <= 1 and isinstance(alpha, (float, complex)):
        raise DTypeError(f"{op}: for integer or bool operands alpha must be an integer, got {alpha!r}")


def _scaled(op: str, input: Any, other: Any, alpha: Any) -> Any:
    if alpha == 1 and alpha.__class__ is not float:
        return other
    _check_alpha(op, (input, other), alpha)
    return mul(other, alpha) if other.__class__ is Tensor else other * alpha


def add(input: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting; ``[*] , [*] -> [*]``."""
    return binary("add", operator.add, input, _scaled("add", input, other, alpha))


def _add_slow(input: Any, other: Any) -> Tensor:
    return binary("add", operator.add, input, other)


tensor_method("add")(add)
Tensor.__add__ = fast_binary("__add__", operator.add, _add_slow)  # type: ignore[method-assign]


@tensor_method("__radd__")
def _radd(input: Tensor, other: Any) -> Tensor:
    return binary("add", operator.add, other, input)


def _reject_bool(op: str, a: Any, b: Any) -> None:
    if (
        (a.__class__ is Tensor and a.dtype.is_bool)
        or (b.__class__ is Tensor and b.dtype.is_bool)
        or (a.__class__ is bool or b.__class__ is bool)
    ):
        raise DTypeError(f"{op}: subtraction with a bool tensor is not supported; use logical_xor, ^ or ~ instead")


def sub(input: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting; bool tensors are rejected like PyTorch."""
    _reject_bool("sub", input, other)
    return binary("sub", operator.sub, input, _scaled("sub", input, other, alpha))


def _sub_slow(input: Any, other: Any) -> Tensor:
    _reject_bool("sub", input, other)
    return binary("sub", operator.sub, input, other)


subtract = sub
tensor_method("sub", "subtract")(sub)
Tensor.__sub__ = fast_binary("__sub__", operator.sub, _sub_slow)  # type: ignore[method-assign]


@tensor_method("__rsub__")
def _rsub(input: Tensor, other: Any) -> Tensor:
    return _sub_slow(other, input)


@tensor_method("mul", "multiply")
def mul(input: Tensor, other: Any) -> Tensor:
    """Elementwise product with broadcasting."""
    return binary("mul", operator.mul, input, other)


multiply = mul
Tensor.__mul__ = fast_binary("__mul__", operator.mul, mul)  # type: ignore[method-assign]
Tensor.__rmul__ = Tensor.__mul__  # type: ignore[method-assign]


@tensor_method("div", "divide", "true_divide")
def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``input / other``: true division (integers divide as the default float), or
    ``rounding_mode="trunc"`` (toward zero) / ``"floor"`` (toward -inf), which keep integer dtypes.
    """
    if rounding_mode is None:
        return binary("div", operator.truediv, input, other, float_dtype(input, other), quiet=True)
    if rounding_mode == "floor":
        return _integer_checked("div", _floor_divide, input, other)
    if rounding_mode == "trunc":
        return _integer_checked("div", _trunc_divide, input, other)
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


divide = true_divide = div
Tensor.__truediv__ = div  # type: ignore[method-assign]


@tensor_method("__rtruediv__")
def _rtruediv(input: Tensor, other: Any) -> Tensor:
    return div(other, input)


def _floor_divide(xp: Any, a: Any, b: Any) -> Any:
    return xp.floor_divide(a, b)


def _trunc_divide(xp: Any, a: Any, b: Any) -> Any:
    if a.dtype.kind in "iu":
        # Floor division rounds toward -inf; step back toward zero where the signs differ.
        quotient = xp.floor_divide(a, b)
        inexact = (xp.remainder(a, b) != 0) & ((a < 0) != (b < 0))
        return quotient + inexact.astype(quotient.dtype)
    return xp.trunc(a / b)


def _integer_checked(op: str, fn: Any, a: Any, b: Any) -> Tensor:
    """Run an integer-division-like ``fn(xp, a, b)``: zero divisors raise for integer dtypes."""
    left, right, dtype = operand_arrays(op, a, b)
    if dtype.is_bool:
        raise DTypeError(f"{op}: not supported for bool operands")
    if dtype.category == 1 and bool((right == 0).any()):
        raise ZeroDivisionError(f"{op}: integer division by zero")
    device = a._device if a.__class__ is Tensor else b._device
    xp = device.backend.xp
    # Scalars become 0-d arrays so ``fn`` sees ``.dtype`` on both sides.
    left, right = xp.asarray(left), xp.asarray(right)
    try:
        with np.errstate(all="ignore"):
            out = fn(xp, left, right)
    except ValueError as exc:
        raise broadcast_error(op, a, b) from exc
    return wrap(out, device)


@tensor_method("floor_divide", "__floordiv__")
def floor_divide(input: Any, other: Any) -> Tensor:
    """``floor(input / other)``; integer division by zero raises ZeroDivisionError."""
    return _integer_checked("floor_divide", _floor_divide, input, other)


@tensor_method("__rfloordiv__")
def _rfloordiv(input: Tensor, other: Any) -> Tensor:
    return floor_divide(other, input)


def _remainder(xp: Any, a: Any, b: Any) -> Any:
    return xp.remainder(a, b)


def _fmod(xp: Any, a: Any, b: Any) -> Any:
    return xp.fmod(a, b)


@tensor_method("remainder", "__mod__")
def remainder(input: Any, other: Any) -> Tensor:
    """Python-style modulus: the result has the sign of ``other``."""
    return _integer_checked("remainder", _remainder, input, other)


@tensor_method("__rmod__")
def _rmod(input: Tensor, other: Any) -> Tensor:
    return remainder(other, input)


@tensor_method()
def fmod(input: Tensor, other: Any) -> Tensor:
    """C-style modulus: the result has the sign of ``input``."""
    return _integer_checked("fmod", _fmod, input, other)


@tensor_method("pow", "__pow__")
def pow(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent`` with broadcasting.

    For integer dtypes a negative scalar exponent raises ValueError like PyTorch; negative
    entries of an exponent tensor give integer results as PyTorch computes them (``2 ** -1 == 0``,
    ``1 ** -n == 1``, ``(-1) ** -n == ±1``).
    """
    dtype = result_type(input, exponent)
    if dtype.is_bool:
        raise DTypeError("pow: not supported for two bool operands")
    if dtype.category == 1:
        if exponent.__class__ is not Tensor:
            if exponent < 0:
                raise ValueError("pow: integers to negative integer powers are not allowed")
        elif not exponent.dtype.is_bool:
            return binary("pow", _integer_power, input, exponent, dtype)
    return binary("pow", operator.pow, input, exponent, dtype, quiet=True)


def _integer_power(base: Any, exponent: Any) -> Any:
    negative = exponent < 0
    if not negative.any():
        return base**exponent
    xp = _xp_of(exponent)
    base = xp.asarray(base, dtype=exponent.dtype)
    magnitude = base ** xp.where(negative, 0, exponent)
    odd = (exponent & 1).astype(bool)
    one = xp.ones((), dtype=exponent.dtype)
    inverse = xp.where(base == 1, one, xp.where(base == -1, xp.where(odd, -one, one), 0 * one))
    return xp.where(negative, inverse, magnitude)


def _xp_of(array: Any) -> Any:
    # Only backend arrays reach here; CuPy's name their module, everything else is NumPy.
    if type(array).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np


@tensor_method("__rpow__")
def _rpow(input: Tensor, base: Any) -> Tensor:
    return pow(base, input)


@tensor_method("neg", "negative", "__neg__")
def neg(input: Tensor) -> Tensor:
    """``-input``; bool tensors are rejected like PyTorch."""
    if input._data.dtype == np.bool_:
        raise DTypeError("neg: negation of a bool tensor is not supported; use ~ or logical_not")
    return wrap(-input._data, input._device)


negative = neg


@tensor_method()
def maximum(input: Tensor, other: Any) -> Tensor:
    """Elementwise maximum; NaN propagates."""
    return binary("maximum", "maximum", input, other)


@tensor_method()
def minimum(input: Tensor, other: Any) -> Tensor:
    """Elementwise minimum; NaN propagates."""
    return binary("minimum", "minimum", input, other)


@tensor_method()
def fmax(input: Tensor, other: Any) -> Tensor:
    """Elementwise maximum that ignores NaN when the other value is a number."""
    return binary("fmax", "fmax", input, other)


@tensor_method()
def fmin(input: Tensor, other: Any) -> Tensor:
    """Elementwise minimum that ignores NaN when the other value is a number."""
    return binary("fmin", "fmin", input, other)


def _float_binary(op: str, name: str, input: Any, other: Any) -> Tensor:
    dtype = float_dtype(input, other)
    if dtype.is_complex:
        raise DTypeError(f"{op}: complex operands are not supported (got {dtype})")
    return binary(op, name, input, other, dtype, quiet=True)


@tensor_method("atan2", "arctan2")
def atan2(input: Tensor, other: Any) -> Tensor:
    """``atan(input / other)`` in the right quadrant; integers compute as the default float."""
    return _float_binary("atan2", "arctan2", input, other)


@tensor_method()
def hypot(input: Tensor, other: Any) -> Tensor:
    """``sqrt(input**2 + other**2)`` without overflow."""
    return _float_binary("hypot", "hypot", input, other)


@tensor_method()
def copysign(input: Tensor, other: Any) -> Tensor:
    """``|input|`` with the sign of ``other`` (including the sign of -0.0)."""
    return _float_binary("copysign", "copysign", input, other)


@tensor_method()
def logaddexp(input: Tensor, other: Any) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow; integers compute as the default float."""
    return _float_binary("logaddexp", "logaddexp", input, other)


@tensor_method()
def logaddexp2(input: Tensor, other: Any) -> Tensor:
    """``log2(2**input + 2**other)`` without overflow."""
    return _float_binary("logaddexp2", "logaddexp2", input, other)


def _tensor_or_scalar(op: str, name: str, value: Any) -> None:
    if value.__class__ is not Tensor and not isinstance(value, SCALARS):
        raise TypeError(f"{op}: {name} must be a Tensor or a number, got {type(value).__name__}")


@tensor_method()
def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    """``input + weight * (end - input)``, computed as PyTorch does for accuracy near ``weight=1``."""
    _tensor_or_scalar("lerp", "weight", weight)
    dtype = result_type(input, end, weight) if weight.__class__ is Tensor else result_type(input, end)
    if not dtype.is_floating_point and not dtype.is_complex:
        raise DTypeError(f"lerp: expected floating point tensors, got {input.dtype} and {end.dtype}")
    start, stop, _ = operand_arrays("lerp", input, end, dtype)
    w = weight._data.astype(dtype.np, copy=False) if weight.__class__ is Tensor else dtype.np.type(weight)
    xp = input._device.backend.xp
    try:
        diff = stop - start
        out = xp.where(abs(w) < 0.5, start + w * diff, stop - diff * (1 - w))
    except ValueError as exc:
        shapes = (tuple(input.shape), tuple(end.shape), getattr(weight, "shape", "scalar"))
        raise ShapeError(f"lerp: shapes {shapes} cannot be broadcast together") from exc
    return wrap(xp.asarray(out, dtype=dtype.np), input._device)


@tensor_method()
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 * tensor2``."""
    _check_alpha("addcmul", (input, tensor1, tensor2), value)
    product = mul(tensor1, tensor2)
    return add(input, product if value == 1 else mul(product, value))


@tensor_method()
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 / tensor2``; integer operands are rejected like PyTorch."""
    if result_type(tensor1, tensor2).category <= 1:
        raise DTypeError(
            f"addcdiv: integer division is not supported (tensor1 {tensor1.dtype}, tensor2 {tensor2.dtype}); use "
            "addcmul with a float"
        )
    quotient = div(tensor1, tensor2)
    return add(input, quotient if value == 1 else mul(quotient, value))
