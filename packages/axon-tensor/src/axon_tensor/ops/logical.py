"""Logical (any dtype, bool results) and bitwise (integer and bool only) operations."""

from __future__ import annotations

import operator
from typing import Any, Callable

from axon_core import DTypeError, result_type

from ..tensor import Tensor, tensor_method, wrap
from ._binary import binary, fast_binary

__all__ = [
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "bitwise_left_shift",
    "bitwise_right_shift",
]


def _truth(array: Any) -> Any:
    return array != 0


def _logical(name: str, doc: str) -> Callable[[Tensor, Any], Tensor]:
    def op(input: Tensor, other: Any) -> Tensor:
        def compute(a: Any, b: Any) -> Any:
            xp = input._device.backend.xp
            return getattr(xp, name)(_truth(xp.asarray(a)), _truth(xp.asarray(b)))

        return binary(name, compute, input, other)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Bool tensor: ``input {doc} other`` where nonzero counts as true; broadcasts."
    return op


logical_and = tensor_method("logical_and")(_logical("logical_and", "and"))
logical_or = tensor_method("logical_or")(_logical("logical_or", "or"))
logical_xor = tensor_method("logical_xor")(_logical("logical_xor", "xor"))


@tensor_method()
def logical_not(input: Tensor) -> Tensor:
    """Bool tensor: true where ``input`` is zero."""
    return wrap(input._data == 0, input._device)


def _require_integral(op: str, *operands: Any) -> None:
    dtype = result_type(*operands)
    if dtype.category > 1:
        raise DTypeError(f"{op}: only integer and bool tensors are supported, got {dtype}")


def _bitwise(name: str, xp_name: str, doc: str) -> Callable[[Any, Any], Tensor]:
    def op(input: Any, other: Any) -> Tensor:
        _require_integral(name, input, other)
        return binary(name, xp_name, input, other)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``input {doc} other`` bit by bit (integer and bool tensors), with broadcasting."
    return op


bitwise_and = tensor_method("bitwise_and")(_bitwise("bitwise_and", "bitwise_and", "&"))
bitwise_or = tensor_method("bitwise_or")(_bitwise("bitwise_or", "bitwise_or", "|"))
bitwise_xor = tensor_method("bitwise_xor")(_bitwise("bitwise_xor", "bitwise_xor", "^"))
bitwise_left_shift = tensor_method("bitwise_left_shift")(_bitwise("bitwise_left_shift", "left_shift", "<<"))
bitwise_right_shift = tensor_method("bitwise_right_shift")(_bitwise("bitwise_right_shift", "right_shift", ">>"))


def _integral_only(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def run(a: Any, b: Any) -> Any:
        if a.dtype.kind not in "biu":
            raise TypeError("bitwise op on a non-integral dtype")
        return fn(a, b)

    return run


def _reflected(op: Callable[[Any, Any], Tensor]) -> Callable[[Tensor, Any], Tensor]:
    def reflected(input: Tensor, other: Any) -> Tensor:
        return op(other, input)

    return reflected


Tensor.__and__ = fast_binary("__and__", _integral_only(operator.and_), bitwise_and)  # type: ignore[method-assign]
Tensor.__or__ = fast_binary("__or__", _integral_only(operator.or_), bitwise_or)  # type: ignore[method-assign]
Tensor.__xor__ = fast_binary("__xor__", _integral_only(operator.xor), bitwise_xor)  # type: ignore[method-assign]
Tensor.__rand__ = _reflected(bitwise_and)  # type: ignore[attr-defined]
Tensor.__ror__ = _reflected(bitwise_or)  # type: ignore[attr-defined]
Tensor.__rxor__ = _reflected(bitwise_xor)  # type: ignore[attr-defined]
Tensor.__lshift__ = bitwise_left_shift  # type: ignore[attr-defined]
Tensor.__rshift__ = bitwise_right_shift  # type: ignore[attr-defined]
Tensor.__rlshift__ = _reflected(bitwise_left_shift)  # type: ignore[attr-defined]
Tensor.__rrshift__ = _reflected(bitwise_right_shift)  # type: ignore[attr-defined]


@tensor_method("bitwise_not", "__invert__")
def bitwise_not(input: Tensor) -> Tensor:
    """``~input``: bit inversion for integers, logical not for bool."""
    if input._data.dtype.kind not in "biu":
        raise DTypeError(f"bitwise_not: only integer and bool tensors are supported, got {input.dtype}")
    return wrap(~input._data, input._device)
