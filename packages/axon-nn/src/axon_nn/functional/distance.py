"""Distances between batches of vectors: ``pairwise_distance`` and ``cosine_similarity``.

Both are Variable compositions, so their gradients (and gradients of gradients) come from the
ops they are built of.
"""

from __future__ import annotations

from typing import Any

from axon_core import ShapeError
from axon_tensor.tensor import normalize_dim

from ._util import tensor_of

__all__ = ["pairwise_distance", "cosine_similarity", "clamp_forward_only"]


def clamp_forward_only(x: Any, low: float) -> Any:
    """``x.clamp(min=low)`` in the forward pass, the identity in the backward pass.

    PyTorch clamps norms in place under ``no_grad`` (cosine_similarity, gaussian_nll_loss), so the
    gradient flows as if unclamped; adding the clamp's offset as a constant does the same here.
    """
    return x + (x.clamp(min=low) - x).detach() if hasattr(x, "detach") else x.clamp(min=low)


def _broadcast_shape(op: str, x1: Any, x2: Any) -> tuple[int, ...]:
    import numpy as np

    try:
        return tuple(np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
    except ValueError as exc:
        raise ShapeError(f"{op}: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} cannot be broadcast together") from exc


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Any:
    """``||x1 - x2 + eps||_p`` over the last dim, as PyTorch's: ``[*, D]`` x ``[*, D]`` -> ``[*]``."""
    shape = _broadcast_shape("pairwise_distance", x1, x2)
    if len(shape) == 0:
        # torch reduces a 0-d difference over its only "dimension": the absolute value.
        return (x1 - x2 + eps).abs()
    return (x1 - x2 + eps).norm(p, len(shape) - 1, keepdim=keepdim)


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Any:
    """``Σ (x1 / max(||x1||, eps)) (x2 / max(||x2||, eps))`` along ``dim``: ``[*, D, *]`` -> ``[*, *]``.

    Each input is divided by its norm before the product, as PyTorch does, which keeps the result
    within [-1, 1]; the norms' clamp at ``eps`` does not enter the gradient (as in PyTorch).
    """
    shape = _broadcast_shape("cosine_similarity", x1, x2)
    dim = normalize_dim(dim, len(shape), "cosine_similarity")
    if tuple(x1.shape) != shape:
        x1 = x1.expand(shape)
    if tuple(x2.shape) != shape:
        x2 = x2.expand(shape)
    if not tensor_of(x1).dtype.is_floating_point:
        x1, x2 = x1.float(), x2.float()
    n1 = clamp_forward_only(x1.norm(2, dim, keepdim=True), eps)
    n2 = clamp_forward_only(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)
