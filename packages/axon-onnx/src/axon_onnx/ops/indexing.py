"""Indexing: Gather, GatherElements, ScatterElements, NonZero, Trilu, TopK, Einsum.

Negative indices are wrapped on the host (ONNX allows them where PyTorch's gather does not) and
the data op itself is the autograd op, so gradients reach gathered tensors."""

from __future__ import annotations

import numpy as np

from axon_autograd import einsum as _einsum

from ..registry import register
from ._util import axis, const, fail, ints


def _wrapped(node, indices, size: int) -> np.ndarray:
    idx = np.asarray(indices.detach().numpy()).astype(np.int64)
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise fail(node, f"index out of range [-{size}, {size}): min {idx.min()}, max {idx.max()}")
    return np.where(idx < 0, idx + size, idx)


@register("Gather", attrs=("axis",))
def gather(node, x, indices):
    dim = axis(node, node.get("axis", 0), x.ndim)
    idx = _wrapped(node, indices, x.shape[dim])
    picked = x.index_select(dim, const(node, idx.reshape(-1)))
    return picked.reshape(tuple(x.shape[:dim]) + idx.shape + tuple(x.shape[dim + 1 :]))


@register("GatherElements", attrs=("axis",))
def gather_elements(node, x, indices):
    dim = axis(node, node.get("axis", 0), x.ndim)
    return x.gather(dim, const(node, _wrapped(node, indices, x.shape[dim])))


_SCATTER_REDUCE = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


@register(
    "ScatterElements",
    attrs=("axis", "reduction"),
    check=lambda a: (
        None if a.get("reduction", "none") in ("none", *_SCATTER_REDUCE) else f"reduction {a.get('reduction')!r}"
    ),
)
def scatter_elements(node, x, indices, updates):
    dim = axis(node, node.get("axis", 0), x.ndim)
    idx = const(node, _wrapped(node, indices, x.shape[dim]))
    reduction = node.get("reduction", "none")
    if reduction == "none":
        return x.scatter(dim, idx, updates)
    return x.scatter_reduce(dim, idx, updates, _SCATTER_REDUCE[reduction], include_self=True)


@register("NonZero")
def nonzero(node, x):
    # [rank, count] int64, row-major order (NumPy's, as the spec's reference).
    found = np.asarray(np.nonzero(x.detach().numpy()), dtype=np.int64).reshape(x.ndim if x.ndim else 1, -1)
    return const(node, found)


@register("Trilu", attrs=("upper",))
def trilu(node, x, k=None):
    diagonal = 0 if k is None else ints(k)[0]
    return x.triu(diagonal) if node.get("upper", 1) else x.tril(diagonal)


@register("TopK", attrs=("axis", "largest", "sorted"))
def topk(node, x, k):
    dim = axis(node, node.get("axis", -1), x.ndim)
    count = ints(k)[0]
    if not 0 <= count <= x.shape[dim]:
        raise fail(node, f"k={count} is out of range for axis {dim} of {x.shape}")
    values, indices = x.topk(count, dim=dim, largest=bool(node.get("largest", 1)), sorted=True)
    return values, indices.to(np.int64)


@register("Einsum", attrs=("equation",))
def einsum(node, *operands):
    return _einsum(node.get("equation").replace(" ", ""), *operands)
