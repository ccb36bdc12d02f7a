"""Elementwise activations, forward and backward: ReLU, GELU (exact and tanh), SiLU, SwiGLU.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/activations.py`` with the kernels of ``kernels/activations.py``.
"""

from __future__ import annotations

from typing import Any

from .. import special
from ..checks import same_shapes
from ..numerics import GELU_TANH_COEFF, INV_SQRT_2, INV_SQRT_2PI, SATURATION, SQRT_2_OVER_PI, sigmoid, upcast

__all__ = ["ActivationsReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class ActivationsReference:
    """Reference activations ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def relu(self, x: Array) -> Array:
        """``max(x, 0)``; NaN and -0.0 pass through (as PyTorch's ``relu``); integers stay integers."""
        return self.xp.where(x < 0, x.dtype.type(0), x)

    def relu_backward(self, grad: Array, y: Array) -> Array:
        """``grad`` where ``y = relu(x) > 0``, else 0 (PyTorch's ``threshold_backward(grad, y, 0)``:
        exactly 0 where ``y <= 0`` even for an inf/NaN ``grad``; a NaN ``y`` passes ``grad``)."""
        return self.xp.where(y <= 0, grad.dtype.type(0), grad)

    def gelu(self, x: Array, approximate: str = "none") -> Array:
        """GELU, exact (``x * Φ(x)`` via erf) or ``approximate="tanh"``; 0 at -inf."""
        xp = self.xp
        # Clamped below at -SATURATION, where the result is already -0.0: -inf * 0 would be NaN.
        work = xp.maximum(upcast(xp, x), -SATURATION)
        if approximate == "tanh":
            inner = SQRT_2_OVER_PI * (work + GELU_TANH_COEFF * work**3)
            # 0.5 * (1 + tanh(u)) == sigmoid(2u), without the cancellation for negative u.
            out = work * sigmoid(xp, 2.0 * inner)
        elif approximate == "none":
            # Φ(x) as erfc(-x/√2)/2: no cancellation in 1 + erf(x/√2) for negative x.
            out = 0.5 * work * special.erfc(xp, -work * INV_SQRT_2)
        else:
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return out.astype(x.dtype, copy=False)

    def gelu_backward(self, grad: Array, x: Array, approximate: str = "none") -> Array:
        """d gelu(x)/dx times ``grad``; the derivative is 1 at +inf and 0 at -inf."""
        xp = self.xp
        # Clamped to ±SATURATION, where the derivative is already exactly 1 or 0 (no inf * 0).
        work, work_g = xp.clip(upcast(xp, x), -SATURATION, SATURATION), upcast(xp, grad)
        if approximate == "tanh":
            inner = SQRT_2_OVER_PI * (work + GELU_TANH_COEFF * work**3)
            d_inner = SQRT_2_OVER_PI * (1.0 + 3 * GELU_TANH_COEFF * work**2)
            # With s = sigmoid(2u): 0.5 * (1 + tanh u) = s and 1 - tanh(u)**2 = 4 s (1 - s).
            s, s_neg = sigmoid(xp, 2.0 * inner), sigmoid(xp, -2.0 * inner)
            deriv = s + 2.0 * work * s * s_neg * d_inner
        elif approximate == "none":
            cdf = 0.5 * special.erfc(xp, -work * INV_SQRT_2)
            pdf = xp.exp(-0.5 * work * work) * INV_SQRT_2PI
            deriv = cdf + work * pdf
        else:
            raise ValueError(f"gelu_backward: approximate must be 'none' or 'tanh', got {approximate!r}")
        return (work_g * deriv).astype(x.dtype, copy=False)

    def silu(self, x: Array) -> Array:
        """``x * sigmoid(x)``; 0 at -inf."""
        work = self.xp.maximum(upcast(self.xp, x), -SATURATION)  # no -inf * 0 (see gelu)
        return (work * sigmoid(self.xp, work)).astype(x.dtype, copy=False)

    def silu_backward(self, grad: Array, x: Array) -> Array:
        """``grad * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``; 1 at +inf, 0 at -inf."""
        xp = self.xp
        work, work_g = xp.clip(upcast(xp, x), -SATURATION, SATURATION), upcast(xp, grad)
        s = sigmoid(xp, work)
        return (work_g * s * (1.0 + work * (1.0 - s))).astype(x.dtype, copy=False)

    def swiglu(self, gate: Array, up: Array) -> Array:
        """``silu(gate) * up``; ``gate`` and ``up`` have one shape ``[..., hidden]``."""
        same_shapes("swiglu", gate=gate, up=up)
        work_gate, work_up = self.xp.maximum(upcast(self.xp, gate), -SATURATION), upcast(self.xp, up)
        return (work_gate * sigmoid(self.xp, work_gate) * work_up).astype(gate.dtype, copy=False)

    def swiglu_backward(self, grad: Array, gate: Array, up: Array) -> tuple[Array, Array]:
        """(d gate, d up) of :meth:`swiglu` given the output gradient ``grad`` (all one shape)."""
        same_shapes("swiglu_backward", grad=grad, gate=gate, up=up)
        xp = self.xp
        work_g, work_up = upcast(xp, grad), upcast(xp, up)
        # silu(gate) is clamped below only, silu'(gate) on both sides (see gelu_backward); s is
        # exactly 1 above SATURATION, so one sigmoid serves both.
        low = xp.maximum(upcast(xp, gate), -SATURATION)
        s = sigmoid(xp, low)
        d_gate = work_g * work_up * s * (1.0 + xp.minimum(low, SATURATION) * (1.0 - s))
        d_up = work_g * low * s
        return d_gate.astype(gate.dtype, copy=False), d_up.astype(up.dtype, copy=False)
