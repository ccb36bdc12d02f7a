"""Fused cross-entropy over ``logits [N, C]`` with class weights, ``ignore_index`` and label smoothing.

One block per row. ``target`` is int64, ``weight`` float32 ``[C]`` (``has_w``), ``loss``/``lse``
float32 ``[N]``. Targets are range-checked on the host before launch.

- ``cross_entropy_fwd_S(logits, target, weight, loss, lse, C, ignore_index, smoothing, has_w)``:
  ``loss = (1-ε) w_t (lse - x_t) + ε/C Σ_c w_c (lse - x_c)``; 0 on ignored rows.
- ``cross_entropy_bwd_S(grad, logits, target, weight, lse, dlogits, C, ignore_index, smoothing, has_w)``:
  ``g [(1-ε) w_t (p_c - [c == t]) + ε/C (p_c Σw - w_c)]``.
"""

from __future__ import annotations

from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["CROSS_ENTROPY"]

_BODY = r"""
extern "C" __global__ void cross_entropy_fwd_$S(const $T* __restrict__ logits, const long long* __restrict__ target,
                                                const float* __restrict__ weight, float* __restrict__ loss,
                                                float* __restrict__ lse_out,
                                                int classes, long long ignore_index, float smoothing, int has_w) {
    __shared__ float scratch[32];
    long long base = (long long)blockIdx.x * classes;
    float m = -AXON_INF;
    for (int c = threadIdx.x; c < classes; c += blockDim.x) { m = fmaxf(m, to_f(logits[base + c])); }
    m = block_max(m, scratch);
    float s = 0.0f, weighted_x = 0.0f, weight_total = 0.0f;
    for (int c = threadIdx.x; c < classes; c += blockDim.x) {
        float v = to_f(logits[base + c]);
        float w = has_w ? weight[c] : 1.0f;
        s += expf(v - m);
        weighted_x += w * v;
        weight_total += w;
    }
    s = block_sum(s, scratch);
    weighted_x = block_sum(weighted_x, scratch);
    weight_total = block_sum(weight_total, scratch);
    if (threadIdx.x == 0) {
        float lse = m + logf(s);
        long long t = target[blockIdx.x];
        float value = 0.0f;
        if (t != ignore_index) {
            float wt = has_w ? weight[t] : 1.0f;
            value = (1.0f - smoothing) * wt * (lse - to_f(logits[base + t]))
                  + (smoothing / classes) * (weight_total * lse - weighted_x);
        }
        loss[blockIdx.x] = value;
        lse_out[blockIdx.x] = lse;
    }
}

extern "C" __global__ void cross_entropy_bwd_$S(const float* __restrict__ grad, const $T* __restrict__ logits,
                                                const long long* __restrict__ target, const float* __restrict__ weight,
                                                const float* __restrict__ lse_in, $T* __restrict__ dlogits,
                                                int classes, long long ignore_index, float smoothing, int has_w) {
    __shared__ float scratch[32];
    long long base = (long long)blockIdx.x * classes;
    long long t = target[blockIdx.x];
    if (t == ignore_index) {
        for (int c = threadIdx.x; c < classes; c += blockDim.x) { store_f(dlogits + base + c, 0.0f); }
        return;
    }
    float weight_total = (float)classes;
    if (has_w) {
        float part = 0.0f;
        for (int c = threadIdx.x; c < classes; c += blockDim.x) { part += weight[c]; }
        weight_total = block_sum(part, scratch);
    }
    float g = grad[blockIdx.x], lse = lse_in[blockIdx.x];
    float wt = has_w ? weight[t] : 1.0f;
    for (int c = threadIdx.x; c < classes; c += blockDim.x) {
        float p = expf(to_f(logits[base + c]) - lse);
        float w = has_w ? weight[c] : 1.0f;
        float d = (1.0f - smoothing) * wt * (p - (c == t ? 1.0f : 0.0f))
                  + (smoothing / classes) * (p * weight_total - w);
        store_f(dlogits + base + c, g * d);
    }
}
"""

CROSS_ENTROPY = KernelSource(
    family="cross_entropy",
    source=PRELUDE + instantiate(_BODY),
    kernels=tuple(f"cross_entropy_{kind}_{suffix}" for kind in ("fwd", "bwd") for suffix in FLOAT_TYPES),
)
