"""The backend protocol.

A backend owns how arrays of one device are made, moved and computed on. Plain array math
(add, mul, sum, matmul, indexing) goes through ``backend.xp``, which is NumPy on the CPU and
CuPy on CUDA; their APIs agree, so axon-tensor writes each op once. The fused ops below are the
ones where a hand-written CUDA kernel pays; the CPU backend implements them in NumPy and the
CUDA backend launches our kernels. Shapes are documented per op; unless stated, ops take and
return arrays of the backend's ``xp`` and work over the last dimension.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from . import special

if TYPE_CHECKING:
    from ..device import Device

__all__ = ["Backend"]

Array = Any


class Backend(ABC):
    """Base class of every backend. Subclasses set ``xp`` and implement the fused ops."""

    name: str = "abstract"
    xp: Any = np
    #: True when arrays of this backend are NumPy arrays living in host memory.
    host_memory: bool = True

    def __init__(self, device: "Device") -> None:
        self.device = device

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.device})"

    # -- moving data -------------------------------------------------------------------------
    @abstractmethod
    def from_numpy(self, array: np.ndarray) -> Array:
        """Copy (or, on the CPU, share) a host array onto this device."""

    @abstractmethod
    def to_numpy(self, array: Array) -> np.ndarray:
        """A host NumPy array with the values of ``array`` (shares memory when on the host)."""

    def synchronize(self) -> None:
        """Wait until every queued op of this device has finished."""

    def memory_stats(self) -> dict[str, int]:
        """Bytes ``in_use``, ``cached`` and ``peak`` of this device's pool (zeros on the CPU)."""
        return {"in_use": 0, "cached": 0, "peak": 0, "limit": 0}

    def reset_peak_memory_stats(self) -> None:
        """Start measuring ``peak`` again from the current ``in_use``."""

    def set_memory_limit(self, limit_bytes: int | None) -> None:
        """Cap the pool at ``limit_bytes`` (None lifts the cap)."""

    # -- fused ops --------------------------------------------------------------------------
    # Reference implementations written against ``self.xp`` (so they serve NumPy and CuPy
    # alike). The CUDA backend overrides them with our kernels; the CPU backend may override one
    # where a faster host path pays. Arrays in, arrays out; floats are computed in the input's
    # precision except float16/bfloat16, which accumulate in float32 and return the input dtype.

    def softmax(self, x: Array, dim: int) -> Array:
        """``exp(x - max) / sum(exp(x - max))`` along ``dim``."""
        xp = self.xp
        work = _upcast(xp, x)
        shifted = work - work.max(axis=dim, keepdims=True)
        exps = xp.exp(shifted)
        return (exps / exps.sum(axis=dim, keepdims=True)).astype(x.dtype, copy=False)

    def log_softmax(self, x: Array, dim: int) -> Array:
        """``x - logsumexp(x)`` along ``dim``."""
        xp = self.xp
        work = _upcast(xp, x)
        shifted = work - work.max(axis=dim, keepdims=True)
        return (shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))).astype(x.dtype, copy=False)

    def softmax_backward(self, grad: Array, y: Array, dim: int) -> Array:
        """Gradient of softmax given its output ``y``: ``y * (grad - sum(grad * y))``."""
        work_g, work_y = _upcast(self.xp, grad), _upcast(self.xp, y)
        return (work_y * (work_g - (work_g * work_y).sum(axis=dim, keepdims=True))).astype(y.dtype, copy=False)

    def log_softmax_backward(self, grad: Array, y: Array, dim: int) -> Array:
        """Gradient of log_softmax given its output ``y``: ``grad - exp(y) * sum(grad)``."""
        xp = self.xp
        work_g, work_y = _upcast(xp, grad), _upcast(xp, y)
        return (work_g - xp.exp(work_y) * work_g.sum(axis=dim, keepdims=True)).astype(y.dtype, copy=False)

    def gelu(self, x: Array, approximate: str = "none") -> Array:
        """GELU, exact (``x * Φ(x)`` via erf) or ``approximate="tanh"``."""
        xp = self.xp
        work = _upcast(xp, x)
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (work + 0.044715 * work**3)
            # 0.5 * (1 + tanh(u)) == sigmoid(2u), without the cancellation for negative u.
            out = work * _sigmoid(xp, 2.0 * inner)
        elif approximate == "none":
            # Φ(x) as erfc(-x/√2)/2: no cancellation in 1 + erf(x/√2) for negative x.
            out = 0.5 * work * special.erfc(xp, -work * _INV_SQRT_2)
        else:
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return out.astype(x.dtype, copy=False)

    def gelu_backward(self, grad: Array, x: Array, approximate: str = "none") -> Array:
        """d gelu(x)/dx times ``grad``."""
        xp = self.xp
        work, work_g = _upcast(xp, x), _upcast(xp, grad)
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (work + 0.044715 * work**3)
            d_inner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * work**2)
            # With s = sigmoid(2u): 0.5 * (1 + tanh u) = s and 1 - tanh(u)**2 = 4 s (1 - s).
            s, s_neg = _sigmoid(xp, 2.0 * inner), _sigmoid(xp, -2.0 * inner)
            deriv = s + 2.0 * work * s * s_neg * d_inner
        elif approximate == "none":
            cdf = 0.5 * special.erfc(xp, -work * _INV_SQRT_2)
            pdf = xp.exp(-0.5 * work * work) * _INV_SQRT_2PI
            deriv = cdf + work * pdf
        else:
            raise ValueError(f"gelu_backward: approximate must be 'none' or 'tanh', got {approximate!r}")
        return (work_g * deriv).astype(x.dtype, copy=False)

    def silu(self, x: Array) -> Array:
        """``x * sigmoid(x)``."""
        work = _upcast(self.xp, x)
        return (work * _sigmoid(self.xp, work)).astype(x.dtype, copy=False)

    def silu_backward(self, grad: Array, x: Array) -> Array:
        """``grad * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``."""
        xp = self.xp
        work, work_g = _upcast(xp, x), _upcast(xp, grad)
        s = _sigmoid(xp, work)
        return (work_g * s * (1.0 + work * (1.0 - s))).astype(x.dtype, copy=False)


_SQRT_2_OVER_PI = 0.7978845608028654
_INV_SQRT_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


def _upcast(xp: Any, x: Array) -> Array:
    """float16/bfloat16 are computed in float32; other dtypes as they are."""
    return x.astype(xp.float32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


def _sigmoid(xp: Any, x: Array) -> Array:
    # Split by sign so neither branch overflows exp.
    positive = x >= 0
    z = xp.exp(xp.where(positive, -x, x))
    return xp.where(positive, 1.0 / (1.0 + z), z / (1.0 + z))
