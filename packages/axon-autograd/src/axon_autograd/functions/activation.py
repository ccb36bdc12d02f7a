"""Activations. softmax, log_softmax, gelu and silu compute their backward with the backend's
fused ops; that backward is itself a Function (differentiable once more, for double backward).
Those four are rows of one table (:data:`FUSED`), made into Functions by one template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from axon_core.backend.numerics import GELU_TANH_COEFF, INV_SQRT_2PI, SATURATION, SQRT_2_OVER_PI
from axon_tensor import Tensor
from axon_tensor.tensor import normalize_dim, wrap

from ..function import Function
from ..variable import Variable, variable_method

__all__ = ["Softmax", "LogSoftmax", "Gelu", "Silu", "LeakyRelu", "Elu", "Celu", "Softplus", "Hardtanh"]


@dataclass(frozen=True)
class FusedActivation:
    """One activation whose backward is a backend fused op (one row of :data:`FUSED`).

    ``forward(x, *args)`` is the Tensor op; ``saves`` says which tensor the backward reads (the
    ``"input"`` x or the ``"output"`` y); ``fused_backward(backend, g, saved, *args)`` is the
    backend's op on arrays; ``second(u, g, saved, *args, needs)`` is the backward of that backward
    as Variable math: ``(grad of g, grad of saved)`` for the incoming ``u``.
    """

    name: str
    forward: Callable[..., Tensor]
    saves: str
    fused_backward: Callable[..., Any]
    second: Callable[..., tuple]
    #: ``(x, args, kwargs)`` to the positional arguments ``forward`` and the backward take.
    normalize: Callable[[Tensor, tuple, dict], tuple] = lambda x, args, kwargs: args
    autocast_policy: str | None = None


def _softmax_dim(op: str) -> Callable[[Tensor, tuple, dict], tuple]:
    return lambda x, args, kwargs: (normalize_dim(kwargs["dim"] if "dim" in kwargs else args[0], x.ndim, op),)


def _softmax_second(u: Variable, g: Variable, y: Variable, dim: int, needs: tuple) -> tuple:
    grad_g = SoftmaxBackward.apply(u, y, dim) if needs[0] else None
    grad_y = u * (g - (g * y).sum(dim, keepdim=True)) - g * (u * y).sum(dim, keepdim=True) if needs[1] else None
    return grad_g, grad_y


def _log_softmax_second(u: Variable, g: Variable, y: Variable, dim: int, needs: tuple) -> tuple:
    p = y.exp()
    grad_g = (u - (u * p).sum(dim, keepdim=True)) if needs[0] else None
    grad_y = (-u * p * g.sum(dim, keepdim=True)) if needs[1] else None
    return grad_g, grad_y


def _gelu_second(u: Variable, g: Variable, x: Variable, approximate: str, needs: tuple) -> tuple:
    grad_g = GeluBackward.apply(u, x, approximate) if needs[0] else None
    grad_x = None
    if needs[1]:
        x = x.clamp(-SATURATION, SATURATION)  # gelu'' is exactly 0 beyond: no inf * 0 at ±inf
        if approximate == "tanh":
            inner = (x + x * x * x * GELU_TANH_COEFF) * SQRT_2_OVER_PI
            t = inner.tanh()
            d_inner = (x * x * (3 * GELU_TANH_COEFF) + 1.0) * SQRT_2_OVER_PI
            dd_inner = x * (6 * GELU_TANH_COEFF * SQRT_2_OVER_PI)
            second = (1.0 - t * t) * (d_inner + x * 0.5 * (dd_inner - t * d_inner * d_inner * 2.0))
        else:
            second = (x * x * -0.5).exp() * INV_SQRT_2PI * (2.0 - x * x)
        grad_x = u * g * second
    return grad_g, grad_x


def _silu_second(u: Variable, g: Variable, x: Variable, needs: tuple) -> tuple:
    grad_g = SiluBackward.apply(u, x) if needs[0] else None
    grad_x = None
    if needs[1]:
        x = x.clamp(-SATURATION, SATURATION)  # as in _gelu_second
        s = x.sigmoid()
        grad_x = u * g * s * (1.0 - s) * (2.0 + x * (1.0 - s * 2.0))
    return grad_g, grad_x


#: softmax ``y * (g - sum(g * y))``, log_softmax ``g - exp(y) * sum(g)``, gelu ``g * gelu'(x)``,
#: silu ``g * s * (1 + x * (1 - s))`` (``s = sigmoid(x)``): the backend's fused backwards.
FUSED = (
    FusedActivation(
        "Softmax",
        lambda x, dim: x.softmax(dim),
        "output",
        lambda b, g, y, dim: b.softmax_backward(g, y, dim),
        _softmax_second,
        _softmax_dim("softmax"),
        "fp32",
    ),
    FusedActivation(
        "LogSoftmax",
        lambda x, dim: x.log_softmax(dim),
        "output",
        lambda b, g, y, dim: b.log_softmax_backward(g, y, dim),
        _log_softmax_second,
        _softmax_dim("log_softmax"),
        "fp32",
    ),
    FusedActivation(
        "Gelu",
        lambda x, approximate="none": x.gelu(approximate=approximate),
        "input",
        lambda b, g, x, approximate="none": b.gelu_backward(g, x, approximate),
        _gelu_second,
        lambda x, args, kwargs: (kwargs.get("approximate", args[0] if args else "none"),),
    ),
    FusedActivation("Silu", lambda x: x.silu(), "input", lambda b, g, x: b.silu_backward(g, x), _silu_second),
)


def _functions(rule: FusedActivation) -> tuple[type[Function], type[Function]]:
    """The op and its backward as two Functions named after ``rule`` (``Gelu``, ``GeluBackward``)."""

    def forward(ctx: Any, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        ctx.args = rule.normalize(x, args, kwargs)
        y = rule.forward(x, *ctx.args)
        ctx.save_for_backward(y if rule.saves == "output" else x)
        return y

    def backward(ctx: Any, g: Variable) -> Variable:
        (saved,) = ctx.saved_tensors
        return backward_fn.apply(g, saved, *ctx.args)

    def backward_forward(ctx: Any, g: Tensor, saved: Tensor, *args: Any) -> Tensor:
        ctx.args = args
        ctx.save_for_backward(g, saved)
        return wrap(rule.fused_backward(saved.backend, g.array, saved.array, *args), saved.device)

    def backward_backward(ctx: Any, u: Variable) -> tuple:
        g, saved = ctx.saved_tensors
        return rule.second(u, g, saved, *ctx.args, ctx.needs_input_grad[:2]) + (None,) * len(ctx.args)

    backward_fn = type(
        f"{rule.name}Backward",
        (Function,),
        {
            "__doc__": f"The gradient of {rule.name} (the backend's fused op); differentiable once more.",
            "forward": staticmethod(backward_forward),
            "backward": staticmethod(backward_backward),
        },
    )
    op = type(
        rule.name,
        (Function,),
        {
            "__doc__": f"{rule.name}, with the backend's fused backward.",
            "autocast_policy": rule.autocast_policy,
            "forward": staticmethod(forward),
            "backward": staticmethod(backward),
        },
    )
    return op, backward_fn


Softmax, SoftmaxBackward = _functions(FUSED[0])
LogSoftmax, LogSoftmaxBackward = _functions(FUSED[1])
Gelu, GeluBackward = _functions(FUSED[2])
Silu, SiluBackward = _functions(FUSED[3])


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


class Celu(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, alpha: float = 1.0) -> Tensor:
        ctx.alpha = alpha
        ctx.save_for_backward(x)
        return x.celu(alpha)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        from .indexing import where

        (x,) = ctx.saved_tensors
        return where(x.data > 0, g, g * (x / ctx.alpha).exp())


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


for _name, _cls in (
    ("softmax", Softmax),
    ("log_softmax", LogSoftmax),
    ("gelu", Gelu),
    ("silu", Silu),
    ("leaky_relu", LeakyRelu),
    ("elu", Elu),
    ("celu", Celu),
    ("softplus", Softplus),
    ("hardtanh", Hardtanh),
):
    variable_method(_name)((lambda cls: lambda input, *args, **kwargs: cls.apply(input, *args, **kwargs))(_cls))
