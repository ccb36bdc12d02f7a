"""Activations. softmax, log_softmax, gelu and silu compute their backward with the backend's
fused ops; that backward is itself a Function (differentiable once more, for double backward)."""

from __future__ import annotations

import math
from typing import Any

from axon_tensor import Tensor
from axon_tensor.tensor import normalize_dim, wrap

from ..function import Function
from ..variable import Variable, variable_method

__all__ = ["Softmax", "LogSoftmax", "Gelu", "Silu", "LeakyRelu", "Elu", "Softplus", "Hardtanh"]


def _backend(t: Tensor) -> Any:
    return t.backend


class Softmax(Function):
    autocast_policy = "fp32"

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int) -> Tensor:
        ctx.dim = normalize_dim(dim, x.ndim, "softmax")
        y = x.softmax(dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        (y,) = ctx.saved_tensors
        return SoftmaxBackward.apply(g, y, ctx.dim)


class SoftmaxBackward(Function):
    """``y * (g - sum(g * y))``: the gradient of softmax given its output ``y``."""

    @staticmethod
    def forward(ctx: Any, g: Tensor, y: Tensor, dim: int) -> Tensor:
        ctx.dim = dim
        ctx.save_for_backward(g, y)
        return wrap(_backend(y).softmax_backward(g.array, y.array, dim), y.device)

    @staticmethod
    def backward(ctx: Any, u: Variable) -> tuple:
        g, y = ctx.saved_tensors
        dim = ctx.dim
        grad_g = SoftmaxBackward.apply(u, y, dim) if ctx.needs_input_grad[0] else None
        grad_y = None
        if ctx.needs_input_grad[1]:
            s = (g * y).sum(dim, keepdim=True)
            grad_y = u * (g - s) - g * (u * y).sum(dim, keepdim=True)
        return grad_g, grad_y


class LogSoftmax(Function):
    autocast_policy = "fp32"

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int) -> Tensor:
        ctx.dim = normalize_dim(dim, x.ndim, "log_softmax")
        y = x.log_softmax(dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        (y,) = ctx.saved_tensors
        return LogSoftmaxBackward.apply(g, y, ctx.dim)


class LogSoftmaxBackward(Function):
    """``g - exp(y) * sum(g)``: the gradient of log_softmax given its output ``y``."""

    @staticmethod
    def forward(ctx: Any, g: Tensor, y: Tensor, dim: int) -> Tensor:
        ctx.dim = dim
        ctx.save_for_backward(g, y)
        return wrap(_backend(y).log_softmax_backward(g.array, y.array, dim), y.device)

    @staticmethod
    def backward(ctx: Any, u: Variable) -> tuple:
        g, y = ctx.saved_tensors
        dim = ctx.dim
        p = y.exp()
        grad_g = (u - (u * p).sum(dim, keepdim=True)) if ctx.needs_input_grad[0] else None
        grad_y = (-u * p * g.sum(dim, keepdim=True)) if ctx.needs_input_grad[1] else None
        return grad_g, grad_y


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Gelu(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, approximate: str = "none") -> Tensor:
        ctx.approximate = approximate
        ctx.save_for_backward(x)
        return x.gelu(approximate=approximate)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        (x,) = ctx.saved_tensors
        return GeluBackward.apply(g, x, ctx.approximate)


class GeluBackward(Function):
    """``g * gelu'(x)``; its own backward uses ``gelu''(x)``."""

    @staticmethod
    def forward(ctx: Any, g: Tensor, x: Tensor, approximate: str) -> Tensor:
        ctx.approximate = approximate
        ctx.save_for_backward(g, x)
        return wrap(_backend(x).gelu_backward(g.array, x.array, approximate), x.device)

    @staticmethod
    def backward(ctx: Any, u: Variable) -> tuple:
        g, x = ctx.saved_tensors
        grad_g = GeluBackward.apply(u, x, ctx.approximate) if ctx.needs_input_grad[0] else None
        grad_x = None
        if ctx.needs_input_grad[1]:
            if ctx.approximate == "tanh":
                inner = (x + x * x * x * 0.044715) * _SQRT_2_OVER_PI
                t = inner.tanh()
                d_inner = (x * x * (3 * 0.044715) + 1.0) * _SQRT_2_OVER_PI
                dd_inner = x * (6 * 0.044715 * _SQRT_2_OVER_PI)
                second = (1.0 - t * t) * (d_inner + x * 0.5 * (dd_inner - t * d_inner * d_inner * 2.0))
            else:
                pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
                second = pdf * (2.0 - x * x)
            grad_x = u * g * second
        return grad_g, grad_x


class Silu(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x.silu()

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        (x,) = ctx.saved_tensors
        return SiluBackward.apply(g, x)


class SiluBackward(Function):
    """``g * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``."""

    @staticmethod
    def forward(ctx: Any, g: Tensor, x: Tensor) -> Tensor:
        ctx.save_for_backward(g, x)
        return wrap(_backend(x).silu_backward(g.array, x.array), x.device)

    @staticmethod
    def backward(ctx: Any, u: Variable) -> tuple:
        g, x = ctx.saved_tensors
        grad_g = SiluBackward.apply(u, x) if ctx.needs_input_grad[0] else None
        grad_x = None
        if ctx.needs_input_grad[1]:
            s = x.sigmoid()
            grad_x = u * g * s * (1.0 - s) * (2.0 + x * (1.0 - s * 2.0))
        return grad_g, grad_x


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, negative_slope: float = 0.01) -> Tensor:
        ctx.slope = negative_slope
        ctx.save_for_backward(x)
        return x.leaky_relu(negative_slope)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        from .indexing import where

        (x,) = ctx.saved_tensors
        return where(x.data > 0, g, g * ctx.slope)


class Elu(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, alpha: float = 1.0) -> Tensor:
        ctx.alpha = alpha
        y = x.elu(alpha)
        ctx.save_for_backward(x)
        return y

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        from .indexing import where

        (x,) = ctx.saved_tensors
        return where(x.data > 0, g, g * x.exp() * ctx.alpha)


class Softplus(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        ctx.beta, ctx.threshold = beta, threshold
        ctx.save_for_backward(x)
        return x.softplus(beta, threshold)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        from .indexing import where

        (x,) = ctx.saved_tensors
        return where((x.data * ctx.beta) > ctx.threshold, g, g * (x * ctx.beta).sigmoid())


class Hardtanh(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
        ctx.save_for_backward(x)
        ctx.bounds = (min_val, max_val)
        return x.hardtanh(min_val, max_val)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        (x,) = ctx.saved_tensors
        low, high = ctx.bounds
        return g * ((x.data > low) & (x.data < high))


for _name, _cls in (("softmax", Softmax), ("log_softmax", LogSoftmax), ("gelu", Gelu), ("silu", Silu),
                    ("leaky_relu", LeakyRelu), ("elu", Elu), ("softplus", Softplus), ("hardtanh", Hardtanh)):
    variable_method(_name)((lambda cls: lambda input, *args, **kwargs: cls.apply(input, *args, **kwargs))(_cls))
