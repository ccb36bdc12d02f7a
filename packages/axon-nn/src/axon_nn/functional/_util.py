"""Helpers shared by the functional ops: backend arrays in and out, reductions, scatter-add."""

from __future__ import annotations

from typing import Any

from axon_autograd import tensor_of
from axon_core.backend.geometry import ntuple
from axon_tensor import Tensor
from axon_tensor.tensor import wrap

__all__ = [
    "saved",
    "tensor_of",
    "xp_of",
    "out_like",
    "reduce",
    "reduce_backward",
    "scatter_add",
    "check_reduction",
    "ntuple",
    "pair",
    "check_positive",
]

_REDUCTIONS = ("none", "mean", "sum")


def saved(ctx: Any) -> tuple[Any, ...]:
    """``ctx.saved_tensors`` as raw Tensors (the engine hands them back as Variables)."""
    return tuple(tensor_of(v) for v in ctx.saved_tensors)


def xp_of(t: Tensor) -> Any:
    """The array module (numpy or cupy) of ``t``'s device."""
    return t.backend.xp


def out_like(array: Any, like: Tensor) -> Tensor:
    """Wrap a backend array as a Tensor on ``like``'s device."""
    return wrap(array, like.device)


def check_reduction(op: str, reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def reduce(loss: Any, reduction: str, denominator: Any = None) -> Any:
    """``loss`` summed, averaged (over ``denominator`` when given, else its size) or as it is."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / (loss.size if denominator is None else denominator)


def reduce_backward(xp: Any, grad: Any, shape: tuple[int, ...], reduction: str, denominator: Any = None) -> Any:
    """The gradient of :func:`reduce` broadcast back to the unreduced ``shape``."""
    if reduction == "none":
        return grad
    size = 1
    for s in shape:
        size *= s
    scale = grad if reduction == "sum" else grad / (size if denominator is None else denominator)
    return xp.broadcast_to(scale, shape)


def scatter_add(xp: Any, size: int, index: Any, values: Any) -> Any:
    """A flat array of ``size`` zeros with ``values`` added at ``index`` (repeats accumulate)."""
    summed = xp.bincount(index.ravel(), weights=values.ravel().astype(xp.float64, copy=False), minlength=size)
    return summed.astype(values.dtype, copy=False)


#: ``pair(value, n, what)``: axon_core's one ``ntuple`` helper under the name the functional conv and
#: pooling modules import it by.
pair = ntuple


def check_positive(op: str, name: str, values: tuple[int, ...], low: int = 1) -> None:
    """ValueError naming ``op`` and ``name`` unless every value is at least ``low`` (1: positive, 0: non-negative)."""
    if any(v < low for v in values):
        bound = "positive" if low == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {bound}, got {tuple(values)}")
