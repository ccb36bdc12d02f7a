"""Ops PyTorch has that are short compositions of other ops (aliases included).

Each is written with Tensor methods only, so the same function serves Variables too (axon-autograd
attaches every entry of :data:`COMPOSITES` to Variable, and the gradient is the composition's).
"""

from __future__ import annotations

import math
from typing import Any

from axon_core import ShapeError

from ..tensor import Tensor, normalize_dim, tensor_method

__all__ = ["COMPOSITES", "JOIN"]


def clamp_min(input: Any, min: Any) -> Any:
    """``clamp(input, min=min)``."""
    return input.clamp(min=min)


def clamp_max(input: Any, max: Any) -> Any:
    """``clamp(input, max=max)``."""
    return input.clamp(max=max)


def ndimension(input: Any) -> int:
    return input.dim()


def nelement(input: Any) -> int:
    return input.numel()


def positive(input: Any) -> Any:
    """``+input`` (the tensor itself, as PyTorch's)."""
    return input


def ravel(input: Any) -> Any:
    """A 1-d view (or copy, when the strides forbid a view) of every element."""
    return input.reshape(-1)


def fliplr(input: Any) -> Any:
    """Reverse dim 1 (at least 2-d)."""
    if input.ndim < 2:
        raise ShapeError(f"fliplr: expected a tensor of at least 2 dims, got shape {tuple(input.shape)}")
    return input.flip(1)


def flipud(input: Any) -> Any:
    """Reverse dim 0 (at least 1-d)."""
    if input.ndim < 1:
        raise ShapeError("fliplr: expected a tensor of at least 1 dim, got a 0-d tensor")
    return input.flip(0)


def msort(input: Any) -> Any:
    """Values sorted along dim 0."""
    return input.sort(0).values


def moveaxis(input: Any, source: Any, destination: Any) -> Any:
    return input.movedim(source, destination)


def broadcast_to(input: Any, size: Any) -> Any:
    return input.expand(tuple(size))


def deg2rad(input: Any) -> Any:
    return input * (math.pi / 180.0)


def rad2deg(input: Any) -> Any:
    return input * (180.0 / math.pi)


def sgn(input: Any) -> Any:
    """``sign`` for real tensors, ``input / |input|`` (0 at 0) for complex ones."""
    if not input.dtype.is_complex:
        return input.sign()
    magnitude = input.abs()
    return (input / magnitude.clamp(min=1e-300)) * (magnitude != 0)


def take_along_dim(input: Any, indices: Any, dim: int | None = None) -> Any:
    """``gather`` with ``indices`` broadcast against ``input`` (all but ``dim``); flat when ``dim`` is None."""
    if dim is None:
        return input.reshape(-1).gather(0, indices.reshape(-1))
    d = normalize_dim(dim, input.ndim, "take_along_dim")
    shape = [max(a, b) for a, b in zip(input.shape, indices.shape)]
    index_shape = list(shape)
    index_shape[d] = indices.shape[d]
    shape[d] = input.shape[d]
    return input.expand(tuple(shape)).gather(d, indices.expand(tuple(index_shape)))


def trace(input: Any) -> Any:
    """Sum of the main diagonal of a 2-d tensor."""
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a 2-d tensor, got shape {tuple(input.shape)}")
    return input.diagonal().sum()


def inner(input: Any, other: Any) -> Any:
    """Sum over the last dims: ``[*a, n]``, ``[*b, n]`` -> ``[*a, *b]`` (a product for 0-d operands)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise ShapeError(f"inner: last dims differ: {tuple(input.shape)} and {tuple(other.shape)}")
    left = input.reshape(-1, input.shape[-1])
    right = other.reshape(-1, other.shape[-1])
    return (left @ right.transpose(0, 1)).reshape(tuple(input.shape[:-1]) + tuple(other.shape[:-1]))


def diff(input: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """``n``-th forward difference along ``dim`` (``prepend``/``append`` joined first)."""
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    d = normalize_dim(dim, input.ndim, "diff")
    if prepend is not None or append is not None:
        parts = [p for p in (prepend, input, append) if p is not None]
        input = JOIN[type(input)](parts, d)
    for _ in range(n):
        size = input.shape[d]
        if size == 0:
            break
        input = input.narrow(d, 1, size - 1) - input.narrow(d, 0, size - 1)
    return input


def dist(input: Any, other: Any, p: float = 2.0) -> Any:
    """``p``-norm of ``input - other``."""
    return (input - other).norm(p)


def cross(input: Any, other: Any, dim: int | None = None) -> Any:
    """3-vector cross product along ``dim`` (the first dim of size 3 when None, as ``torch.cross``)."""
    if dim is None:
        sizes = [k for k, s in enumerate(input.shape) if s == 3]
        if not sizes:
            raise ShapeError(f"cross: no dimension of size 3 in shape {tuple(input.shape)}")
        dim = sizes[0]
    d = normalize_dim(dim, input.ndim, "cross")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise ShapeError(f"cross: dim {dim} must have size 3, got {tuple(input.shape)} and {tuple(other.shape)}")
    # (a x b)_i = a_{i+1} b_{i+2} - a_{i+2} b_{i+1}, indices mod 3.
    return input.roll(-1, d) * other.roll(-2, d) - input.roll(-2, d) * other.roll(-1, d)


def _cat(parts: list[Any], dim: int) -> Tensor:
    from .joining import cat

    return cat(parts, dim)


#: ``cat`` per tensor class, for ``diff``'s ``prepend``/``append``; axon-autograd adds Variable's.
JOIN: dict[type, Any] = {Tensor: _cat}

COMPOSITES = {
    fn.__name__: fn
    for fn in (
        clamp_min,
        clamp_max,
        ndimension,
        nelement,
        positive,
        ravel,
        fliplr,
        flipud,
        msort,
        moveaxis,
        broadcast_to,
        deg2rad,
        rad2deg,
        sgn,
        take_along_dim,
        trace,
        inner,
        diff,
        dist,
        cross,
    )
}
for _name, _fn in COMPOSITES.items():
    tensor_method(_name)(_fn)
