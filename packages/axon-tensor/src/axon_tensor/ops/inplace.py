"""In-place ops (``add_``, ``mul_``, ``copy_``, ``clamp_``, ``uniform_``, ``a += b``, ...).

Each writes into the tensor's backend array, so a view's writes land in its base storage. The
result is computed with PyTorch's promotion and must be castable to ``self``'s dtype (no float
into an integer tensor, no complex into a real one, nothing but bool into bool), and must have
``self``'s shape: the other operands broadcast to ``self``, never ``self`` to them.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from axon_core import DType, DTypeError, ShapeError

from ..random import Generator, default_generator
from ..tensor import Tensor, tensor_method
from . import activation, arithmetic, comparison, composites, indexing, logical, reduction, shape, unary  # noqa: F401
from ._binary import SCALARS, scalar_of

__all__ = [
    "add_",
    "sub_",
    "mul_",
    "div_",
    "pow_",
    "addcmul_",
    "addcdiv_",
    "lerp_",
    "clamp_",
    "zero_",
    "fill_",
    "copy_",
    "sqrt_",
    "exp_",
    "neg_",
    "abs_",
    "sigmoid_",
    "tanh_",
    "relu_",
    "uniform_",
    "normal_",
    "check_cast",
]

_TORCH_NAMES = {
    "bool": "Bool",
    "uint8": "Byte",
    "int8": "Char",
    "int16": "Short",
    "int32": "Int",
    "int64": "Long",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "float32": "Float",
    "float64": "Double",
    "complex64": "ComplexFloat",
    "complex128": "ComplexDouble",
}


def _can_cast(source: DType, target: DType) -> bool:
    if source.is_complex and not target.is_complex:
        return False
    if source.is_floating_point and (target.is_integer or target.is_bool):
        return False
    return not (not source.is_bool and target.is_bool)


def check_cast(op: str, source: DType, target: DType) -> None:
    """DTypeError when an in-place result of ``source`` dtype may not be written into ``target``."""
    if not _can_cast(source, target):
        raise DTypeError(
            f"{op}: result type {_TORCH_NAMES[source.name]} can't be cast to the desired output type "
            f"{_TORCH_NAMES[target.name]}"
        )


def _write(op: str, self: Tensor, result: Tensor) -> Tensor:
    """Store ``result`` into ``self``'s storage after the dtype and shape checks."""
    check_cast(op, result.dtype, self.dtype)
    if tuple(result.shape) != tuple(self.shape):
        raise ShapeError(
            f"{op}: output with shape {tuple(self.shape)} doesn't match the broadcast shape {tuple(result.shape)}"
        )
    _store(op, self, result._data)
    return self


def _store(op: str, self: Tensor, array: Any) -> None:
    try:
        self._data[...] = array
    except ValueError as exc:
        if not getattr(self._data, "flags", None) or self._data.flags.writeable:
            raise ShapeError(
                f"{op}: cannot write a value of shape {getattr(array, 'shape', ())} into shape {tuple(self.shape)}"
            ) from exc
        raise RuntimeError(f"{op}: the tensor's memory is read-only (for example a broadcast view)") from exc


def _ufunc_inplace(op: str, self: Tensor, other: Any, name: str) -> bool:
    """Run ``xp.<name>(self, other, out=self)`` when no promotion is involved; True if done."""
    data = self._data
    if other.__class__ is Tensor:
        if other._data.dtype is not data.dtype or other._device is not self._device:
            return False
        operand = other._data
    elif other.__class__ in (int, float) and _scalar_fits(other, self.dtype):
        operand = scalar_of(other, self.dtype)
    else:
        return False
    try:
        getattr(self._device.backend.xp, name)(data, operand, out=data)
    except ValueError:
        # Broadcasting past self's shape or read-only memory: the checked path names the problem.
        return False
    return True


def _scalar_fits(value: Any, dtype: DType) -> bool:
    return (dtype.is_floating_point and dtype.name != "bfloat16") or (dtype.is_integer and value.__class__ is int)


@tensor_method("add_", "__iadd__")
def add_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``self += alpha * other`` in place."""
    if alpha == 1 and self._data.dtype.kind in "fiu" and _ufunc_inplace("add_", self, other, "add"):
        return self
    return _write("add_", self, arithmetic.add(self, other, alpha=alpha))


@tensor_method("sub_", "__isub__")
def sub_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``self -= alpha * other`` in place."""
    if alpha == 1 and self._data.dtype.kind in "fiu" and _ufunc_inplace("sub_", self, other, "subtract"):
        return self
    return _write("sub_", self, arithmetic.sub(self, other, alpha=alpha))


@tensor_method("mul_", "__imul__")
def mul_(self: Tensor, other: Any) -> Tensor:
    """``self *= other`` in place."""
    if self._data.dtype.kind in "fiu" and _ufunc_inplace("mul_", self, other, "multiply"):
        return self
    return _write("mul_", self, arithmetic.mul(self, other))


@tensor_method("div_", "__itruediv__")
def div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``self /= other`` in place (an integer tensor needs a ``rounding_mode``)."""
    if rounding_mode is None and self._data.dtype.kind == "f" and other.__class__ is Tensor:
        with np.errstate(all="ignore"):
            if _ufunc_inplace("div_", self, other, "true_divide"):
                return self
    return _write("div_", self, arithmetic.div(self, other, rounding_mode=rounding_mode))


def _binary_inplace(name: str, fn: Callable[[Any, Any], Tensor]) -> Callable[[Tensor, Any], Tensor]:
    def op(self: Tensor, other: Any) -> Tensor:
        return _write(name, self, fn(self, other))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"In-place ``{fn.__name__}``: the result is written into ``self``."
    return op


pow_ = tensor_method("pow_", "__ipow__")(_binary_inplace("pow_", arithmetic.pow))
floor_divide_ = tensor_method("floor_divide_", "__ifloordiv__")(
    _binary_inplace("floor_divide_", arithmetic.floor_divide)
)
remainder_ = tensor_method("remainder_", "__imod__")(_binary_inplace("remainder_", arithmetic.remainder))
fmod_ = tensor_method("fmod_")(_binary_inplace("fmod_", arithmetic.fmod))
maximum_ = tensor_method("maximum_")(_binary_inplace("maximum_", arithmetic.maximum))
minimum_ = tensor_method("minimum_")(_binary_inplace("minimum_", arithmetic.minimum))
bitwise_and_ = tensor_method("bitwise_and_", "__iand__")(_binary_inplace("bitwise_and_", logical.bitwise_and))
bitwise_or_ = tensor_method("bitwise_or_", "__ior__")(_binary_inplace("bitwise_or_", logical.bitwise_or))
bitwise_xor_ = tensor_method("bitwise_xor_", "__ixor__")(_binary_inplace("bitwise_xor_", logical.bitwise_xor))
bitwise_left_shift_ = tensor_method("bitwise_left_shift_", "__ilshift__")(
    _binary_inplace("bitwise_left_shift_", logical.bitwise_left_shift)
)
bitwise_right_shift_ = tensor_method("bitwise_right_shift_", "__irshift__")(
    _binary_inplace("bitwise_right_shift_", logical.bitwise_right_shift)
)


@tensor_method()
def addcmul_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``self += value * tensor1 * tensor2`` in place."""
    return _write("addcmul_", self, arithmetic.addcmul(self, tensor1, tensor2, value=value))


@tensor_method()
def addcdiv_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """``self += value * tensor1 / tensor2`` in place."""
    return _write("addcdiv_", self, arithmetic.addcdiv(self, tensor1, tensor2, value=value))


@tensor_method()
def lerp_(self: Tensor, end: Tensor, weight: Any) -> Tensor:
    """``self += weight * (end - self)`` in place."""
    return _write("lerp_", self, arithmetic.lerp(self, end, weight))


@tensor_method("clamp_", "clip_")
def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit ``self`` to ``[min, max]`` in place."""
    return _write("clamp_", self, comparison.clamp(self, min, max))


clip_ = clamp_


@tensor_method()
def zero_(self: Tensor) -> Tensor:
    """Set every element to 0."""
    self._data[...] = 0
    return self


@tensor_method()
def fill_(self: Tensor, value: Any) -> Tensor:
    """Set every element to ``value`` (a number or a one-element tensor), cast to ``self``'s dtype."""
    if value.__class__ is Tensor:
        if value.numel() != 1:
            raise ShapeError(f"fill_: expected a 0-d or one-element value tensor, got shape {tuple(value.shape)}")
        value = value.item()
    elif not isinstance(value, SCALARS):
        raise TypeError(f"fill_: value must be a number or a one-element Tensor, got {type(value).__name__}")
    _store("fill_", self, value)
    return self


@tensor_method()
def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to ``self``'s shape, any dtype, any device) into ``self``."""
    if src.__class__ is not Tensor:
        raise TypeError(f"copy_: src must be a Tensor, got {type(src).__name__}")
    array = src._data
    if src._device is not self._device:
        array = self._device.backend.from_numpy(src._device.backend.to_numpy(array))
    try:
        target = np.broadcast_shapes(tuple(src.shape), tuple(self.shape))
    except ValueError as exc:
        raise ShapeError(f"copy_: src of shape {tuple(src.shape)} does not broadcast to {tuple(self.shape)}") from exc
    if target != tuple(self.shape):
        raise ShapeError(f"copy_: src of shape {tuple(src.shape)} does not broadcast to {tuple(self.shape)}")
    if array.dtype != self._data.dtype:
        array = array.astype(self._data.dtype)
    _store("copy_", self, array)
    return self


def _unary_inplace(name: str, fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    def op(self: Tensor) -> Tensor:
        return _write(name, self, fn(self))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"In-place ``{fn.__name__}``: the result is written into ``self``."
    return op


sqrt_ = tensor_method("sqrt_")(_unary_inplace("sqrt_", unary.sqrt))
exp_ = tensor_method("exp_")(_unary_inplace("exp_", unary.exp))
log_ = tensor_method("log_")(_unary_inplace("log_", unary.log))
neg_ = tensor_method("neg_")(_unary_inplace("neg_", arithmetic.neg))
abs_ = tensor_method("abs_")(_unary_inplace("abs_", unary.abs))
sigmoid_ = tensor_method("sigmoid_")(_unary_inplace("sigmoid_", unary.sigmoid))
tanh_ = tensor_method("tanh_")(_unary_inplace("tanh_", unary.tanh))
relu_ = tensor_method("relu_")(_unary_inplace("relu_", activation.relu))
floor_ = tensor_method("floor_")(_unary_inplace("floor_", unary.floor))
ceil_ = tensor_method("ceil_")(_unary_inplace("ceil_", unary.ceil))
round_ = tensor_method("round_")(_unary_inplace("round_", unary.round))
trunc_ = tensor_method("trunc_")(_unary_inplace("trunc_", unary.trunc))
reciprocal_ = tensor_method("reciprocal_")(_unary_inplace("reciprocal_", unary.reciprocal))


def _random_fill(op: str, self: Tensor, values: np.ndarray) -> Tensor:
    if not self.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating tensor, got {self.dtype}")
    _store(op, self, self._device.backend.from_numpy(values.astype(self._data.dtype)))
    return self


def _rng(generator: Generator | None) -> np.random.Generator:
    return (default_generator if generator is None else generator).numpy_generator


@tensor_method()
def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with samples uniform in ``[a, b)`` drawn from ``generator`` (host-side PCG64)."""
    if a > b:
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    values = _rng(generator).random(tuple(self.shape), dtype=np.float64) * (b - a) + a
    return _random_fill("uniform_", self, values)


@tensor_method()
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None) -> Tensor:
    """Fill with samples from ``N(mean, std**2)`` drawn from ``generator``."""
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    values = _rng(generator).standard_normal(tuple(self.shape), dtype=np.float64) * std + mean
    return _random_fill("normal_", self, values)


# The in-place twin of each out-of-place op below: the result written back into ``self`` with the
# same dtype and shape checks (``x.cos_()`` is ``x.copy_(x.cos())``).
_WRITE_BACK = """acos acosh asin asinh atan atanh arccos arccosh arcsin arcsinh arctan arctanh cos cosh sin sinh tan
erf erfc erfinv exp2 expm1 log10 log1p log2 logit frac fix sign square rsqrt absolute negative nan_to_num
atan2 arctan2 copysign hypot divide multiply subtract true_divide fmod remainder floor_divide
eq ne lt le gt ge greater greater_equal less less_equal not_equal logical_and logical_or logical_xor logical_not
bitwise_not bitwise_and bitwise_or bitwise_xor cumsum cumprod tril triu clamp_min clamp_max deg2rad rad2deg sgn
masked_fill index_add index_fill scatter scatter_add scatter_reduce
hardtanh leaky_relu elu celu selu silu mish hardsigmoid
hardswish relu6 softplus""".split()


def _write_back(name: str) -> Callable[..., Tensor]:
    def op(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return _write(f"{name}_", self, getattr(Tensor, name)(self, *args, **kwargs))

    op.__name__ = f"{name}_"
    op.__doc__ = f"``{name}`` in place."
    return op


for _name in _WRITE_BACK:
    if hasattr(Tensor, _name) and f"{_name}_" not in Tensor.__dict__:
        tensor_method(f"{_name}_")(_write_back(_name))
