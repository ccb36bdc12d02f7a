"""Weight initialisation in place, with PyTorch's formulas (gains, fan modes).

Values are drawn on the host from axon's seeded generator (or ``generator``) and written into
the tensor's storage on its device. Every function returns its argument.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from axon_autograd import Variable, tensor_of
from axon_core import ShapeError
from axon_tensor import Generator, Tensor, default_generator

from .deferred import deferring

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "zeros_",
    "ones_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
]


def _unless_deferred(initializer: Callable[..., Any]) -> Callable[..., Any]:
    """Under ``deferred_init`` an initialiser draws and writes nothing (the parameter has no storage yet)."""

    @functools.wraps(initializer)
    def run(t: Any, *args: Any, **kwargs: Any) -> Any:
        return t if deferring() else initializer(t, *args, **kwargs)

    return run


def _write(t: "Tensor | Variable", values: np.ndarray) -> "Tensor | Variable":
    target = tensor_of(t)
    target.array[...] = target.device.backend.from_numpy(np.ascontiguousarray(values, dtype=target.dtype.np))
    return t


def _rng(generator: Generator | None) -> np.random.Generator:
    return (default_generator if generator is None else generator).numpy_generator


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table)."""
    linear = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    )
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(t: "Tensor | Variable") -> tuple[int, int]:
    shape = tuple(t.shape)
    if len(shape) < 2:
        raise ShapeError(f"fan in and fan out cannot be computed for a tensor of shape {shape} (needs >= 2 dims)")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


@_unless_deferred
def uniform_(t: Any, a: float = 0.0, b: float = 1.0, generator: Generator | None = None) -> Any:
    return _write(t, _rng(generator).uniform(a, b, tuple(t.shape)))


@_unless_deferred
def normal_(t: Any, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None) -> Any:
    return _write(t, _rng(generator).normal(mean, std, tuple(t.shape)))


@_unless_deferred
def trunc_normal_(
    t: Any, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator: Generator | None = None
) -> Any:
    """Normal(mean, std) conditioned on ``[a, b]`` (absolute bounds, as PyTorch), by rejection."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    rng = _rng(generator)
    size = math.prod(tuple(t.shape))
    out = np.empty(size)
    filled = 0
    while filled < size:
        draw = rng.normal(mean, std, max(2 * (size - filled), 16))
        kept = draw[(draw >= a) & (draw <= b)][: size - filled]
        out[filled : filled + kept.size] = kept
        filled += kept.size
    return _write(t, out.reshape(tuple(t.shape)))


@_unless_deferred
def constant_(t: Any, value: float) -> Any:
    target = tensor_of(t)
    target.array[...] = value
    return t


@_unless_deferred
def zeros_(t: Any) -> Any:
    return constant_(t, 0.0)


@_unless_deferred
def ones_(t: Any) -> Any:
    return constant_(t, 1.0)


@_unless_deferred
def xavier_uniform_(t: Any, gain: float = 1.0, generator: Generator | None = None) -> Any:
    """U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


@_unless_deferred
def xavier_normal_(t: Any, gain: float = 1.0, generator: Generator | None = None) -> Any:
    """N(0, std²) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(t: Any, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


@_unless_deferred
def kaiming_uniform_(
    t: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator: Generator | None = None
) -> Any:
    """U(-b, b) with ``b = gain * sqrt(3 / fan)``."""
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, generator)


@_unless_deferred
def kaiming_normal_(
    t: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator: Generator | None = None
) -> Any:
    """N(0, std²) with ``std = gain / sqrt(fan)``."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), generator)


@_unless_deferred
def orthogonal_(t: Any, gain: float = 1.0, generator: Generator | None = None) -> Any:
    """A (semi-)orthogonal matrix over ``[shape[0], prod(shape[1:])]`` times ``gain`` (QR with sign fix)."""
    shape = tuple(t.shape)
    if len(shape) < 2:
        raise ShapeError(f"orthogonal_: needs a tensor with at least 2 dims, got shape {shape}")
    rows, cols = shape[0], math.prod(shape[1:])
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(t, (gain * q).reshape(shape))
