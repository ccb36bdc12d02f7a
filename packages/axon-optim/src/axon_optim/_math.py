"""Torch-ordered in-place updates on backend arrays, shared by the optimizers.

Optimizers update ``p.data`` through its backend array (NumPy or CuPy, so one code path serves
every device). These helpers repeat PyTorch's CPU kernels' order of operations so that float32
trajectories agree with ``torch.optim`` to rounding: ``addcmul_`` is ``self + (value * t1) * t2``,
``addcdiv_`` is ``self + (value * t1) / t2``, ``lerp_`` switches formula at weight 0.5. Scalars
are cast to the array's dtype first, as PyTorch computes float32 tensors with float32 scalars.
"""

from __future__ import annotations

from typing import Any

__all__ = ["arrays_of", "lerp_", "addcmul_", "addcdiv_", "scalar"]

Array = Any


def arrays_of(p: Any, maximize: bool = False) -> tuple[Any, Array, Array]:
    """``(xp, param array, gradient array)``; the gradient is negated when ``maximize``."""
    data = p.data
    grad = p.grad.data._data
    return data._device._backend.xp, data._data, -grad if maximize else grad


def scalar(array: Array, value: float) -> Any:
    """``value`` as a scalar of ``array``'s dtype."""
    return array.dtype.type(value)


def lerp_(start: Array, end: Array, weight: float) -> None:
    """``start += weight * (end - start)`` in place, with PyTorch's two formulas."""
    w = scalar(start, weight)
    if abs(weight) < 0.5:
        start += w * (end - start)
    else:
        start[...] = end - (end - start) * (scalar(start, 1.0) - w)


def addcmul_(target: Array, t1: Array, t2: Array, value: float) -> None:
    """``target += value * t1 * t2`` in place."""
    target += (scalar(target, value) * t1) * t2


def addcdiv_(target: Array, t1: Array, t2: Array, value: float) -> None:
    """``target += value * t1 / t2`` in place."""
    target += (scalar(target, value) * t1) / t2
