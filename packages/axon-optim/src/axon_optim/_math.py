"""The parameter and gradient arrays of a parameter, and PyTorch-ordered in-place updates on them.

Optimizers update ``p.data`` through its backend array (NumPy or CuPy, so one code path serves
every device). The torch-ordered helpers (``lerp_``, ``addcmul_``, ``addcdiv_``, ``scalar``) have
one home, next to the backend's reference optimizer steps that use them too.
"""

from __future__ import annotations

from typing import Any

from axon_core.backend.reference.optim import addcdiv_, addcmul_, lerp_, scalar

__all__ = ["arrays_of", "lerp_", "addcmul_", "addcdiv_", "scalar"]


def arrays_of(p: Any, maximize: bool = False) -> tuple[Any, Any, Any]:
    """``(xp, param array, gradient array)``; the gradient is negated when ``maximize``."""
    data = p.data
    grad = p.grad.data.array
    return data.backend.xp, data.array, -grad if maximize else grad
