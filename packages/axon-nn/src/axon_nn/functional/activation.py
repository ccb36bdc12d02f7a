"""Activation functions: thin wrappers over the Tensor/Variable ops.

The math and the backward rules live once, in axon-tensor (forward, with softmax/log_softmax/
gelu/silu on the backend's fused ops) and axon-autograd (backward, double-differentiable). These
functions add only PyTorch's argument checks. All work elementwise on any shape ``[*]`` except
softmax/log_softmax, which normalise along ``dim``.
"""

from __future__ import annotations

from typing import Any

from axon_core import DTypeError
from axon_tensor.tensor import normalize_dim

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
