"""Mamba's selective scan (S6), forward and backward, float32.

Per channel ``(b, d)`` and state ``n``, with ``dt_t = softplus(delta_t + bias_d)`` (or without
the softplus):

    h_t[n] = exp(dt_t A[d, n]) h_{t-1}[n] + dt_t B_t[n] u_t
    y_t    = sum_n C_t[n] h_t[n] + D_d u_t,      out_t = y_t silu(z_t)  (or y_t without a gate)

Layout (sequence-major, contiguous): ``u, delta, z, out [batch, length, channels]``,
``B, C [batch, length, states]``, ``A [channels, states]``, ``D, bias [channels]``,
``h0, last [batch, channels, states]``. One thread per channel, its states in registers: blocks of
:data:`THREADS` threads over ``d`` (``grid = (ceil(channels / THREADS), batch)``, so a block shares
``b`` and every lane of a warp reads the same ``B_t``, ``C_t``). Entry points come per bound on the
number of states (``_n16``, ``_n32``, ``_n64``: the smallest at least ``states``, at most
:data:`MAX_STATES`), so the unrolled state loops stay in registers.

- ``selective_scan_fwd_nK(u, delta, A, B, C, D, z, bias, h0, out, last, ckpt, batch, length,
  channels, states, flags)``: ``flags`` bits :data:`SOFTPLUS`, :data:`GATE` (``z`` is read) and
  :data:`SAVE` (the state entering each chunk of :data:`CHUNK` steps is written to ``ckpt``,
  ``[ceil(length / CHUNK), states, batch * channels]``, for the backward).
- ``selective_scan_bwd_nK(u, delta, A, B, C, D, z, bias, ckpt, grad_out, grad_last, ws, du,
  ddelta, dz, dA, dB, dC, dD, dbias, dh0, batch, length, channels, states, flags)``: walks the
  chunks last to first; each chunk's states are recomputed from its checkpoint into the workspace
  ``ws`` (``[CHUNK, states, batch * channels]``), then the adjoint runs back through them.
  ``du, ddelta, dz, dh0`` are written; ``dA, dB, dC, dD, dbias`` (float32, zeroed by the caller)
  are sums over channels or batch, added with atomics after a warp sum.
"""

from __future__ import annotations

from string import Template

from .common import PRELUDE
from .source import KernelSource

__all__ = ["CHUNK", "GATE", "MAX_STATES", "SAVE", "SELECTIVE_SCAN", "SOFTPLUS", "STATE_BOUNDS", "THREADS"]

#: Threads per block (over channels).
THREADS = 128
#: Steps between the forward's state checkpoints (and the backward's recompute window).
CHUNK = 32
#: The state-count bounds with an entry point each; ``states`` above the last is refused.
STATE_BOUNDS = (16, 32, 64)
MAX_STATES = STATE_BOUNDS[-1]
#: ``flags`` bits.
SOFTPLUS, GATE, SAVE = 1, 2, 4

_HELPERS = f"""
#define SS_CHUNK {CHUNK}
#define SS_SOFTPLUS {SOFTPLUS}
#define SS_GATE {GATE}
#define SS_SAVE {SAVE}

// torch's softplus (beta 1, threshold 20) and its derivative.
__device__ __forceinline__ float ss_softplus(float x) {{ return x > 20.0f ? x : log1pf(expf(x)); }}
__device__ __forceinline__ float ss_softplus_grad(float x) {{ return x > 20.0f ? 1.0f : sigmoid_f(x); }}
"""

_BODY = Template(r"""
extern "C" __global__ void selective_scan_fwd_n$N(
    const float* __restrict__ u, const float* __restrict__ delta, const float* __restrict__ A,
    const float* __restrict__ Bm, const float* __restrict__ Cm, const float* __restrict__ Dv,
    const float* __restrict__ z, const float* __restrict__ bias, const float* __restrict__ h0,
    float* __restrict__ out, float* __restrict__ last, float* __restrict__ ckpt,
    int batch, int length, int channels, int states, int flags) {
    int d = blockIdx.x * blockDim.x + threadIdx.x;
    int b = blockIdx.y;
    if (d >= channels || b >= batch) { return; }
    long long total = (long long)batch * channels;
    long long c = (long long)b * channels + d;
    float h[$N], a[$N];
#pragma unroll
    for (int n = 0; n < $N; ++n) {
        h[n] = n < states ? h0[c * states + n] : 0.0f;
        a[n] = n < states ? A[(long long)d * states + n] : 0.0f;
    }
    float skip = Dv[d], shift = bias[d];
    for (int t = 0; t < length; ++t) {
        if ((flags & SS_SAVE) && t % SS_CHUNK == 0) {
            float* saved = ckpt + (long long)(t / SS_CHUNK) * states * total + c;
#pragma unroll
            for (int n = 0; n < $N; ++n) { if (n < states) { saved[n * total] = h[n]; } }
        }
        long long i = ((long long)b * length + t) * channels + d;
        const float* bt = Bm + ((long long)b * length + t) * states;
        const float* ct = Cm + ((long long)b * length + t) * states;
        float x = delta[i] + shift;
        float dt = (flags & SS_SOFTPLUS) ? ss_softplus(x) : x;
        float ut = u[i], y = 0.0f;
#pragma unroll
        for (int n = 0; n < $N; ++n) {
            if (n < states) {
                h[n] = expf(dt * a[n]) * h[n] + dt * bt[n] * ut;
                y = fmaf(ct[n], h[n], y);
            }
        }
        y = fmaf(skip, ut, y);
        if (flags & SS_GATE) {
            float g = z[i];
            y *= g * sigmoid_f(g);
        }
        out[i] = y;
    }
#pragma unroll
    for (int n = 0; n < $N; ++n) { if (n < states) { last[c * states + n] = h[n]; } }
}

extern "C" __global__ void selective_scan_bwd_n$N(
    const float* __restrict__ u, const float* __restrict__ delta, const float* __restrict__ A,
    const float* __restrict__ Bm, const float* __restrict__ Cm, const float* __restrict__ Dv,
    const float* __restrict__ z, const float* __restrict__ bias, const float* __restrict__ ckpt,
    const float* __restrict__ grad_out, const float* __restrict__ grad_last, float* __restrict__ ws,
    float* __restrict__ du, float* __restrict__ ddelta, float* __restrict__ dz, float* __restrict__ dA,
    float* __restrict__ dB, float* __restrict__ dC, float* __restrict__ dD, float* __restrict__ dbias,
    float* __restrict__ dh0, int batch, int length, int channels, int states, int flags) {
    int d = blockIdx.x * blockDim.x + threadIdx.x;
    int b = blockIdx.y;
    int lane = threadIdx.x & 31;
    // Threads past the last channel stay to the end: the warp sums need every lane. They read
    // and write nothing and add zeros.
    bool active = d < channels && b < batch;
    long long total = (long long)batch * channels;
    long long c = (long long)b * channels + d;
    float lam[$N], dA_sum[$N];
#pragma unroll
    for (int n = 0; n < $N; ++n) {
        lam[n] = active && n < states ? grad_last[c * states + n] : 0.0f;
        dA_sum[n] = 0.0f;
    }
    float skip = active ? Dv[d] : 0.0f, shift = active ? bias[d] : 0.0f;
    float dD_sum = 0.0f, dbias_sum = 0.0f;
    int chunks = (length + SS_CHUNK - 1) / SS_CHUNK;
    for (int k = chunks - 1; k >= 0; --k) {
        int start = k * SS_CHUNK, stop = min(length, start + SS_CHUNK);
        const float* saved = ckpt + (long long)k * states * total + c;
        if (active) {
            // The chunk's states again, from its checkpoint: slot s holds h after step start + s.
            float h[$N];
#pragma unroll
            for (int n = 0; n < $N; ++n) { h[n] = n < states ? saved[n * total] : 0.0f; }
            for (int t = start; t < stop; ++t) {
                long long i = ((long long)b * length + t) * channels + d;
                const float* bt = Bm + ((long long)b * length + t) * states;
                float x = delta[i] + shift;
                float dt = (flags & SS_SOFTPLUS) ? ss_softplus(x) : x;
                float ut = u[i];
                float* slot = ws + (long long)(t - start) * states * total + c;
#pragma unroll
                for (int n = 0; n < $N; ++n) {
                    if (n < states) {
                        h[n] = expf(dt * A[(long long)d * states + n]) * h[n] + dt * bt[n] * ut;
                        slot[n * total] = h[n];
                    }
                }
            }
        }
        for (int t = stop - 1; t >= start; --t) {
            long long i = ((long long)b * length + t) * channels + d;
            long long row = (long long)b * length + t;
            const float* bt = Bm + row * states;
            const float* ct = Cm + row * states;
            const float* now = ws + (long long)(t - start) * states * total + c;
            const float* before = t == start ? saved : now - (long long)states * total;
            float x = active ? delta[i] + shift : 0.0f;
            float dt = (flags & SS_SOFTPLUS) ? ss_softplus(x) : x;
            float ut = active ? u[i] : 0.0f, g = active ? grad_out[i] : 0.0f, dy = g;
            if (flags & SS_GATE) {
                float gate = active ? z[i] : 0.0f, s = sigmoid_f(gate), y = skip * ut;
#pragma unroll
                for (int n = 0; n < $N; ++n) { if (active && n < states) { y = fmaf(ct[n], now[n * total], y); } }
                if (active) { dz[i] = g * y * s * (1.0f + gate * (1.0f - s)); }
                dy = g * gate * s;
            }
            float du_t = skip * dy, ddt = 0.0f;
            dD_sum = fmaf(dy, ut, dD_sum);
#pragma unroll
            for (int n = 0; n < $N; ++n) {
                if (n < states) {
                    float an = active ? A[(long long)d * states + n] : 0.0f;
                    float bn = active ? bt[n] : 0.0f, cn = active ? ct[n] : 0.0f;
                    float e = expf(dt * an);
                    float h_now = active ? now[n * total] : 0.0f, h_before = active ? before[n * total] : 0.0f;
                    lam[n] = fmaf(cn, dy, lam[n]);
                    float dc = warp_sum(dy * h_now);
                    float db = warp_sum(lam[n] * dt * ut);
                    if (lane == 0 && b < batch) {
                        atomicAdd(dC + row * states + n, dc);
                        atomicAdd(dB + row * states + n, db);
                    }
                    du_t = fmaf(lam[n] * dt, bn, du_t);
                    float d_decay = lam[n] * h_before;
                    ddt += lam[n] * bn * ut + d_decay * an * e;
                    dA_sum[n] = fmaf(d_decay * e, dt, dA_sum[n]);
                    lam[n] *= e;
                }
            }
            if (active) {
                float dx = (flags & SS_SOFTPLUS) ? ddt * ss_softplus_grad(x) : ddt;
                du[i] = du_t;
                ddelta[i] = dx;
                dbias_sum += dx;
            }
        }
    }
    if (!active) { return; }
#pragma unroll
    for (int n = 0; n < $N; ++n) {
        if (n < states) {
            dh0[c * states + n] = lam[n];
            atomicAdd(dA + (long long)d * states + n, dA_sum[n]);
        }
    }
    atomicAdd(dD + d, dD_sum);
    atomicAdd(dbias + d, dbias_sum);
}
""")

SELECTIVE_SCAN = KernelSource(
    family="selective_scan",
    source=PRELUDE + _HELPERS + "".join(_BODY.substitute(N=bound) for bound in STATE_BOUNDS),
    kernels=tuple(f"selective_scan_{kind}_n{bound}" for bound in STATE_BOUNDS for kind in ("fwd", "bwd")),
)
