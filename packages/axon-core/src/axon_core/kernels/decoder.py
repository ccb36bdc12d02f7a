"""The ops of a LLaMA-family decoder layer between its quantized matmuls, over a KV cache.

The quantized runtime (axon-quant) runs a forward pass as these kernels plus ``quant_matmul``,
every one writing into a buffer it is given (the runtime's device arena), so a decode step
allocates nothing. float32 only; the math is the runtime's CPU ops (``axon_quant.runtime._ops``,
after llama.cpp's ``ggml-cpu/ops.cpp``).

- ``decoder_rmsnorm(x, delta, w, out, d, eps, add)``: one block per row of ``x [rows, d]``; with
  ``add``, ``x += delta`` first (the residual add), then ``out = x / sqrt(mean(x²) + eps) * w``.
  ``out`` may be ``x`` (a norm in place); ``delta`` is unused (pass any array) without ``add``.
- ``decoder_rope_store(q, k, v, cos, sin, k_cache, v_cache, start, n_heads, n_kv_heads, head_dim,
  rope_dim, neox, ctx)``: grid ``(n, n_heads + n_kv_heads)``. Rotates each head of ``q [n,
  n_heads*head_dim]`` and ``k [n, n_kv_heads*head_dim]`` in place by position ``start + row``
  (pairs ``(2i, 2i+1)``, or ``(i, i + rope_dim/2)`` when ``neox``; tables ``[ctx, rope_dim/2]``),
  and stores the rotated K and the V rows at that position of ``k_cache`` / ``v_cache``
  ``[n_kv_heads, ctx, head_dim]``.
- ``decoder_attention(q, k_cache, v_cache, scores, out, start, n_heads, n_kv_heads, head_dim, ctx,
  scale, window)``: grid ``(n, n_heads)``, one block per (query row, head). Causal GQA softmax
  attention of row ``r`` (position ``start + r``) over the cached positions up to its own, no
  further back than ``window`` when ``window > 0``; head ``h`` reads KV head ``h / (n_heads /
  n_kv_heads)``. Scores go to the scratch row ``scores[(r * n_heads + h) * ctx ...]``, then
  ``out [n, n_heads*head_dim]``.
- ``decoder_gated(gate, up, count, gelu)``: ``gate = act(gate) * up`` over ``count`` values, act
  SiLU ``g / (1 + exp(-g))`` or (``gelu``) the tanh GELU.
- ``decoder_add_bias(x, bias, count, d)``: ``x[i] += bias[i % d]`` over ``count`` values.
"""

from __future__ import annotations

from .common import PRELUDE
from .source import KernelSource

__all__ = ["DECODER", "ATTENTION_THREADS", "NORM_THREADS", "ROPE_THREADS"]

#: Threads per block of ``decoder_attention``, ``decoder_rmsnorm`` and ``decoder_rope_store``.
ATTENTION_THREADS = 128
NORM_THREADS = 256
ROPE_THREADS = 64

_SOURCE = r"""
extern "C" __global__ void decoder_rmsnorm(float* x, const float* delta, const float* w, float* out, int d, float eps,
                                           int add) {
    __shared__ float scratch[32];
    long long base = (long long)blockIdx.x * d;
    float sq = 0.0f;
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        float v = x[base + j];
        if (add) {
            v += delta[base + j];
            x[base + j] = v;
        }
        sq += v * v;
    }
    float scale = 1.0f / sqrtf(block_sum(sq, scratch) / (float)d + eps);
    // Each thread reads back only the elements it wrote, so out may be x.
    for (int j = threadIdx.x; j < d; j += blockDim.x) { out[base + j] = x[base + j] * scale * w[j]; }
}

extern "C" __global__ void decoder_rope_store(float* q, float* k, const float* v, const float* cos_table,
                                              const float* sin_table, float* k_cache, float* v_cache, int start,
                                              int n_heads, int n_kv_heads, int head_dim, int rope_dim, int neox,
                                              int ctx) {
    int r = blockIdx.x, h = blockIdx.y, half = rope_dim / 2;
    long long p = (long long)start + r;
    bool query = h < n_heads;
    int g = h - n_heads;
    float* row = query ? q + ((long long)r * n_heads + h) * head_dim : k + ((long long)r * n_kv_heads + g) * head_dim;
    const float* c = cos_table + p * half;
    const float* s = sin_table + p * half;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        float x0 = row[a], x1 = row[b];
        row[a] = x0 * c[i] - x1 * s[i];
        row[b] = x0 * s[i] + x1 * c[i];
    }
    if (query) { return; }  // uniform over the block: h is blockIdx.y
    __syncthreads();         // the rotated K row is whole before it is stored
    float* kc = k_cache + ((long long)g * ctx + p) * head_dim;
    float* vc = v_cache + ((long long)g * ctx + p) * head_dim;
    const float* vr = v + ((long long)r * n_kv_heads + g) * head_dim;
    for (int j = threadIdx.x; j < head_dim; j += blockDim.x) {
        kc[j] = row[j];
        vc[j] = vr[j];
    }
}

extern "C" __global__ void decoder_attention(const float* q, const float* k_cache, const float* v_cache,
                                             float* scores, float* out, int start, int n_heads, int n_kv_heads,
                                             int head_dim, int ctx, float scale, int window) {
    __shared__ float scratch[32];
    int r = blockIdx.x, h = blockIdx.y;
    int pos = start + r;
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    long long g = h / (n_heads / n_kv_heads);
    long long row = (long long)r * n_heads + h;
    const float* qr = q + row * head_dim;
    const float* kg = k_cache + g * ctx * head_dim;
    const float* vg = v_cache + g * ctx * head_dim;
    float* s = scores + row * ctx;
    float best = -AXON_INF;
    for (int t = first + threadIdx.x; t <= pos; t += blockDim.x) {
        const float* kt = kg + (long long)t * head_dim;
        float dot = 0.0f;
        for (int j = 0; j < head_dim; ++j) { dot = fmaf(qr[j], kt[j], dot); }
        dot *= scale;
        s[t] = dot;
        best = fmaxf(best, dot);
    }
    best = block_max(best, scratch);
    float total = 0.0f;
    for (int t = first + threadIdx.x; t <= pos; t += blockDim.x) {
        float e = expf(s[t] - best);
        s[t] = e;
        total += e;
    }
    float inv = 1.0f / block_sum(total, scratch);
    for (int t = first + threadIdx.x; t <= pos; t += blockDim.x) { s[t] *= inv; }
    __syncthreads();  // every probability written (global memory, visible to the block after the barrier)
    for (int j = threadIdx.x; j < head_dim; j += blockDim.x) {
        float acc = 0.0f;
        for (int t = first; t <= pos; ++t) { acc = fmaf(s[t], vg[(long long)t * head_dim + j], acc); }
        out[row * head_dim + j] = acc;
    }
}

extern "C" __global__ void decoder_gated(float* gate, const float* up, long long count, int gelu) {
    AXON_GRID_STRIDE(i, count) {
        float g = gate[i];
        float a = gelu ? 0.5f * g * (1.0f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g)))
                       : g / (1.0f + expf(-g));
        gate[i] = a * up[i];
    }
}

extern "C" __global__ void decoder_add_bias(float* x, const float* bias, long long count, int d) {
    AXON_GRID_STRIDE(i, count) { x[i] += bias[i % d]; }
}
"""

DECODER = KernelSource(
    family="decoder",
    source=PRELUDE + _SOURCE,
    kernels=("decoder_rmsnorm", "decoder_rope_store", "decoder_attention", "decoder_gated", "decoder_add_bias"),
)
