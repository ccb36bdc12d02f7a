"""Python's binary-operator protocol for Tensor: defer to operands that rank above a Tensor.

A Tensor operator meeting an operand whose class has a higher ``__array_priority__`` than
Tensor's (axon_autograd's Variable) returns ``NotImplemented``, so Python asks that operand's
reflected operator: ``tensor + variable`` is ``variable.__radd__(tensor)``, a Variable that
records the op, as PyTorch's ``tensor + parameter`` is. Any other operand goes to the operator
as before (scalars compute, other types raise the op's TypeError). ``axon_tensor/__init__.py``
calls :func:`defer_to_variables` once every op module has attached its operators.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from ..tensor import Tensor

__all__ = ["BINARY_OPERATORS", "defer_to_variables", "defers_to"]

BINARY_OPERATORS = tuple(
    f"__{prefix}{name}__"
    for name in (
        "add",
        "sub",
        "mul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "matmul",
        "and",
        "or",
        "xor",
        "lshift",
        "rshift",
    )
    for prefix in ("", "r")
) + ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__")

_PRIORITY = Tensor.__array_priority__


def defers_to(other: Any) -> bool:
    """True when ``other`` is not a Tensor and outranks Tensor's ``__array_priority__`` (NumPy's rule)."""
    return other.__class__ is not Tensor and getattr(other, "__array_priority__", 0) > _PRIORITY


def _deferring(method: Callable[[Tensor, Any], Any]) -> Callable[[Tensor, Any], Any]:
    if getattr(method, "defers", False):  # fast_binary methods check inline, off their fast path
        return method

    @functools.wraps(method)
    def operator(self: Tensor, other: Any) -> Any:
        if other.__class__ is not Tensor and defers_to(other):
            return NotImplemented
        return method(self, other)

    operator.defers = True  # type: ignore[attr-defined]
    return operator


def defer_to_variables() -> None:
    """Wrap each binary operator Tensor has so far (idempotent: wrapped ones are left as they are)."""
    for name in BINARY_OPERATORS:
        if name in Tensor.__dict__:
            setattr(Tensor, name, _deferring(Tensor.__dict__[name]))
