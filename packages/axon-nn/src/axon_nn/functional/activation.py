"""Activation functions. Each is one autograd Function: forward and backward side by side.

All work elementwise on any shape ``[*]`` except softmax/log_softmax, which normalise along ``dim``.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function, once_differentiable

from ._util import out_like, saved, xp_of

__all__ = [
    "relu", "leaky_relu", "elu", "gelu", "silu", "mish", "softplus", "sigmoid", "tanh",
    "softmax", "log_softmax",
]


def _sigmoid(xp: Any, x: Any) -> Any:
    # Split by sign so that exp never overflows.
    positive = x >= 0
    z = xp.exp(xp.where(positive, -x, x))
    return xp.where(positive, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


def _softplus(xp: Any, x: Any) -> Any:
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class ReLUFunction(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).maximum(x._data, 0)
        ctx.save_for_backward(out_like(y, x))
        return out_like(y, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (y,) = saved(ctx)
        return out_like(grad._data * (y._data > 0), grad)


class LeakyReLUFunction(Function):
    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.negative_slope = negative_slope
        data = x._data
        return out_like(xp_of(x).where(data > 0, data, data * negative_slope), x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (x,) = saved(ctx)
        g = grad._data
        return out_like(xp_of(x).where(x._data > 0, g, g * ctx.negative_slope), grad), None


class ELUFunction(Function):
    @staticmethod
    def forward(ctx, x, alpha):
        xp, data = xp_of(x), x._data
        y = xp.where(data > 0, data, alpha * xp.expm1(xp.minimum(data, 0)))
        ctx.save_for_backward(x, out_like(y, x))
        ctx.alpha = alpha
        return out_like(y, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, y = saved(ctx)
        g = grad._data
        return out_like(xp_of(x).where(x._data > 0, g, g * (y._data + ctx.alpha)), grad), None


class GELUFunction(Function):
    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return out_like(x._device._backend.gelu(x._data, approximate), x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (x,) = saved(ctx)
        return out_like(x._device._backend.gelu_backward(grad._data, x._data, ctx.approximate), grad), None


class SiLUFunction(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return out_like(x._device._backend.silu(x._data), x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (x,) = saved(ctx)
        return out_like(x._device._backend.silu_backward(grad._data, x._data), grad)


class MishFunction(Function):
    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        ctx.save_for_backward(x)
        return out_like(x._data * xp.tanh(_softplus(xp, x._data)), x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (x,) = saved(ctx)
        xp, data = xp_of(x), x._data
        t = xp.tanh(_softplus(xp, data))
        return out_like(grad._data * (t + data * _sigmoid(xp, data) * (1 - t * t)), grad)


class SoftplusFunction(Function):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp, data = xp_of(x), x._data
        scaled = data * beta
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        # Above the threshold softplus is the identity (as in PyTorch), which also avoids overflow.
        return out_like(xp.where(scaled > threshold, data, _softplus(xp, scaled) / beta).astype(data.dtype, copy=False), x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (x,) = saved(ctx)
        xp, scaled = xp_of(x), x._data * ctx.beta
        g = grad._data
        return out_like(xp.where(scaled > ctx.threshold, g, g * _sigmoid(xp, scaled)), grad), None, None


class SigmoidFunction(Function):
    @staticmethod
    def forward(ctx, x):
        y = _sigmoid(xp_of(x), x._data)
        ctx.save_for_backward(out_like(y, x))
        return out_like(y, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (y,) = saved(ctx)
        return out_like(grad._data * y._data * (1 - y._data), grad)


class TanhFunction(Function):
    @staticmethod
    def forward(ctx, x):
        y = xp_of(x).tanh(x._data)
        ctx.save_for_backward(out_like(y, x))
        return out_like(y, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (y,) = saved(ctx)
        return out_like(grad._data * (1 - y._data * y._data), grad)


class SoftmaxFunction(Function):
    @staticmethod
    def forward(ctx, x, dim):
        y = x._device._backend.softmax(x._data, dim)
        ctx.save_for_backward(out_like(y, x))
        ctx.dim = dim
        return out_like(y, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (y,) = saved(ctx)
        return out_like(y._device._backend.softmax_backward(grad._data, y._data, ctx.dim), grad), None


class LogSoftmaxFunction(Function):
    @staticmethod
    def forward(ctx, x, dim):
        y = x._device._backend.log_softmax(x._data, dim)
        ctx.save_for_backward(out_like(y, x))
        ctx.dim = dim
        return out_like(y, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (y,) = saved(ctx)
        return out_like(y._device._backend.log_softmax_backward(grad._data, y._data, ctx.dim), grad), None


def _check_float(op: str, x: Any) -> None:
    from axon_core import DTypeError

    if not x.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating-point input, got {x.dtype}")


def relu(input: Any) -> Any:
    """``max(x, 0)``; ``[*] -> [*]``."""
    return ReLUFunction.apply(input)


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Any:
    """``x`` where positive, else ``negative_slope * x``."""
    return LeakyReLUFunction.apply(input, float(negative_slope))


def elu(input: Any, alpha: float = 1.0) -> Any:
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    return ELUFunction.apply(input, float(alpha))


def gelu(input: Any, approximate: str = "none") -> Any:
    """``x * Φ(x)`` (exact, via erf) or its ``approximate="tanh"`` form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    _check_float("gelu", input)
    return GELUFunction.apply(input, approximate)


def silu(input: Any) -> Any:
    """``x * sigmoid(x)`` (a.k.a. swish)."""
    _check_float("silu", input)
    return SiLUFunction.apply(input)


def mish(input: Any) -> Any:
    """``x * tanh(softplus(x))``."""
    _check_float("mish", input)
    return MishFunction.apply(input)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """``log(1 + exp(beta * x)) / beta``, the identity where ``beta * x > threshold``."""
    _check_float("softplus", input)
    return SoftplusFunction.apply(input, float(beta), float(threshold))


def sigmoid(input: Any) -> Any:
    """``1 / (1 + exp(-x))``."""
    _check_float("sigmoid", input)
    return SigmoidFunction.apply(input)


def tanh(input: Any) -> Any:
    _check_float("tanh", input)
    return TanhFunction.apply(input)


def _softmax_dim(op: str, input: Any, dim: int) -> int:
    ndim = len(input.shape)
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(f"{op}: dim {dim} is out of range for a {ndim}-d input of shape {tuple(input.shape)}")
    return dim % bound if ndim else 0


def softmax(input: Any, dim: int) -> Any:
    """``exp(x) / sum(exp(x))`` along ``dim``."""
    _check_float("softmax", input)
    return SoftmaxFunction.apply(input, _softmax_dim("softmax", input, dim))


def log_softmax(input: Any, dim: int) -> Any:
    """``x - logsumexp(x)`` along ``dim``."""
    _check_float("log_softmax", input)
    return LogSoftmaxFunction.apply(input, _softmax_dim("log_softmax", input, dim))
