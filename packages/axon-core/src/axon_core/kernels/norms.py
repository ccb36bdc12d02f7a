"""LayerNorm and RMSNorm over the last dimension, forward and backward.

One block per row (``blockDim.x`` a multiple of 32); statistics in float32. ``mean``/``rstd``
are float32 ``[rows]``. Flags stand in for optional pointers (pass any array when unused).

- ``layer_norm_fwd_S(x, w, b, y, mean, rstd, n, eps, has_w, has_b)``; ``rms_norm_fwd_S`` has
  no ``b``/``mean``.
- ``layer_norm_bwd_dx_S(grad, x, w, mean, rstd, dx, n, has_w)`` and ``rms_norm_bwd_dx_S``
  (no ``mean``).
- ``norm_bwd_params_S(grad, x, mean, rstd, dw, db, rows, n, has_mean, has_db)``: one thread per
  column sums ``grad * xhat`` into ``dw`` and ``grad`` into ``db`` (float32), deterministic.
"""

from __future__ import annotations

from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["NORMS"]

_BODY = r"""
extern "C" __global__ void layer_norm_fwd_$S(const $T* __restrict__ x, const $T* __restrict__ w,
                                             const $T* __restrict__ b,
                                             $T* __restrict__ y, float* __restrict__ mean_out,
                                             float* __restrict__ rstd_out,
                                             int n, float eps, int has_w, int has_b) {
    __shared__ float scratch[32];
    const $T* row = x + (long long)blockIdx.x * n;
    $T* out = y + (long long)blockIdx.x * n;
    float sum = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) { sum += to_f(row[j]); }
    float mean = block_sum(sum, scratch) / n;
    float sq = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) { float d = to_f(row[j]) - mean; sq += d * d; }
    float rstd = rsqrtf(block_sum(sq, scratch) / n + eps);
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float v = (to_f(row[j]) - mean) * rstd;
        if (has_w) { v *= to_f(w[j]); }
        if (has_b) { v += to_f(b[j]); }
        store_f(out + j, v);
    }
    if (threadIdx.x == 0) { mean_out[blockIdx.x] = mean; rstd_out[blockIdx.x] = rstd; }
}

extern "C" __global__ void rms_norm_fwd_$S(const $T* __restrict__ x, const $T* __restrict__ w, $T* __restrict__ y,
                                           float* __restrict__ rstd_out, int n, float eps, int has_w) {
    __shared__ float scratch[32];
    const $T* row = x + (long long)blockIdx.x * n;
    $T* out = y + (long long)blockIdx.x * n;
    float sq = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) { float v = to_f(row[j]); sq += v * v; }
    float rstd = rsqrtf(block_sum(sq, scratch) / n + eps);
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float v = to_f(row[j]) * rstd;
        if (has_w) { v *= to_f(w[j]); }
        store_f(out + j, v);
    }
    if (threadIdx.x == 0) { rstd_out[blockIdx.x] = rstd; }
}

// dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = grad * w.
extern "C" __global__ void layer_norm_bwd_dx_$S(const $T* __restrict__ grad, const $T* __restrict__ x,
                                                const $T* __restrict__ w,
                                                const float* __restrict__ mean_in, const float* __restrict__ rstd_in,
                                                $T* __restrict__ dx, int n, int has_w) {
    __shared__ float scratch[32];
    long long base = (long long)blockIdx.x * n;
    float mean = mean_in[blockIdx.x], rstd = rstd_in[blockIdx.x];
    float sum_gw = 0.0f, sum_gwx = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float gw = to_f(grad[base + j]) * (has_w ? to_f(w[j]) : 1.0f);
        sum_gw += gw;
        sum_gwx += gw * (to_f(x[base + j]) - mean) * rstd;
    }
    float mean_gw = block_sum(sum_gw, scratch) / n;
    float mean_gwx = block_sum(sum_gwx, scratch) / n;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float gw = to_f(grad[base + j]) * (has_w ? to_f(w[j]) : 1.0f);
        float xhat = (to_f(x[base + j]) - mean) * rstd;
        store_f(dx + base + j, rstd * (gw - mean_gw - xhat * mean_gwx));
    }
}

// dx = rstd * (gw - xhat * mean(gw * xhat)).
extern "C" __global__ void rms_norm_bwd_dx_$S(const $T* __restrict__ grad, const $T* __restrict__ x,
                                              const $T* __restrict__ w,
                                              const float* __restrict__ rstd_in, $T* __restrict__ dx, int n,
                                              int has_w) {
    __shared__ float scratch[32];
    long long base = (long long)blockIdx.x * n;
    float rstd = rstd_in[blockIdx.x];
    float sum_gwx = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float gw = to_f(grad[base + j]) * (has_w ? to_f(w[j]) : 1.0f);
        sum_gwx += gw * to_f(x[base + j]) * rstd;
    }
    float mean_gwx = block_sum(sum_gwx, scratch) / n;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        float gw = to_f(grad[base + j]) * (has_w ? to_f(w[j]) : 1.0f);
        store_f(dx + base + j, rstd * (gw - to_f(x[base + j]) * rstd * mean_gwx));
    }
}

extern "C" __global__ void norm_bwd_params_$S(const $T* __restrict__ grad, const $T* __restrict__ x,
                                              const float* __restrict__ mean_in, const float* __restrict__ rstd_in,
                                              float* __restrict__ dw, float* __restrict__ db, int rows, int n,
                                              int has_mean, int has_db) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) { return; }
    float acc_w = 0.0f, acc_b = 0.0f;
    for (int r = 0; r < rows; ++r) {
        long long at = (long long)r * n + j;
        float g = to_f(grad[at]);
        float centered = to_f(x[at]) - (has_mean ? mean_in[r] : 0.0f);
        acc_w += g * centered * rstd_in[r];
        acc_b += g;
    }
    dw[j] = acc_w;
    if (has_db) { db[j] = acc_b; }
}
"""

NORMS = KernelSource(
    family="norms",
    source=PRELUDE + instantiate(_BODY),
    kernels=tuple(
        f"{name}_{suffix}"
        for name in ("layer_norm_fwd", "rms_norm_fwd", "layer_norm_bwd_dx", "rms_norm_bwd_dx", "norm_bwd_params")
        for suffix in FLOAT_TYPES
    ),
)
