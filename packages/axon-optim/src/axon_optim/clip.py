"""Gradient clipping: by the total norm of all gradients, or elementwise by value."""

from __future__ import annotations

import math
from typing import Any, Iterable

from axon_core import float32
from axon_tensor import Tensor, tensor
from axon_tensor.tensor import wrap

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def clip_grad_norm_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale every gradient in place so that their joint ``norm_type`` norm is at most ``max_norm``.

    The joint norm is the norm of the per-gradient norms (as if all gradients were one vector);
    gradients are multiplied by ``min(max_norm / (total + 1e-6), 1)``. Returns the total norm
    before clipping, a 0-d tensor on the first gradient's device (0.0 when no gradient exists).
    ``norm_type`` may be any float, ``inf`` or ``-inf``. With ``error_if_nonfinite`` a NaN or
    infinite total raises RuntimeError instead of spreading into the gradients. ``foreach`` is
    accepted for PyTorch compatibility: axon has one implementation for every device.
    """
    _check_foreach(foreach)
    grads = _grads_of(parameters)
    norm_type = float(norm_type)
    if not grads:
        return tensor(0.0, dtype=float32)
    device = grads[0].device
    xp = device.backend.xp
    norms = [_on_device(_vector_norm(g.backend.xp, g.array, norm_type), g, device) for g in grads]
    total = _vector_norm(xp, xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite, so it "
            "cannot be clipped; pass error_if_nonfinite=False to scale the gradients by it anyway"
        )
    coefficient = xp.minimum(total.dtype.type(float(max_norm)) / (total + total.dtype.type(1e-6)), 1)
    for g in grads:
        scaled = g.array
        scaled *= _on_device(coefficient, grads[0], g.device).astype(scaled.dtype)
    return wrap(total, device)


def clip_grad_value_(parameters: Any, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient in place to ``[-clip_value, clip_value]`` (NaN stays NaN)."""
    _check_foreach(foreach)
    clip_value = float(clip_value)
    for g in _grads_of(parameters):
        xp = g.backend.xp
        bound = g.array.dtype.type(clip_value)
        xp.clip(g.array, -bound, bound, out=g.array)


def _grads_of(parameters: Any) -> list[Tensor]:
    if isinstance(getattr(parameters, "data", None), Tensor):
        parameters = [parameters]
    elif isinstance(parameters, Iterable):
        parameters = list(parameters)
    else:
        raise TypeError(f"expected a parameter or an iterable of parameters, got {type(parameters).__name__}")
    return [p.grad.data for p in parameters if getattr(p, "grad", None) is not None]


def _vector_norm(xp: Any, x: Any, norm_type: float) -> Any:
    """The ``norm_type`` norm of all elements of ``x`` as a 0-d array (0 for an empty ``x``)."""
    if x.size == 0:
        if math.isinf(norm_type):
            raise RuntimeError(f"clip_grad_norm_: the {norm_type} norm of an empty gradient is undefined (no identity)")
        return xp.zeros((), dtype=x.dtype)
    magnitude = xp.abs(x)
    if norm_type == math.inf:
        return magnitude.max()
    if norm_type == -math.inf:
        return magnitude.min()
    if norm_type == 0:
        return xp.asarray(xp.count_nonzero(x), dtype=x.dtype)
    if norm_type == 1:
        return magnitude.sum()
    if norm_type == 2:
        return xp.sqrt((x * x).sum())
    return (magnitude**norm_type).sum() ** (1 / norm_type)


def _on_device(value: Any, source: Tensor, device: Any) -> Any:
    if source.device is device:
        return value
    return device.backend.from_numpy(source.device.backend.to_numpy(value))


def _check_foreach(foreach: Any) -> None:
    if foreach not in (None, True, False):
        raise TypeError(f"foreach must be None, True or False, got {foreach!r}")
