"""Elementwise functions of one tensor.

Float functions (exp, log, sin, sqrt, erf, sigmoid, ...) compute bool and integer inputs in the
default float dtype, as PyTorch does, and bfloat16 in float32 (rounded back), since NumPy has no
bfloat16 math of its own. Domain errors give nan/inf quietly (``log(0) == -inf``), like PyTorch.
Rounding functions keep integer dtypes; predicates (isnan, signbit, ...) return bool tensors.
"""

from __future__ import annotations

from typing import Any, Callable

import ml_dtypes
import numpy as np

from axon_core import DTypeError, get_default_dtype
from axon_core.backend import special

from ..tensor import Tensor, tensor_method, wrap

__all__ = [
    "abs",
    "absolute",
    "sign",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "square",
    "reciprocal",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "arcsin",
    "arccos",
    "arctan",
    "arcsinh",
    "arccosh",
    "arctanh",
    "erf",
    "erfc",
    "erfinv",
    "floor",
    "ceil",
    "round",
    "trunc",
    "fix",
    "frac",
    "sigmoid",
    "logit",
    "nan_to_num",
    "isnan",
    "isinf",
    "isposinf",
    "isneginf",
    "isfinite",
    "signbit",
    "float_math",
]

_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
ArrayFn = Callable[[Any, Any], Any]


def float_math(input: Tensor, compute: ArrayFn) -> Tensor:
    """``compute(xp, array)`` over ``input`` in a floating dtype: integers and bools become the
    default float, bfloat16 is computed in float32 and rounded back; other dtypes stay.
    """
    data = input._data
    dtype = data.dtype
    xp = input._device.backend.xp
    back = None
    if dtype.kind in "biu":
        data = data.astype(get_default_dtype().np)
        if data.dtype == _BFLOAT16:
            back, data = _BFLOAT16, data.astype(np.float32)
    elif dtype == _BFLOAT16:
        back, data = dtype, data.astype(np.float32)
    with np.errstate(all="ignore"):
        out = compute(xp, data)
    if back is not None:
        out = out.astype(back)
    return wrap(out, input._device)


def _float_function(name: str, compute: ArrayFn, doc: str) -> Callable[[Tensor], Tensor]:
    def op(input: Tensor) -> Tensor:
        return float_math(input, compute)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{doc} elementwise; integer inputs compute as the default float dtype."
    return op


def _sigmoid(xp: Any, x: Any) -> Any:
    # Split by sign so neither branch overflows exp.
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)


exp = _float_function("exp", lambda xp, x: xp.exp(x), "``e ** input``")
exp2 = _float_function("exp2", lambda xp, x: xp.exp2(x), "``2 ** input``")
expm1 = _float_function("expm1", lambda xp, x: xp.expm1(x), "``exp(input) - 1``, accurate near 0,")
log = _float_function("log", lambda xp, x: xp.log(x), "Natural logarithm")
log2 = _float_function("log2", lambda xp, x: xp.log2(x), "Base-2 logarithm")
log10 = _float_function("log10", lambda xp, x: xp.log10(x), "Base-10 logarithm")
log1p = _float_function("log1p", lambda xp, x: xp.log1p(x), "``log(1 + input)``, accurate near 0,")
sqrt = _float_function("sqrt", lambda xp, x: xp.sqrt(x), "Square root")
rsqrt = _float_function("rsqrt", lambda xp, x: 1 / xp.sqrt(x), "``1 / sqrt(input)``")
reciprocal = _float_function("reciprocal", lambda xp, x: 1 / x, "``1 / input``")
sin = _float_function("sin", lambda xp, x: xp.sin(x), "Sine")
cos = _float_function("cos", lambda xp, x: xp.cos(x), "Cosine")
tan = _float_function("tan", lambda xp, x: xp.tan(x), "Tangent")
asin = arcsin = _float_function("asin", lambda xp, x: xp.arcsin(x), "Inverse sine")
acos = arccos = _float_function("acos", lambda xp, x: xp.arccos(x), "Inverse cosine")
atan = arctan = _float_function("atan", lambda xp, x: xp.arctan(x), "Inverse tangent")
sinh = _float_function("sinh", lambda xp, x: xp.sinh(x), "Hyperbolic sine")
cosh = _float_function("cosh", lambda xp, x: xp.cosh(x), "Hyperbolic cosine")
tanh = _float_function("tanh", lambda xp, x: xp.tanh(x), "Hyperbolic tangent")
asinh = arcsinh = _float_function("asinh", lambda xp, x: xp.arcsinh(x), "Inverse hyperbolic sine")
acosh = arccosh = _float_function("acosh", lambda xp, x: xp.arccosh(x), "Inverse hyperbolic cosine")
atanh = arctanh = _float_function("atanh", lambda xp, x: xp.arctanh(x), "Inverse hyperbolic tangent")
erf = _float_function("erf", special.erf, "The error function")
erfc = _float_function("erfc", special.erfc, "``1 - erf(input)``, accurate in the tail,")
erfinv = _float_function("erfinv", special.erfinv, "The inverse error function (±inf at ±1, NaN outside [-1, 1])")
sigmoid = _float_function("sigmoid", _sigmoid, "``1 / (1 + exp(-input))``, without overflow,")

for _name, _fn in [
    ("exp", exp),
    ("exp2", exp2),
    ("expm1", expm1),
    ("log", log),
    ("log2", log2),
    ("log10", log10),
    ("log1p", log1p),
    ("sqrt", sqrt),
    ("rsqrt", rsqrt),
    ("reciprocal", reciprocal),
    ("sin", sin),
    ("cos", cos),
    ("tan", tan),
    ("asin", asin),
    ("arcsin", asin),
    ("acos", acos),
    ("arccos", acos),
    ("atan", atan),
    ("arctan", atan),
    ("sinh", sinh),
    ("cosh", cosh),
    ("tanh", tanh),
    ("asinh", asinh),
    ("arcsinh", asinh),
    ("acosh", acosh),
    ("arccosh", acosh),
    ("atanh", atanh),
    ("arctanh", atanh),
    ("erf", erf),
    ("erfc", erfc),
    ("erfinv", erfinv),
    ("sigmoid", sigmoid),
]:
    tensor_method(_name)(_fn)


@tensor_method()
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped to ``[eps, 1 - eps]``."""

    def compute(xp: Any, x: Any) -> Any:
        if eps is not None:
            x = xp.clip(x, eps, 1 - eps)
        return xp.log(x / (1 - x))

    return float_math(input, compute)


def _reject_bool(op: str, input: Tensor) -> None:
    if input._data.dtype == np.bool_:
        raise DTypeError(f"{op}: not supported for bool tensors")


@tensor_method("abs", "absolute", "__abs__")
def abs(input: Tensor) -> Tensor:
    """``|input|``; complex inputs give their real magnitude."""
    _reject_bool("abs", input)
    return wrap(input._device.backend.xp.abs(input._data), input._device)


absolute = abs


@tensor_method()
def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each element (nan gives 0, as in PyTorch); bool stays bool."""
    if input._data.dtype == np.bool_:
        return wrap(input._data.copy(), input._device)
    if input.dtype.is_complex:
        raise DTypeError("sign: complex tensors are not supported")
    if input.dtype.is_integer:
        return wrap(input._device.backend.xp.sign(input._data), input._device)
    return float_math(input, lambda xp, x: xp.where(xp.isnan(x), x.dtype.type(0), xp.sign(x)))


@tensor_method()
def square(input: Tensor) -> Tensor:
    """``input * input``; bool squares to int64 like PyTorch."""
    data = input._data
    if data.dtype == np.bool_:
        data = data.astype(np.int64)
    return wrap(data * data, input._device)


def _rounding(name: str, compute: ArrayFn) -> Callable[[Tensor], Tensor]:
    def op(input: Tensor) -> Tensor:
        _reject_bool(name, input)
        if input.dtype.is_complex:
            raise DTypeError(f"{name}: complex tensors are not supported")
        if input.dtype.is_integer:
            return wrap(input._data.copy(), input._device)
        return float_math(input, compute)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}`` of each element; integer tensors come back unchanged (as a copy)."
    return op


floor = tensor_method("floor")(_rounding("floor", lambda xp, x: xp.floor(x)))
ceil = tensor_method("ceil")(_rounding("ceil", lambda xp, x: xp.ceil(x)))
trunc = fix = tensor_method("trunc", "fix")(_rounding("trunc", lambda xp, x: xp.trunc(x)))


@tensor_method()
def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even, at ``decimals`` places (negative: to tens, hundreds, ...)."""
    if decimals == 0:
        return _round_integral(input)
    if not input.dtype.is_floating_point:
        raise DTypeError(f"round: decimals={decimals} needs a floating tensor, got {input.dtype}")
    if decimals > 0:
        scale = 10.0**decimals
        return float_math(input, lambda xp, x: xp.rint(x * scale) / scale)
    scale = 10.0 ** (-decimals)
    return float_math(input, lambda xp, x: xp.rint(x / scale) * scale)


_round_integral = _rounding("round", lambda xp, x: xp.rint(x))


@tensor_method()
def frac(input: Tensor) -> Tensor:
    """``input - trunc(input)``, keeping the sign; floating tensors only, like PyTorch."""
    if not input.dtype.is_floating_point:
        raise DTypeError(f"frac: expected a floating tensor, got {input.dtype}")
    return float_math(input, lambda xp, x: x - xp.trunc(x))


def _finfo(dtype: np.dtype) -> Any:
    return ml_dtypes.finfo(dtype) if dtype == _BFLOAT16 else np.finfo(dtype)


@tensor_method()
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """Replace nan, +inf and -inf by ``nan``, ``posinf`` and ``neginf`` (default: the dtype's
    largest and lowest finite values). Integer and bool tensors come back unchanged (as a copy).
    """
    dtype = input._data.dtype
    if dtype.kind in "biu":
        return wrap(input._data.copy(), input._device)
    if dtype.kind == "c":
        raise DTypeError("nan_to_num: complex tensors are not supported")
    info = _finfo(dtype)
    high = info.max if posinf is None else posinf
    low = info.min if neginf is None else neginf

    def compute(xp: Any, x: Any) -> Any:
        out = xp.where(xp.isnan(x), nan, x)
        out = xp.where(out == np.inf, high, out)
        return xp.where(out == -np.inf, low, out).astype(x.dtype, copy=False)

    return float_math(input, compute)


def _predicate(name: str, compute: ArrayFn, integer_value: bool | None, doc: str) -> Callable[[Tensor], Tensor]:
    def op(input: Tensor) -> Tensor:
        data = input._data
        xp = input._device.backend.xp
        if data.dtype.kind in "biu" and integer_value is not None:
            return wrap(xp.full(data.shape, integer_value, dtype=np.bool_), input._device)
        if data.dtype == _BFLOAT16:
            data = data.astype(np.float32)
        return wrap(compute(xp, data), input._device)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Bool tensor: {doc}"
    return op


isnan = tensor_method("isnan")(_predicate("isnan", lambda xp, x: xp.isnan(x), False, "where the element is nan."))
isinf = tensor_method("isinf")(_predicate("isinf", lambda xp, x: xp.isinf(x), False, "where the element is ±inf."))
isposinf = tensor_method("isposinf")(
    _predicate("isposinf", lambda xp, x: x == np.inf, False, "where the element is +inf.")
)
isneginf = tensor_method("isneginf")(
    _predicate("isneginf", lambda xp, x: x == -np.inf, False, "where the element is -inf.")
)
isfinite = tensor_method("isfinite")(
    _predicate("isfinite", lambda xp, x: xp.isfinite(x), True, "where the element is finite.")
)


@tensor_method()
def signbit(input: Tensor) -> Tensor:
    """Bool tensor: where the sign bit is set (true for -0.0 and negative numbers)."""
    if input.dtype.is_complex:
        raise DTypeError("signbit: complex tensors are not supported")
    data = input._data
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    elif data.dtype == _BFLOAT16:
        data = data.astype(np.float32)
    return wrap(input._device.backend.xp.signbit(data), input._device)
