"""Joining tensors: cat, stack, hstack, vstack (with PyTorch's dtype promotion)."""

from __future__ import annotations

from functools import reduce
from typing import Any, Sequence

from axon_core import ShapeError, promote_types

from ..tensor import Tensor, check_same_device, normalize_dim, wrap

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "meshgrid"]


def _tensors(op: str, tensors: Sequence[Tensor]) -> list[Tensor]:
    items = list(tensors)
    if not items:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a sequence of Tensors, element {i} is {type(t).__name__}")
    check_same_device(op, *items)
    return items


def _promoted_arrays(items: list[Tensor]) -> list[Any]:
    """Every tensor's array cast to the promoted dtype of all of them."""
    first = items[0]._data.dtype
    if all(t._data.dtype == first for t in items):
        return [t._data for t in items]
    dtype = reduce(promote_types, (t.dtype for t in items)).np
    return [t._data.astype(dtype, copy=False) for t in items]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenation along ``dim``; every other dim must match.

    Like PyTorch, 1-d empty tensors (shape ``[0]``) are skipped whatever the others' shapes.
    """
    items = _tensors("cat", tensors)
    arrays = _promoted_arrays(items)
    kept = [a for a in arrays if not (a.ndim == 1 and a.shape[0] == 0)]
    device = items[0]._device
    if not kept:
        return wrap(arrays[0].copy(), device)
    reference = kept[0].shape
    if not reference:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = normalize_dim(dim, len(reference), "cat")
    for a in kept:
        if a.ndim != len(reference) or any(a.shape[k] != reference[k] for k in range(a.ndim) if k != d):
            shapes = [tuple(t.shape) for t in items]
            raise ShapeError(f"cat: sizes must match except in dim {dim}; got shapes {shapes}")
    return wrap(device.backend.xp.concatenate(kept, axis=d), device)


concat = cat
concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Tensors of one shape joined along a new dim ``dim`` (``-1`` appends it)."""
    items = _tensors("stack", tensors)
    shape = items[0]._data.shape
    if any(t._data.shape != shape for t in items):
        raise ShapeError(f"stack: expects each tensor to be equal size, got shapes {[tuple(t.shape) for t in items]}")
    d = normalize_dim(dim, len(shape) + 1, "stack")
    device = items[0]._device
    return wrap(device.backend.xp.stack(_promoted_arrays(items), axis=d), device)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Column-wise: 1-d (and 0-d) tensors joined along dim 0, others along dim 1."""
    items = [_at_least(t, 1) for t in _tensors("hstack", tensors)]
    return cat(items, dim=0 if items[0]._data.ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Row-wise: tensors of < 2 dims become ``[1, n]`` rows, then joined along dim 0."""
    return cat([_at_least(t, 2) for t in _tensors("vstack", tensors)], dim=0)


def _at_least(t: Tensor, ndim: int) -> Tensor:
    data = t._data
    if data.ndim >= ndim:
        return t
    return wrap(data.reshape((1,) * (ndim - data.ndim) + data.shape), t._device)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Any, ...]:
    """Coordinate grids of 1-d (or 0-d) ``tensors``: each output has shape ``(len(t0), len(t1), ...)``
    (``indexing="ij"``) or the first two swapped (``"xy"``); views made by reshape + expand, so
    Variables work and get gradients."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for k, t in enumerate(tensors):
        if t.ndim > 1:
            raise ShapeError(f"meshgrid: expected 0-d or 1-d tensors, got shape {tuple(t.shape)} at position {k}")
    swap = indexing == "xy" and len(tensors) >= 2
    ordered = (tensors[1], tensors[0], *tensors[2:]) if swap else tuple(tensors)
    sizes = tuple(t.numel() for t in ordered)
    grids = []
    for k, t in enumerate(ordered):
        shape = tuple(-1 if j == k else 1 for j in range(len(ordered)))
        grids.append(t.reshape(shape).expand(sizes))
    if swap:
        grids = [grids[1], grids[0], *grids[2:]]
    return tuple(grids)
