"""Embedding lookup and its scatter-add backward.

- ``embedding_fwd_S(weight, indices, out, count, dim)``: ``out[r, d] = weight[indices[r], d]``
  for ``count`` int64 indices (range-checked on the host).
- ``embedding_bwd_S(grad, indices, dweight, count, dim, padding_idx)``: ``dweight[indices[r], d]
  += grad[r, d]`` with float32 ``atomicAdd`` into ``dweight`` (float32, zeroed by the caller);
  rows equal to ``padding_idx`` (``-1`` for none) are skipped.
"""

from __future__ import annotations

from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["EMBEDDING"]

_BODY = r"""
extern "C" __global__ void embedding_fwd_$S(const $T* __restrict__ weight, const long long* __restrict__ indices,
                                            $T* __restrict__ out, long long count, int dim) {
    long long total = count * dim;
    AXON_GRID_STRIDE(i, total) {
        long long r = i / dim;
        int d = (int)(i - r * dim);
        out[i] = weight[indices[r] * dim + d];
    }
}

extern "C" __global__ void embedding_bwd_$S(const $T* __restrict__ grad, const long long* __restrict__ indices,
                                            float* __restrict__ dweight, long long count, int dim,
                                            long long padding_idx) {
    long long total = count * dim;
    AXON_GRID_STRIDE(i, total) {
        long long r = i / dim;
        int d = (int)(i - r * dim);
        long long row = indices[r];
        if (row != padding_idx) { atomicAdd(dweight + row * dim + d, to_f(grad[i])); }
    }
}
"""

EMBEDDING = KernelSource(
    family="embedding",
    source=PRELUDE + instantiate(_BODY),
    kernels=tuple(f"embedding_{kind}_{suffix}" for kind in ("fwd", "bwd") for suffix in FLOAT_TYPES),
)
