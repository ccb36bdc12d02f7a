"""Elementwise math with one input: exp, log, sqrt, trig, rounding, abs, ... .

Each op is one line of :data:`RULES`: the Tensor method it runs, whether its rule reads the input
``x`` or the output ``y``, and the gradient as Variable math (so it is differentiable again).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from axon_core.backend.numerics import SATURATION, SELU_ALPHA, SELU_SCALE
from axon_tensor import Tensor, zeros_like
from axon_tensor.tensor import wrap

from ..function import Function
from ..grad_mode import grad_state
from ..variable import Variable, variable_method
from ._util import constant

__all__ = ["RULES", "elementwise_function"]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0


def _where(condition: Any, a: Any, b: Any) -> Variable:
    from .indexing import where

    return where(condition, a, b)


def _mish_grad(g: Variable, x: Variable) -> Variable:
    # Clamped where mish' is already exactly 1 or 0, so ±inf gives that limit, not inf * 0.
    x = x.clamp(-SATURATION, SATURATION)
    t = x.softplus().tanh()
    return g * (t + x * x.sigmoid() * (1.0 - t * t))


def _softsign_grad(g: Variable, x: Variable) -> Variable:
    # 1 / (1 + |x|) squared rather than 1 / (1 + |x|)**2: at ±inf the reciprocal is 0 and so is its
    # derivative (-r * r), where the quotient's derivative would meet inf * 0.
    r = (x.abs() + 1.0).reciprocal()
    return g * r * r


def _relu_grad(g: Variable, y: Variable) -> Variable:
    # PyTorch's threshold_backward(g, y, 0): exactly 0 where y <= 0 (even for an inf/NaN g).
    if grad_state.enabled:  # create_graph: stay differentiable in g
        return _where(y.data <= 0, 0.0, g)
    out = y.data
    return constant(wrap(out.backend.relu_backward(g.data.array, out.array), out.device))


def _zero(g: Variable, v: Variable) -> Variable:
    return constant(zeros_like(g.data))


# name -> (reads "x" or "y", grad(g, value) -> Variable)
RULES: dict[str, tuple[str, Callable[[Variable, Variable], Variable]]] = {
    "exp": ("y", lambda g, y: g * y),
    "exp2": ("y", lambda g, y: g * y * _LN2),
    "expm1": ("y", lambda g, y: g * (y + 1.0)),
    "log": ("x", lambda g, x: g / x),
    "log2": ("x", lambda g, x: g / (x * _LN2)),
    "log10": ("x", lambda g, x: g / (x * _LN10)),
    "log1p": ("x", lambda g, x: g / (x + 1.0)),
    "sqrt": ("y", lambda g, y: g / (y * 2.0)),
    "rsqrt": ("y", lambda g, y: g * (y * y * y) * -0.5),
    "square": ("x", lambda g, x: g * x * 2.0),
    "reciprocal": ("y", lambda g, y: -g * y * y),
    "sin": ("x", lambda g, x: g * x.cos()),
    "cos": ("x", lambda g, x: -g * x.sin()),
    "tan": ("y", lambda g, y: g * (y * y + 1.0)),
    "asin": ("x", lambda g, x: g / (1.0 - x * x).sqrt()),
    "acos": ("x", lambda g, x: -g / (1.0 - x * x).sqrt()),
    "atan": ("x", lambda g, x: g / (x * x + 1.0)),
    "sinh": ("x", lambda g, x: g * x.cosh()),
    "cosh": ("x", lambda g, x: g * x.sinh()),
    "tanh": ("y", lambda g, y: g * (1.0 - y * y)),
    "asinh": ("x", lambda g, x: g / (x * x + 1.0).sqrt()),
    "acosh": ("x", lambda g, x: g / (x * x - 1.0).sqrt()),
    "atanh": ("x", lambda g, x: g / (1.0 - x * x)),
    "sigmoid": ("y", lambda g, y: g * y * (1.0 - y)),
    "erf": ("x", lambda g, x: g * (-(x * x)).exp() * _TWO_OVER_SQRT_PI),
    "erfc": ("x", lambda g, x: g * (-(x * x)).exp() * -_TWO_OVER_SQRT_PI),
    "erfinv": ("y", lambda g, y: g * (y * y).exp() * _SQRT_PI_OVER_2),
    "abs": ("x", lambda g, x: g * x.data.sign()),
    "relu": ("y", _relu_grad),
    "frac": ("x", lambda g, x: g),
    "softsign": ("x", lambda g, x: _softsign_grad(g, x)),
    "mish": ("x", lambda g, x: _mish_grad(g, x)),
    "selu": ("x", lambda g, x: _where(x.data > 0, g * SELU_SCALE, g * x.exp() * (SELU_SCALE * SELU_ALPHA))),
    "hardsigmoid": ("x", lambda g, x: g * ((x.data > -3.0) & (x.data < 3.0)) * (1.0 / 6.0)),
    "hardswish": (
        "x",
        # At the kinks PyTorch takes the outer pieces' slopes: 0 at -3, 1 at 3.
        lambda g, x: _where(x.data <= -3.0, 0.0, _where(x.data >= 3.0, g, g * (x * 2.0 + 3.0) * (1.0 / 6.0))),
    ),
    "relu6": ("x", lambda g, x: g * ((x.data > 0) & (x.data < 6.0))),
    "nan_to_num": ("x", lambda g, x: g * x.data.isfinite()),
    "sign": ("x", _zero),
    "floor": ("x", _zero),
    "ceil": ("x", _zero),
    "round": ("x", _zero),
    "trunc": ("x", _zero),
}


def elementwise_function(name: str, reads: str, rule: Callable[[Variable, Variable], Variable]) -> type[Function]:
    """A Function running ``Tensor.<name>`` whose backward is ``rule(g, x or y)``."""
    tensor_op = getattr(Tensor, name, None)

    def forward(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return tensor_op(x, *args, **kwargs)

    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        ctx.save_for_backward(inputs[0] if reads == "x" else output)

    def backward(ctx: Any, g: Variable) -> Variable:
        return rule(g, ctx.saved_tensors[0])

    cls = type(
        name.capitalize(),
        (Function,),
        {
            "forward": staticmethod(forward),
            "backward": staticmethod(backward),
            "setup_context": staticmethod(setup_context),
            "__doc__": f"Elementwise ``{name}``.",
        },
    )
    return cls


def _method(fn_cls: type[Function]) -> Callable[..., Variable]:
    return lambda input, *args, **kwargs: fn_cls.apply(input, *args, **kwargs)


FUNCTIONS: dict[str, type[Function]] = {}
for _name, (_reads, _rule) in RULES.items():
    if hasattr(Tensor, _name):
        FUNCTIONS[_name] = elementwise_function(_name, _reads, _rule)
        variable_method(_name)(_method(FUNCTIONS[_name]))
# NumPy-style aliases share the rule of the op they alias.
for _alias, _target in (
    ("absolute", "abs"),
    ("arccos", "acos"),
    ("arcsin", "asin"),
    ("arctan", "atan"),
    ("arccosh", "acosh"),
    ("arcsinh", "asinh"),
    ("arctanh", "atanh"),
    ("fix", "trunc"),
):
    if _target in FUNCTIONS:
        variable_method(_alias)(_method(FUNCTIONS[_target]))
if "abs" in FUNCTIONS:
    Variable.__abs__ = lambda self: FUNCTIONS["abs"].apply(self)  # type: ignore[method-assign]
