"""Activation functions: thin wrappers over the Tensor/Variable ops.

The math and the backward rules live once, in axon-tensor (forward, with softmax/log_softmax/
gelu/silu on the backend's fused ops) and axon-autograd (backward, double-differentiable). These
functions add only PyTorch's argument checks. All work elementwise on any shape ``[*]`` except
softmax/log_softmax, which normalise along ``dim``.
"""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_autograd.functions import where
from axon_core import DTypeError, ShapeError
from axon_tensor import default_generator
from axon_tensor.tensor import normalize_dim

from ._util import tensor_of

__all__ = [
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "mish",
    "softplus",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softmin",
    "logsigmoid",
    "celu",
    "hardtanh",
    "hardsigmoid",
    "softsign",
    "hardswish",
    "relu6",
    "selu",
    "normalize",
    "glu",
    "softshrink",
    "hardshrink",
    "tanhshrink",
    "threshold",
    "prelu",
    "rrelu",
    "elu_",
    "leaky_relu_",
    "hardtanh_",
]


def _in_place(input: Any, result: Any, inplace: bool) -> Any:
    """``inplace=True``: ``result`` written into ``input``, which is returned (PyTorch's contract).

    Autograd records no in-place ops, so where ``input`` takes part in a recorded graph the
    result is returned as a new Variable and ``input`` keeps its values (use the return value).
    """
    if not inplace:
        return result
    if getattr(input, "requires_grad", False) or getattr(result, "requires_grad", False):
        return result
    return input.copy_(result)


def _check_float(op: str, x: Any) -> None:
    if not x.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating-point input, got {x.dtype}")


def relu(input: Any, inplace: bool = False) -> Any:
    """``max(x, 0)``; ``[*] -> [*]``."""
    return _in_place(input, input.relu(), inplace)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:
    """``x`` where positive, else ``negative_slope * x``."""
    return _in_place(input, input.leaky_relu(float(negative_slope)), inplace)


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    return _in_place(input, input.elu(float(alpha)), inplace)


def gelu(input: Any, approximate: str = "none") -> Any:
    """``x * Φ(x)`` (exact, via erf) or its ``approximate="tanh"`` form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    _check_float("gelu", input)
    return input.gelu(approximate)


def silu(input: Any, inplace: bool = False) -> Any:
    """``x * sigmoid(x)`` (a.k.a. swish)."""
    _check_float("silu", input)
    return _in_place(input, input.silu(), inplace)


def mish(input: Any, inplace: bool = False) -> Any:
    """``x * tanh(softplus(x))``."""
    _check_float("mish", input)
    return _in_place(input, input.mish(), inplace)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """``log(1 + exp(beta * x)) / beta``, the identity where ``beta * x > threshold``."""
    _check_float("softplus", input)
    return input.softplus(float(beta), float(threshold))


def sigmoid(input: Any) -> Any:
    """``1 / (1 + exp(-x))``."""
    _check_float("sigmoid", input)
    return input.sigmoid()


def tanh(input: Any) -> Any:
    _check_float("tanh", input)
    return input.tanh()


def softmax(input: Any, dim: int, dtype: Any = None) -> Any:
    """``exp(x) / sum(exp(x))`` along ``dim`` (in ``dtype`` when given: the input is cast first)."""
    input = input if dtype is None else input.to(dtype)
    _check_float("softmax", input)
    return input.softmax(normalize_dim(dim, len(input.shape), "softmax"))


def log_softmax(input: Any, dim: int, dtype: Any = None) -> Any:
    """``x - logsumexp(x)`` along ``dim`` (in ``dtype`` when given: the input is cast first)."""
    input = input if dtype is None else input.to(dtype)
    _check_float("log_softmax", input)
    return input.log_softmax(normalize_dim(dim, len(input.shape), "log_softmax"))


def softmin(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    """``softmax(-input, dim)``; ``[*] -> [*]``."""
    if dim is None:
        raise ValueError("softmin: pass dim= (PyTorch's implicit dim choice is deprecated)")
    return softmax(-(input if dtype is None else input.to(dtype)), dim)


def logsigmoid(input: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``; ``[*] -> [*]``."""
    _check_float("logsigmoid", input)
    return -((-input).softplus())


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return _in_place(input, input.celu(float(alpha)), inplace)


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Any:
    """``x`` clamped to ``[min_val, max_val]``."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} must not exceed max_val {max_val}")
    return _in_place(input, input.hardtanh(float(min_val), float(max_val)), inplace)


def hardsigmoid(input: Any, inplace: bool = False) -> Any:
    """``relu6(x + 3) / 6``."""
    return _in_place(input, input.hardsigmoid(), inplace)


def softsign(input: Any) -> Any:
    """``x / (1 + |x|)``."""
    return input.softsign()


def hardswish(input: Any, inplace: bool = False) -> Any:
    """``x * relu6(x + 3) / 6``."""
    return _in_place(input, input.hardswish(), inplace)


def relu6(input: Any, inplace: bool = False) -> Any:
    """``min(max(x, 0), 6)``."""
    return _in_place(input, input.relu6(), inplace)


def selu(input: Any, inplace: bool = False) -> Any:
    """``scale * (max(0, x) + min(0, alpha * (exp(x) - 1)))`` with SELU's constants."""
    return _in_place(input, input.selu(), inplace)


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Any:
    """``input / max(||input||_p over dim, eps)``, as PyTorch's; ``[*] -> [*]``."""
    _check_float("normalize", input)
    norm = input.norm(p, dim, keepdim=True)
    return input / norm.clamp(min=eps).expand(tuple(input.shape))


def glu(input: Any, dim: int = -1) -> Any:
    """``a * sigmoid(b)`` with ``a, b`` the two halves of ``input`` along ``dim``: ``[*, 2n, *] -> [*, n, *]``."""
    _check_float("glu", input)
    if len(input.shape) == 0:
        raise ShapeError("glu: does not support 0-d (scalar) inputs")
    dim = normalize_dim(dim, len(input.shape), "glu")
    size = input.shape[dim]
    if size % 2:
        raise ShapeError(f"glu: halving dimension must be even, but dimension {dim} is size {size}")
    a, b = input.narrow(dim, 0, size // 2), input.narrow(dim, size // 2, size // 2)
    return a * b.sigmoid()


def _check_lambd(op: str, lambd: float) -> None:
    if lambd < 0:
        raise ValueError(f"{op}: lambd must be non-negative, got {lambd}")


def softshrink(input: Any, lambd: float = 0.5) -> Any:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0 (NaN stays NaN)."""
    _check_float("softshrink", input)
    _check_lambd("softshrink", lambd)
    x = tensor_of(input)
    return where(x > lambd, input - lambd, where(x < -lambd, input + lambd, input * 0.0))


def hardshrink(input: Any, lambd: float = 0.5) -> Any:
    """``x`` where ``|x| > lambd``, else 0 (NaN stays NaN)."""
    _check_float("hardshrink", input)
    _check_lambd("hardshrink", lambd)
    x = tensor_of(input)
    return where((x >= -lambd) & (x <= lambd), 0.0, input)


def tanhshrink(input: Any) -> Any:
    """``x - tanh(x)``."""
    _check_float("tanhshrink", input)
    return input - input.tanh()


def threshold(input: Any, threshold: float, value: float, inplace: bool = False) -> Any:
    """``value`` where ``x <= threshold``, else ``x`` (NaN stays NaN); integer inputs stay integer."""
    return _in_place(input, where(tensor_of(input) <= threshold, _scalar_like(value, input), input), inplace)


def _scalar_like(value: float, like: Any) -> Any:
    """``value`` as a 0-d Tensor of ``like``'s dtype, so ``where`` keeps that dtype (torch's rule)."""
    x = tensor_of(like)
    return axon_tensor.full((), value, dtype=x.dtype, device=x.device)


def prelu(input: Any, weight: Any) -> Any:
    """``x`` where positive, else ``weight * x``; ``weight [1]`` or ``[C]`` for ``input [N, C, *]``."""
    _check_float("prelu", input)
    shape, count = tuple(input.shape), 1
    for s in weight.shape:
        count *= s
    if count != 1:
        channels = shape[1] if len(shape) >= 2 else None
        if len(weight.shape) != 1 or channels != count:
            raise ShapeError(
                f"prelu: weight {tuple(weight.shape)} must have 1 element or one per channel (dim 1) of input {shape}"
            )
        weight = weight.reshape((1, count) + (1,) * (len(shape) - 2))
    elif len(weight.shape):
        weight = weight.reshape(())
    return where(tensor_of(input) > 0, input, weight * input)


def rrelu(
    input: Any, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False
) -> Any:
    """Randomized leaky ReLU: ``x`` where positive, else ``a * x``.

    Training draws ``a ~ U(lower, upper)`` per element from axon's seeded generator (the gradient
    there is ``a``); evaluation uses ``a = (lower + upper) / 2``, as PyTorch.
    """
    _check_float("rrelu", input)
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: expected 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    x = tensor_of(input)
    draws = default_generator.numpy_generator.uniform(lower, upper, tuple(x.shape)).astype(x.dtype.np)
    slopes = axon_tensor.tensor(draws, device=x.device)
    return _in_place(input, where(x > 0, input, input * slopes), inplace)


def elu_(input: Any, alpha: float = 1.0) -> Any:
    """:func:`elu` with ``inplace=True`` (see :func:`_in_place` for autograd's exception)."""
    return elu(input, alpha, inplace=True)


def leaky_relu_(input: Any, negative_slope: float = 0.01) -> Any:
    """:func:`leaky_relu` with ``inplace=True``."""
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    """:func:`hardtanh` with ``inplace=True``."""
    return hardtanh(input, min_val, max_val, inplace=True)
