"""Numerics every reference op shares: the compute precision, a stable sigmoid, and the constants
of GELU and SELU (the one home of each; axon-tensor and axon-autograd import them from here)."""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "GELU_TANH_COEFF",
    "INV_SQRT_2",
    "INV_SQRT_2PI",
    "SELU_ALPHA",
    "SELU_SCALE",
    "SATURATION",
    "SQRT_2_OVER_PI",
    "sigmoid",
    "upcast",
]

Array = Any

#: GELU's tanh approximation: ``0.5 x (1 + tanh(sqrt(2/pi) (x + GELU_TANH_COEFF x^3)))``.
GELU_TANH_COEFF = 0.044715
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2 = math.sqrt(0.5)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: SELU (Klambauer et al. 2017): ``SELU_SCALE * (max(0, x) + min(0, SELU_ALPHA * (exp(x) - 1)))``.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
#: Beyond ``±SATURATION`` GELU (both forms), SiLU and Mish equal their limits at ±inf (``x`` or 0)
#: and their first and second derivatives theirs (1 or 0) exactly, in every float dtype: ``exp``
#: and ``erfc`` underflow long before. Clamping the input there gives the limit at ±inf instead of
#: ``inf * 0`` and leaves every other result bit for bit as the formula gives it.
SATURATION = 1.0e4


def upcast(xp: Any, x: Array) -> Array:
    """float16/bfloat16 are computed in float32; other dtypes as they are (no copy)."""
    return x.astype(xp.float32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


def sigmoid(xp: Any, x: Array) -> Array:
    """``1 / (1 + exp(-x))``, split by sign so neither branch overflows ``exp``."""
    positive = x >= 0
    z = xp.exp(xp.where(positive, -x, x))
    # One quotient for both branches: the same values as 1 / (1 + z) and z / (1 + z), fewer passes.
    return xp.where(positive, 1.0, z) / (1.0 + z)
