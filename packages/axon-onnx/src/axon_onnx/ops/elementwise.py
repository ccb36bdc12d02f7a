"""Elementwise arithmetic and math: Add, Sub, Mul, Div, Pow, Sqrt, Exp, Log, Neg, Abs, Min, Max, ...

ONNX broadcasts like NumPy and requires equal input types, so the axon ops (which broadcast and
promote like PyTorch) give ONNX's results; integer Div truncates as onnx's reference does.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

from ..registry import register
from ._util import fail


@register("Add")
def add(node, a, b):
    return a + b


@register("Sub")
def sub(node, a, b):
    return a - b


@register("Mul")
def mul(node, a, b):
    return a * b


@register("Div")
def div(node, a, b):
    if a.dtype.is_floating_point:
        return a / b
    # ONNX's reference divides then casts back, so integer quotients truncate toward zero.
    return (a.double() / b.double()).trunc().to(a.dtype)


@register("Mod", attrs=("fmod",))
def mod(node, a, b):
    # fmod=1: the sign of the dividend (C's fmod); fmod=0: the sign of the divisor (Python's %).
    return a.fmod(b) if node.get("fmod", 0) == 1 else a.remainder(b)


@register("Pow")
def pow_(node, base, exponent):
    out = base**exponent
    return out if out.dtype == base.dtype else out.to(base.dtype)


def _unary(method: str) -> Any:
    def run(node, x):
        return getattr(x, method)()

    run.__name__ = method
    return run


_UNARY = {
    "Sqrt": "sqrt",
    "Exp": "exp",
    "Log": "log",
    "Neg": "neg",
    "Abs": "abs",
    "Reciprocal": "reciprocal",
    "Floor": "floor",
    "Ceil": "ceil",
    "Sign": "sign",
    "Erf": "erf",
    "Sin": "sin",
    "Cos": "cos",
    "Tan": "tan",
    "Asin": "asin",
    "Acos": "acos",
    "Atan": "atan",
    "Sinh": "sinh",
    "Cosh": "cosh",
    "Asinh": "asinh",
    "Acosh": "acosh",
    "Atanh": "atanh",
}
for _op, _method in _UNARY.items():
    register(_op)(_unary(_method))


@register("Round")
def round_(node, x):
    # Half to even, as ONNX specifies and NumPy (axon's CPU backend) does.
    return x.round()


def _variadic(name: str, combine: Any) -> Any:
    def run(node, *inputs):
        if not inputs:
            raise fail(node, f"{name} needs at least one input")
        return reduce(combine, inputs)

    return run


register("Max")(_variadic("Max", lambda a, b: a.maximum(b)))
register("Min")(_variadic("Min", lambda a, b: a.minimum(b)))
register("Sum")(_variadic("Sum", lambda a, b: a + b))


@register("Mean")
def mean(node, *inputs):
    return _variadic("Mean", lambda a, b: a + b)(node, *inputs) / float(len(inputs))
