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


def upcast(xp: Any, x: Array) -> Array:
    """float16/bfloat16 are computed in float32; other dtypes as they are (no copy)."""
    return x.astype(xp.float32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


def sigmoid(xp: Any, x: Array) -> Array:
    """``1 / (1 + exp(-x))``, split by sign so neither branch overflows ``exp``."""
    positive = x >= 0
    z = xp.exp(xp.where(positive, -x, x))
    return xp.where(positive, 1.0 / (1.0 + z), z / (1.0 + z))
