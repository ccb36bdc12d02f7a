"""Activation functions, functional and as Tensor methods.

softmax, log_softmax, gelu and silu call the device backend's fused ops (our CUDA kernels on a
GPU); the rest are plain ``xp`` math. Integer inputs compute as the default float dtype (relu,
relu6 and hardtanh keep integers, like PyTorch).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_core import DTypeError, as_dtype
from axon_core.backend.numerics import SATURATION, SELU_ALPHA, SELU_SCALE

from ..tensor import Tensor, normalize_dim, tensor_method, wrap
from .unary import float_math, sigmoid, tanh

__all__ = [
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "softplus",
    "softsign",
    "hardtanh",
    "hardsigmoid",
    "hardswish",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
]


def _reject_bool(op: str, input: Tensor) -> None:
    if input.dtype.is_bool or input.dtype.is_complex:
        raise DTypeError(f"{op}: not supported for {input.dtype} tensors")


@tensor_method()
def relu(input: Tensor) -> Tensor:
    """``max(input, 0)``; nan stays nan; integer tensors stay integer."""
    _reject_bool("relu", input)
    return wrap(input._device.backend.relu(input._data), input._device)


@tensor_method()
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``input`` clipped to ``[min_val, max_val]``; nan stays nan."""
    _reject_bool("hardtanh", input)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} must not exceed max_val {max_val}")
    if input.dtype.is_integer:
        if (
            isinstance(min_val, float)
            and not min_val.is_integer()
            or isinstance(max_val, float)
            and not max_val.is_integer()
        ):
            raise DTypeError(f"hardtanh: integer tensors need integer bounds, got {min_val}, {max_val}")
        low, high = input._data.dtype.type(min_val), input._data.dtype.type(max_val)
        xp = input._device.backend.xp
        return wrap(xp.minimum(xp.maximum(input._data, low), high), input._device)
    return float_math(
        input,
        lambda xp, x: xp.where(x < min_val, x.dtype.type(min_val), xp.where(x > max_val, x.dtype.type(max_val), x)),
    )


@tensor_method()
def relu6(input: Tensor) -> Tensor:
    """``min(max(input, 0), 6)``."""
    return hardtanh(input, 0, 6)


@tensor_method()
def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``input`` where positive, else ``negative_slope * input``."""
    _reject_bool("leaky_relu", input)
    return float_math(input, lambda xp, x: xp.where(x > 0, x, x * x.dtype.type(negative_slope)))


@tensor_method()
def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``input`` where positive, else ``alpha * (exp(input) - 1)``."""
    _reject_bool("elu", input)
    return float_math(input, lambda xp, x: xp.where(x > 0, x, x.dtype.type(alpha) * xp.expm1(xp.minimum(x, 0))))


@tensor_method()
def selu(input: Tensor) -> Tensor:
    """``scale * elu(input, alpha)`` with the self-normalising constants of Klambauer et al."""
    _reject_bool("selu", input)

    def compute(xp: Any, x: Any) -> Any:
        scale, alpha = x.dtype.type(SELU_SCALE), x.dtype.type(SELU_ALPHA)
        return scale * xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))

    return float_math(input, compute)


@tensor_method()
def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``max(0, input) + min(0, alpha * (exp(input / alpha) - 1))``."""
    _reject_bool("celu", input)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")

    def compute(xp: Any, x: Any) -> Any:
        a = x.dtype.type(alpha)
        return xp.where(x > 0, x, a * xp.expm1(xp.minimum(x, 0) / a))

    return float_math(input, compute)


def _as_floating(op: str, input: Tensor) -> Any:
    _reject_bool(op, input)
    return float_math(input, lambda xp, x: x)._data if not input.dtype.is_floating_point else input._data


@tensor_method()
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``input * Φ(input)`` (exact, via erf) or its tanh approximation (``approximate="tanh"``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    data = _as_floating("gelu", input)
    return wrap(input._device.backend.gelu(data, approximate), input._device)


@tensor_method()
def silu(input: Tensor) -> Tensor:
    """``input * sigmoid(input)`` (also called swish)."""
    data = _as_floating("silu", input)
    return wrap(input._device.backend.silu(data), input._device)


def _softplus(xp: Any, x: Any, beta: float, threshold: float) -> Any:
    scaled = x * beta
    # log1p(exp(z)) computed as max(z, 0) + log1p(exp(-|z|)) so large z cannot overflow.
    smooth = (xp.maximum(scaled, 0) + xp.log1p(xp.exp(-xp.abs(scaled)))) / beta
    return xp.where(scaled > threshold, x, smooth).astype(x.dtype, copy=False)


@tensor_method()
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * input)) / beta``, or ``input`` where ``beta * input > threshold``."""
    _reject_bool("softplus", input)
    return float_math(input, lambda xp, x: _softplus(xp, x, beta, threshold))


@tensor_method()
def mish(input: Tensor) -> Tensor:
    """``input * tanh(softplus(input))``; 0 at -inf."""
    _reject_bool("mish", input)

    def compute(xp: Any, x: Any) -> Any:
        # Below -SATURATION the result is already -0.0: the clamp turns -inf * 0 into that.
        x = xp.maximum(x, x.dtype.type(-SATURATION))
        return x * xp.tanh(_softplus(xp, x, 1.0, 20.0))

    return float_math(input, compute)


@tensor_method()
def softsign(input: Tensor) -> Tensor:
    """``input / (1 + |input|)``; ±1 at ±inf."""
    _reject_bool("softsign", input)

    def compute(xp: Any, x: Any) -> Any:
        # ±inf clamped to the largest finite value, whose quotient rounds to ±1 (not inf / inf).
        largest = x.dtype.type(np.finfo(x.dtype).max)
        x = xp.clip(x, -largest, largest)
        return x / (1 + xp.abs(x))

    return float_math(input, compute)


@tensor_method()
def hardsigmoid(input: Tensor) -> Tensor:
    """``relu6(input + 3) / 6``."""
    _reject_bool("hardsigmoid", input)
    return float_math(input, lambda xp, x: xp.minimum(xp.maximum(x + 3, 0), 6) / 6)


@tensor_method()
def hardswish(input: Tensor) -> Tensor:
    """``input * relu6(input + 3) / 6``: 0 for every ``input <= -3``, -inf included."""
    _reject_bool("hardswish", input)

    def compute(xp: Any, x: Any) -> Any:
        x = xp.maximum(x, x.dtype.type(-SATURATION))  # -inf * 0 would be NaN; see mish
        return x * xp.minimum(xp.maximum(x + 3, 0), 6) / 6

    return float_math(input, compute)


def _softmax_like(op: str, input: Tensor, dim: int, dtype: Any) -> Tensor:
    data = input._data
    if dtype is not None:
        data = data.astype(as_dtype(dtype).np)
    if data.dtype.kind not in "fV":
        raise DTypeError(f"{op}: expected a floating tensor (or pass dtype=), got {input.dtype}")
    axis = normalize_dim(dim, data.ndim, op)
    backend = input._device.backend
    if data.size == 0:
        return wrap(data.copy(), input._device)
    if data.ndim == 0:
        return wrap(getattr(backend, op)(data.reshape(1), 0).reshape(()), input._device)
    return wrap(getattr(backend, op)(data, axis), input._device)


@tensor_method()
def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """``exp(input) / sum(exp(input))`` along ``dim``; ``dtype`` casts the input first."""
    return _softmax_like("softmax", input, dim, dtype)


@tensor_method()
def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """``input - logsumexp(input)`` along ``dim``; ``dtype`` casts the input first."""
    return _softmax_like("log_softmax", input, dim, dtype)
