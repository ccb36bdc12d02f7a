"""Activations: Relu, Sigmoid, Tanh, LeakyRelu, Gelu, Softmax, LogSoftmax, Clip, HardSigmoid, Elu,
Selu, Softplus, ... Where ONNX's parameters match a functional op, it is called; otherwise the
formula of the ONNX spec is written with Variable ops (so gradients flow either way)."""

from __future__ import annotations

import axon_nn.functional as F
from axon_autograd import where

from ..registry import register
from ._util import axis, fail


@register("Relu")
def relu(node, x):
    return F.relu(x) if x.dtype.is_floating_point else x.clamp(min=0)


@register("Sigmoid")
def sigmoid(node, x):
    return F.sigmoid(x)


@register("Tanh")
def tanh(node, x):
    return F.tanh(x)


@register("LeakyRelu", attrs=("alpha",))
def leaky_relu(node, x):
    return F.leaky_relu(x, node.get("alpha", 0.01))


@register("Gelu", since=20, attrs=("approximate",), check=lambda a: _gelu_check(a))
def gelu(node, x):
    return F.gelu(x, approximate=node.get("approximate", "none"))


def _gelu_check(attrs):
    value = attrs.get("approximate", "none")
    return None if value in ("none", "tanh") else f"Gelu approximate={value!r} is not defined"


@register("Softmax", attrs=("axis",))
def softmax(node, x):
    return F.softmax(x, axis(node, node.get("axis", -1), x.ndim))


@register("LogSoftmax", attrs=("axis",))
def log_softmax(node, x):
    return F.log_softmax(x, axis(node, node.get("axis", -1), x.ndim))


@register("Clip")
def clip(node, x, low=None, high=None):
    # Opset 11+ takes the bounds as optional scalar inputs; an empty bound is no bound.
    bounds = []
    for bound in (low, high):
        if bound is not None and bound.numel() != 1:
            raise fail(node, f"Clip bounds must be scalars, got shape {bound.shape}")
        bounds.append(None if bound is None else bound.item())
    if bounds[0] is None and bounds[1] is None:
        return x
    return x.clamp(min=bounds[0], max=bounds[1])


@register("HardSigmoid", attrs=("alpha", "beta"))
def hard_sigmoid(node, x):
    return (x * node.get("alpha", 0.2) + node.get("beta", 0.5)).clamp(min=0.0, max=1.0)


@register("HardSwish")
def hard_swish(node, x):
    return x * (x * (1.0 / 6.0) + 0.5).clamp(min=0.0, max=1.0)


@register("Elu", attrs=("alpha",))
def elu(node, x):
    return F.elu(x, node.get("alpha", 1.0))


@register("Celu", attrs=("alpha",))
def celu(node, x):
    return F.celu(x, node.get("alpha", 1.0))


_SELU_ALPHA = 1.67326319217681884765625
_SELU_GAMMA = 1.05070102214813232421875


@register("Selu", attrs=("alpha", "gamma"))
def selu(node, x):
    alpha, gamma = node.get("alpha", _SELU_ALPHA), node.get("gamma", _SELU_GAMMA)
    return where(x > 0, x, (x.exp() - 1.0) * alpha) * gamma


@register("Softplus")
def softplus(node, x):
    return F.softplus(x)


@register("Softsign")
def softsign(node, x):
    return x / (x.abs() + 1.0)


@register("ThresholdedRelu", attrs=("alpha",))
def thresholded_relu(node, x):
    return where(x > node.get("alpha", 1.0), x, x * 0.0)


@register("PRelu")
def prelu(node, x, slope):
    return where(x < 0, x * slope, x)


@register("Mish")
def mish(node, x):
    return F.mish(x)


@register("Swish", since=24, attrs=("alpha",))
def swish(node, x):
    return x * F.sigmoid(x * node.get("alpha", 1.0))


@register("Hardmax", attrs=("axis",))
def hardmax(node, x):
    dim = axis(node, node.get("axis", -1), x.ndim)
    # One at the first maximum along the axis, zeros elsewhere.
    first = x.argmax(dim=dim, keepdim=True)
    return (x * 0.0).scatter(dim, first, 1.0)
