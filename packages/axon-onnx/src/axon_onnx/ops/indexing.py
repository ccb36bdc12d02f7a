"""Indexing: Gather, GatherElements, GatherND, ScatterElements, ScatterND, NonZero, Trilu, TopK,
Einsum, OneHot, EyeLike, Compress.

Negative indices are wrapped on the host (ONNX allows them where PyTorch's gather does not) and
the data op itself is the autograd op, so gradients reach gathered tensors."""

from __future__ import annotations

import numpy as np

from axon_autograd import einsum as _einsum
from axon_autograd import where as _where

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


def _flat_rows(node, data, indices, batch_dims: int):
    """GatherND/ScatterND addressing: ``data`` as rows ``[B * prod(indexed dims), *tail]`` and the
    row of each index tuple (batch-major), with indices wrapped and bounds checked."""
    idx = np.asarray(indices.detach().numpy()).astype(np.int64)
    k = idx.shape[-1]
    lead = tuple(data.shape[:batch_dims])
    indexed = tuple(data.shape[batch_dims : batch_dims + k])
    if batch_dims + k > data.ndim or tuple(idx.shape[:batch_dims]) != lead:
        raise fail(node, f"indices {idx.shape} do not address data {data.shape} with batch_dims={batch_dims}")
    dims = np.array(indexed, dtype=np.int64)
    if idx.size and ((idx < -dims).any() or (idx >= dims).any()):
        raise fail(node, f"index out of range for dims {indexed}")
    idx = np.where(idx < 0, idx + dims, idx)
    batches = int(np.prod(lead, dtype=np.int64))
    per_batch = int(np.prod(indexed, dtype=np.int64))
    local = np.ravel_multi_index(tuple(np.moveaxis(idx, -1, 0)), indexed) if k else np.zeros(idx.shape[:-1], np.int64)
    offsets = (np.arange(batches, dtype=np.int64) * per_batch).reshape(lead + (1,) * (idx.ndim - 1 - batch_dims))
    rows = (local + offsets).reshape(-1)
    tail = tuple(data.shape[batch_dims + k :])
    return data.reshape((batches * per_batch,) + tail), rows, idx.shape[:-1], tail


@register("GatherND", attrs=("batch_dims",))
def gather_nd(node, data, indices):
    flat, rows, out_lead, tail = _flat_rows(node, data, indices, node.get("batch_dims", 0))
    return flat.index_select(0, const(node, rows)).reshape(tuple(out_lead) + tail)


@register(
    "ScatterND",
    attrs=("reduction",),
    check=lambda a: (
        None if a.get("reduction", "none") in ("none", *_SCATTER_REDUCE) else f"reduction {a.get('reduction')!r}"
    ),
)
def scatter_nd(node, data, indices, updates):
    flat, rows, _, tail = _flat_rows(node, data, indices, 0)
    width = int(np.prod(tail, dtype=np.int64))
    flat2 = flat.reshape((flat.shape[0], width))
    index = const(node, np.repeat(rows[:, None], width, axis=1))
    values = updates.reshape((len(rows), width))
    reduction = node.get("reduction", "none")
    if reduction == "none":
        out = flat2.scatter(0, index, values)
    else:
        out = flat2.scatter_reduce(0, index, values, _SCATTER_REDUCE[reduction], include_self=True)
    return out.reshape(tuple(data.shape))


@register("OneHot", attrs=("axis",))
def one_hot(node, indices, depth, values):
    size = int(np.asarray(depth.detach().numpy()).reshape(-1)[0])
    idx = np.asarray(indices.detach().numpy()).astype(np.int64)
    idx = np.where(idx < 0, idx + size, idx)  # negative indices count from the end; others stay off
    out_axis = axis(node, node.get("axis", -1), idx.ndim + 1)
    hot = np.expand_dims(idx, out_axis) == np.arange(size).reshape(
        (1,) * out_axis + (size,) + (1,) * (idx.ndim - out_axis)
    )
    off, on = values[0], values[1]
    return _where(const(node, hot), on, off)


@register("EyeLike", attrs=("dtype", "k"))
def eye_like(node, x):
    from .generator import AXON_TYPES

    code = node.get("dtype")
    if code is not None and code not in AXON_TYPES:
        raise fail(node, f"dtype {code} has no axon equivalent")
    dtype = x.dtype.np if code is None else np.dtype(AXON_TYPES[code])
    return const(node, np.eye(x.shape[0], x.shape[1], node.get("k", 0), dtype=dtype))


@register("Compress", attrs=("axis",))
def compress(node, x, condition):
    keep = np.nonzero(np.asarray(condition.detach().numpy()).reshape(-1))[0].astype(np.int64)
    source, dim = (x.reshape((-1,)), 0) if node.get("axis") is None else (x, axis(node, node.get("axis"), x.ndim))
    if keep.size and keep.max() >= source.shape[dim]:
        raise fail(node, f"condition is longer than axis {dim} of {x.shape}")
    return source.index_select(dim, const(node, keep))
