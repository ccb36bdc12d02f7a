"""Softmax and log-softmax over the last dimension with an optional causal mask, forward and backward.

One block per row of ``n`` columns. With ``causal`` the rows are scores ``[..., q, k]``
(``n == k``) and row ``r`` is query ``i = r % q``: keys ``j > i + (k - q)`` are masked (output
0, or ``-inf`` for log-softmax; gradient 0).

- ``softmax_fwd_S(x, y, n, causal, q, log)``
- ``softmax_bwd_S(grad, y, dx, n, causal, q, log)``: softmax ``y (g - Σ g y)``, log-softmax
  ``g - exp(y) Σ g`` (sums over unmasked keys).
"""

from __future__ import annotations

from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["SOFTMAX"]

_BODY = r"""
extern "C" __global__ void softmax_fwd_$S(const $T* __restrict__ x, $T* __restrict__ y, int n, int causal, int q,
                                          int log) {
    __shared__ float scratch[32];
    long long base = (long long)blockIdx.x * n;
    int limit = causal ? (int)(blockIdx.x % q) + (n - q) + 1 : n;
    float m = -AXON_INF;
    for (int j = threadIdx.x; j < limit; j += blockDim.x) { m = fmaxf(m, to_f(x[base + j])); }
    m = block_max(m, scratch);
    float s = 0.0f;
    for (int j = threadIdx.x; j < limit; j += blockDim.x) { s += expf(to_f(x[base + j]) - m); }
    s = block_sum(s, scratch);
    float log_s = logf(s);
    float inv_s = 1.0f / s;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float v;
        if (j < limit) { v = log ? to_f(x[base + j]) - m - log_s : expf(to_f(x[base + j]) - m) * inv_s; }
        else { v = log ? -AXON_INF : 0.0f; }
        store_f(y + base + j, v);
    }
}

extern "C" __global__ void softmax_bwd_$S(const $T* __restrict__ grad, const $T* __restrict__ y, $T* __restrict__ dx,
                                          int n, int causal, int q, int log) {
    __shared__ float scratch[32];
    long long base = (long long)blockIdx.x * n;
    int limit = causal ? (int)(blockIdx.x % q) + (n - q) + 1 : n;
    float s = 0.0f;
    for (int j = threadIdx.x; j < limit; j += blockDim.x) {
        float g = to_f(grad[base + j]);
        s += log ? g : g * to_f(y[base + j]);
    }
    s = block_sum(s, scratch);
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float v = 0.0f;
        if (j < limit) {
            float g = to_f(grad[base + j]), out = to_f(y[base + j]);
            v = log ? g - expf(out) * s : out * (g - s);
        }
        store_f(dx + base + j, v);
    }
}
"""

SOFTMAX = KernelSource(
    family="softmax",
    source=PRELUDE + instantiate(_BODY),
    kernels=tuple(f"softmax_{kind}_{suffix}" for kind in ("fwd", "bwd") for suffix in FLOAT_TYPES),
)
