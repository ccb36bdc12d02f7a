"""Arithmetic with broadcasting: add, sub, mul, div, pow, neg (and the reflected operators)."""

from __future__ import annotations

import math
from typing import Any

from axon_tensor import Tensor

from ..function import Function
from ..variable import Variable, variable_method
from ._util import meta, reduce_grad

__all__ = ["Add", "Sub", "Mul", "Div", "Pow", "Neg", "Atan2", "Remainder", "Copysign"]


def _setup_binary(ctx: Any, inputs: tuple, output: Tensor) -> None:
    """Operand metadata for :func:`reduce_grad`, and the alpha of add/sub (1 when not given)."""
    ctx.meta = (meta(inputs[0]), meta(inputs[1]))
    ctx.alpha = inputs[2] if len(inputs) > 2 else 1


class Add(Function):
    setup_context = staticmethod(_setup_binary)

    @staticmethod
    def forward(a: Any, b: Any, alpha: Any = 1) -> Tensor:
        return a + b if alpha == 1 else a.add(b, alpha=alpha)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        ma, mb = ctx.meta
        na, nb = ctx.needs_input_grad[:2]
        return (
            reduce_grad(g, ma) if na else None,
            reduce_grad(g if ctx.alpha == 1 else g * ctx.alpha, mb) if nb else None,
        )


class Sub(Function):
    setup_context = staticmethod(_setup_binary)

    @staticmethod
    def forward(a: Any, b: Any, alpha: Any = 1) -> Tensor:
        return a - b if alpha == 1 else a.sub(b, alpha=alpha)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        ma, mb = ctx.meta
        na, nb = ctx.needs_input_grad[:2]
        return (
            reduce_grad(g, ma) if na else None,
            reduce_grad(-g if ctx.alpha == 1 else g * -ctx.alpha, mb) if nb else None,
        )


class Mul(Function):
    @staticmethod
    def forward(a: Any, b: Any) -> Tensor:
        return a * b

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        a, b = inputs
        ctx.meta = (meta(a), meta(b))
        na, nb = ctx.needs_input_grad
        ctx.save_for_backward(a if nb and a.__class__ is Tensor else None, b if na and b.__class__ is Tensor else None)
        ctx.scalars = (None if a.__class__ is Tensor else a, None if b.__class__ is Tensor else b)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        a, b = ctx.saved_tensors
        sa, sb = ctx.scalars
        ma, mb = ctx.meta
        na, nb = ctx.needs_input_grad
        return (
            reduce_grad(g * (sb if b is None else b), ma) if na else None,
            reduce_grad(g * (sa if a is None else a), mb) if nb else None,
        )


class Div(Function):
    @staticmethod
    def forward(a: Any, b: Any) -> Tensor:
        return a / b

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        a, b = inputs
        ctx.meta = (meta(a), meta(b))
        ctx.save_for_backward(a if a.__class__ is Tensor else None, b if b.__class__ is Tensor else None)
        ctx.scalars = (None if a.__class__ is Tensor else a, None if b.__class__ is Tensor else b)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        a, b = ctx.saved_tensors
        sa, sb = ctx.scalars
        a = sa if a is None else a
        b = sb if b is None else b
        ma, mb = ctx.meta
        na, nb = ctx.needs_input_grad
        return (reduce_grad(g / b, ma) if na else None, reduce_grad(-g * a / (b * b), mb) if nb else None)


class Pow(Function):
    """``a ** b`` for tensor/scalar bases and exponents."""

    @staticmethod
    def forward(a: Any, b: Any) -> Tensor:
        return a**b

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        a, b = inputs
        ctx.meta = (meta(a), meta(b))
        ctx.scalars = (None if a.__class__ is Tensor else a, None if b.__class__ is Tensor else b)
        ctx.save_for_backward(
            a if a.__class__ is Tensor else None,
            b if b.__class__ is Tensor else None,
            output if ctx.needs_input_grad[1] else None,
        )

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        from .indexing import where

        a, b, out = ctx.saved_tensors
        sa, sb = ctx.scalars
        ma, mb = ctx.meta
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            if b is None:
                ga = g * 0.0 if sb == 0 else g * sb * a ** (sb - 1)
            else:
                ga = where(b.data == 0, 0.0, g * b * a ** (b - 1))
            ga = reduce_grad(ga, ma)
        if nb:
            # d/db a**b at a == 0 is 0 where b >= 0 and out * log(0) = -inf where b < 0 (as PyTorch).
            if a is None:
                log_a = math.log(sa) if sa > 0 else (-math.inf if sa == 0 else math.nan)
                gb = where(b.data >= 0, 0.0, g * out * log_a) if sa == 0 else g * out * log_a
            else:
                gb = where((a.data == 0) & (b.data >= 0), 0.0, g * out * a.log())
            gb = reduce_grad(gb, mb)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(a: Tensor) -> Tensor:
        return -a

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        """Nothing to keep: the gradient is ``-g``."""

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return -g


class Atan2(Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:
        ctx.meta = (meta(a), meta(b))
        ctx.save_for_backward(a, b)
        return a.atan2(b)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        a, b = ctx.saved_tensors
        scale = g / (a * a + b * b)
        ma, mb = ctx.meta
        return (
            reduce_grad(scale * b, ma) if ctx.needs_input_grad[0] else None,
            reduce_grad(-scale * a, mb) if ctx.needs_input_grad[1] else None,
        )


class Remainder(Function):
    """``remainder`` (floor rounding) and ``fmod`` (truncation): ``a - round(a / b) * b``."""

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any, name: str) -> Tensor:
        ctx.meta = (meta(a), meta(b))
        quotient = a / b
        ctx.quotient = (
            (quotient.floor() if name == "remainder" else quotient.trunc()) if ctx.needs_input_grad[1] else None
        )
        if a.__class__ is not Tensor:
            # A Python number on the left (``100 % x``): the Tensor's reflected operator.
            return b.__rmod__(a)
        return getattr(a, name)(b)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        ma, mb = ctx.meta
        return (
            reduce_grad(g, ma) if ctx.needs_input_grad[0] else None,
            reduce_grad(-g * ctx.quotient, mb) if ctx.needs_input_grad[1] else None,
        )


class Copysign(Function):
    """``|a|`` with the sign of ``b``: the gradient in ``a`` is ``sign(a) * sign(result)`` (0 at a == 0, as
    PyTorch), and 0 in ``b``."""

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Any) -> Tensor:
        ctx.meta = (meta(a), meta(b))
        y = a.copysign(b)
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        a, y = ctx.saved_tensors
        ma, mb = ctx.meta
        ga = reduce_grad(g * (a.data.sign() * y.data.sign()), ma) if ctx.needs_input_grad[0] else None
        gb = reduce_grad(g * 0.0, mb) if ctx.needs_input_grad[1] else None
        return ga, gb


variable_method("copysign")(lambda input, other: Copysign.apply(input, other))
variable_method("atan2", "arctan2")(lambda input, other: Atan2.apply(input, other))
variable_method("remainder")(lambda input, other: Remainder.apply(input, other, "remainder"))
variable_method("fmod")(lambda input, other: Remainder.apply(input, other, "fmod"))
if hasattr(Tensor, "__mod__"):
    Variable.__mod__ = lambda self, other: Remainder.apply(self, other, "remainder")  # type: ignore[attr-defined]
    Variable.__rmod__ = lambda self, other: Remainder.apply(other, self, "remainder")  # type: ignore[attr-defined]


@variable_method("add", always=True)
def add(input: Any, other: Any, *, alpha: Any = 1) -> Variable:
    return Add.apply(input, other) if alpha == 1 else Add.apply(input, other, alpha)


@variable_method("sub", "subtract", always=True)
def sub(input: Any, other: Any, *, alpha: Any = 1) -> Variable:
    return Sub.apply(input, other) if alpha == 1 else Sub.apply(input, other, alpha)


@variable_method("mul", "multiply", always=True)
def mul(input: Any, other: Any) -> Variable:
    return Mul.apply(input, other)


@variable_method("div", "true_divide", "divide", always=True)
def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Variable:
    if rounding_mode is not None:
        from ..variable import call_tensor_op

        return call_tensor_op("div", input, (other,), {"rounding_mode": rounding_mode})
    return Div.apply(input, other)


@variable_method("pow", always=True)
def pow(input: Any, exponent: Any) -> Variable:
    return Pow.apply(input, exponent)


@variable_method("neg", "negative", always=True)
def neg(input: Any) -> Variable:
    return Neg.apply(input)


Variable.__add__ = lambda self, other: Add.apply(self, other)  # type: ignore[method-assign]
Variable.__radd__ = lambda self, other: Add.apply(other, self)  # type: ignore[method-assign]
Variable.__sub__ = lambda self, other: Sub.apply(self, other)  # type: ignore[method-assign]
Variable.__rsub__ = lambda self, other: Sub.apply(other, self)  # type: ignore[method-assign]
Variable.__mul__ = lambda self, other: Mul.apply(self, other)  # type: ignore[method-assign]
Variable.__rmul__ = lambda self, other: Mul.apply(other, self)  # type: ignore[method-assign]
Variable.__truediv__ = lambda self, other: Div.apply(self, other)  # type: ignore[method-assign]
Variable.__rtruediv__ = lambda self, other: Div.apply(other, self)  # type: ignore[method-assign]
Variable.__pow__ = lambda self, other: Pow.apply(self, other)  # type: ignore[method-assign]
Variable.__rpow__ = lambda self, other: Pow.apply(other, self)  # type: ignore[method-assign]
Variable.__neg__ = lambda self: Neg.apply(self)  # type: ignore[method-assign]
Variable.__pos__ = lambda self: self  # type: ignore[method-assign]
