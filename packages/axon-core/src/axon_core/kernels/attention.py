"""Tiled flash attention, forward and backward, causal or not (FlashAttention-2's algorithm).

Layout: ``q [BH, Sq, D]``, ``k [BH, Sk, D]``, ``v [BH, Sk, Dv]`` contiguous, ``D, Dv <=
MAX_HEAD_DIM``; ``lse``/``delta`` float32 ``[BH, Sq]``. Causal masks key ``j > i + (Sk - Sq)``.
Blocks have 4 warps; a warp owns query rows (or, in ``dkdv``, key rows) and its 32 lanes take
one key (query) each of a 32-wide tile in dynamic shared memory; each lane owns output columns
``lane + 32 t``. Shared bytes per block come from :func:`shared_bytes`.

- ``flash_attn_fwd_S(q, k, v, out, lse, Sq, Sk, D, Dv, scale, causal)``: grid
  ``(ceil(Sq / FWD_ROWS), BH)``.
- ``flash_attn_bwd_delta_S(grad, out, delta, rows, Dv)``: ``delta = rowsum(grad * out)``, a warp
  per row, grid ``ceil(rows / 4)``.
- ``flash_attn_bwd_dq_S(q, k, v, grad, lse, delta, dq, Sq, Sk, D, Dv, scale, causal)``: grid
  ``(ceil(Sq / DQ_ROWS), BH)``.
- ``flash_attn_bwd_dkdv_S(q, k, v, grad, lse, delta, dk, dv, Sq, Sk, D, Dv, scale, causal)``:
  grid ``(ceil(Sk / DKDV_ROWS), BH)``.
"""

from __future__ import annotations

from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["ATTENTION", "MAX_HEAD_DIM", "FWD_ROWS", "DQ_ROWS", "DKDV_ROWS", "TILE", "THREADS", "shared_bytes"]

MAX_HEAD_DIM = 128
TILE = 32
THREADS = 128
FWD_ROWS = 16
DQ_ROWS = 8
DKDV_ROWS = 8


def shared_bytes(kernel: str, head_dim: int, value_dim: int) -> int:
    """Dynamic shared memory (bytes) that ``kernel`` (``"fwd"``, ``"dq"``, ``"dkdv"``) needs."""
    floats = {
        "fwd": FWD_ROWS * head_dim + TILE * (head_dim + 1) + TILE * value_dim,
        "dq": DQ_ROWS * head_dim + DQ_ROWS * value_dim + TILE * (head_dim + 1) + TILE * (value_dim + 1),
        "dkdv": TILE * (head_dim + 1) + TILE * (value_dim + 1) + DKDV_ROWS * head_dim + DKDV_ROWS * value_dim,
    }[kernel]
    return 4 * floats


_CONSTANTS = f"""
#define FA_MAXT {MAX_HEAD_DIM // 32}
#define FA_TILE {TILE}
#define FA_FWD_ROWS {FWD_ROWS}
#define FA_DQ_ROWS {DQ_ROWS}
#define FA_DKDV_ROWS {DKDV_ROWS}
"""

_BODY = r"""
extern "C" __global__ void flash_attn_fwd_$S(const $T* __restrict__ q, const $T* __restrict__ k,
                                             const $T* __restrict__ v,
                                             $T* __restrict__ out, float* __restrict__ lse, int sq, int sk, int dim,
                                             int vdim,
                                             float scale, int causal) {
    extern __shared__ float smem[];
    float* qs = smem;
    float* ks = qs + FA_FWD_ROWS * dim;
    float* vs = ks + FA_TILE * (dim + 1);
    const int per_warp = FA_FWD_ROWS / 4;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    long long bh = blockIdx.y;
    q += bh * sq * dim; k += bh * sk * dim; v += bh * sk * vdim; out += bh * sq * vdim; lse += bh * sq;
    int row0 = blockIdx.x * FA_FWD_ROWS;
    int offset = sk - sq;
    for (int idx = threadIdx.x; idx < FA_FWD_ROWS * dim; idx += blockDim.x) {
        int r = idx / dim, d = idx - r * dim;
        qs[idx] = row0 + r < sq ? to_f(q[(long long)(row0 + r) * dim + d]) * scale : 0.0f;
    }
    float m[FA_FWD_ROWS / 4], l[FA_FWD_ROWS / 4], acc[FA_FWD_ROWS / 4][FA_MAXT];
    for (int rr = 0; rr < per_warp; ++rr) {
        m[rr] = -AXON_INF; l[rr] = 0.0f;
        for (int t = 0; t < FA_MAXT; ++t) { acc[rr][t] = 0.0f; }
    }
    int last_row = min(row0 + FA_FWD_ROWS, sq) - 1;
    int key_end = causal ? min(sk, last_row + offset + 1) : sk;
    for (int kt = 0; kt < key_end; kt += FA_TILE) {
        __syncthreads();
        for (int idx = threadIdx.x; idx < FA_TILE * dim; idx += blockDim.x) {
            int j = idx / dim, d = idx - j * dim;
            ks[j * (dim + 1) + d] = kt + j < sk ? to_f(k[(long long)(kt + j) * dim + d]) : 0.0f;
        }
        for (int idx = threadIdx.x; idx < FA_TILE * vdim; idx += blockDim.x) {
            int j = idx / vdim;
            vs[idx] = kt + j < sk ? to_f(v[(long long)(kt + j) * vdim + (idx - j * vdim)]) : 0.0f;
        }
        __syncthreads();
        int key = kt + lane;
        for (int rr = 0; rr < per_warp; ++rr) {
            int local = warp * per_warp + rr;
            int row = row0 + local;
            bool valid = key < sk && (!causal || key <= row + offset);
            float s = -AXON_INF;
            if (valid) {
                float dot = 0.0f;
                for (int d = 0; d < dim; ++d) { dot += qs[local * dim + d] * ks[lane * (dim + 1) + d]; }
                s = dot;
            }
            float new_m = fmaxf(m[rr], warp_max(s));
            float p = valid ? expf(s - new_m) : 0.0f;
            float correction = m[rr] == -AXON_INF ? 0.0f : expf(m[rr] - new_m);
            l[rr] = l[rr] * correction + warp_sum(p);
            for (int t = 0; t < FA_MAXT; ++t) { acc[rr][t] *= correction; }
            for (int j = 0; j < FA_TILE; ++j) {
                float pj = __shfl_sync(AXON_FULL_MASK, p, j);
                for (int t = 0; t < FA_MAXT; ++t) {
                    int d = lane + 32 * t;
                    if (d < vdim) { acc[rr][t] += pj * vs[j * vdim + d]; }
                }
            }
            m[rr] = new_m;
        }
    }
    for (int rr = 0; rr < per_warp; ++rr) {
        int row = row0 + warp * per_warp + rr;
        if (row >= sq) { continue; }
        float inv_l = 1.0f / l[rr];
        for (int t = 0; t < FA_MAXT; ++t) {
            int d = lane + 32 * t;
            if (d < vdim) { store_f(out + (long long)row * vdim + d, acc[rr][t] * inv_l); }
        }
        if (lane == 0) { lse[row] = m[rr] + logf(l[rr]); }
    }
}

extern "C" __global__ void flash_attn_bwd_delta_$S(const $T* __restrict__ grad, const $T* __restrict__ out,
                                                   float* __restrict__ delta, long long rows, int vdim) {
    int lane = threadIdx.x & 31;
    long long row = blockIdx.x * (long long)(blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) { return; }
    float s = 0.0f;
    for (int d = lane; d < vdim; d += 32) { s += to_f(grad[row * vdim + d]) * to_f(out[row * vdim + d]); }
    s = warp_sum(s);
    if (lane == 0) { delta[row] = s; }
}

extern "C" __global__ void flash_attn_bwd_dq_$S(const $T* __restrict__ q, const $T* __restrict__ k,
                                                const $T* __restrict__ v,
                                                const $T* __restrict__ grad, const float* __restrict__ lse,
                                                const float* __restrict__ delta, $T* __restrict__ dq,
                                                int sq, int sk, int dim, int vdim, float scale, int causal) {
    extern __shared__ float smem[];
    float* qs = smem;
    float* gs = qs + FA_DQ_ROWS * dim;
    float* ks = gs + FA_DQ_ROWS * vdim;
    float* vs = ks + FA_TILE * (dim + 1);
    const int per_warp = FA_DQ_ROWS / 4;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    long long bh = blockIdx.y;
    q += bh * sq * dim; k += bh * sk * dim; v += bh * sk * vdim; grad += bh * sq * vdim;
    lse += bh * sq; delta += bh * sq; dq += bh * sq * dim;
    int row0 = blockIdx.x * FA_DQ_ROWS;
    int offset = sk - sq;
    for (int idx = threadIdx.x; idx < FA_DQ_ROWS * dim; idx += blockDim.x) {
        int r = idx / dim;
        qs[idx] = row0 + r < sq ? to_f(q[(long long)(row0 + r) * dim + (idx - r * dim)]) : 0.0f;
    }
    for (int idx = threadIdx.x; idx < FA_DQ_ROWS * vdim; idx += blockDim.x) {
        int r = idx / vdim;
        gs[idx] = row0 + r < sq ? to_f(grad[(long long)(row0 + r) * vdim + (idx - r * vdim)]) : 0.0f;
    }
    float row_lse[FA_DQ_ROWS / 4], row_delta[FA_DQ_ROWS / 4], acc[FA_DQ_ROWS / 4][FA_MAXT];
    for (int rr = 0; rr < per_warp; ++rr) {
        int row = row0 + warp * per_warp + rr;
        row_lse[rr] = row < sq ? lse[row] : 0.0f;
        row_delta[rr] = row < sq ? delta[row] : 0.0f;
        for (int t = 0; t < FA_MAXT; ++t) { acc[rr][t] = 0.0f; }
    }
    int last_row = min(row0 + FA_DQ_ROWS, sq) - 1;
    int key_end = causal ? min(sk, last_row + offset + 1) : sk;
    for (int kt = 0; kt < key_end; kt += FA_TILE) {
        __syncthreads();
        for (int idx = threadIdx.x; idx < FA_TILE * dim; idx += blockDim.x) {
            int j = idx / dim, d = idx - j * dim;
            ks[j * (dim + 1) + d] = kt + j < sk ? to_f(k[(long long)(kt + j) * dim + d]) : 0.0f;
        }
        for (int idx = threadIdx.x; idx < FA_TILE * vdim; idx += blockDim.x) {
            int j = idx / vdim, d = idx - j * vdim;
            vs[j * (vdim + 1) + d] = kt + j < sk ? to_f(v[(long long)(kt + j) * vdim + d]) : 0.0f;
        }
        __syncthreads();
        int key = kt + lane;
        for (int rr = 0; rr < per_warp; ++rr) {
            int local = warp * per_warp + rr;
            int row = row0 + local;
            bool valid = row < sq && key < sk && (!causal || key <= row + offset);
            float ds = 0.0f;
            if (valid) {
                float s = 0.0f, dp = 0.0f;
                for (int d = 0; d < dim; ++d) { s += qs[local * dim + d] * ks[lane * (dim + 1) + d]; }
                for (int d = 0; d < vdim; ++d) { dp += gs[local * vdim + d] * vs[lane * (vdim + 1) + d]; }
                float p = expf(s * scale - row_lse[rr]);
                ds = p * (dp - row_delta[rr]);
            }
            for (int j = 0; j < FA_TILE; ++j) {
                float dsj = __shfl_sync(AXON_FULL_MASK, ds, j);
                for (int t = 0; t < FA_MAXT; ++t) {
                    int d = lane + 32 * t;
                    if (d < dim) { acc[rr][t] += dsj * ks[j * (dim + 1) + d]; }
                }
            }
        }
    }
    for (int rr = 0; rr < per_warp; ++rr) {
        int row = row0 + warp * per_warp + rr;
        if (row >= sq) { continue; }
        for (int t = 0; t < FA_MAXT; ++t) {
            int d = lane + 32 * t;
            if (d < dim) { store_f(dq + (long long)row * dim + d, acc[rr][t] * scale); }
        }
    }
}

extern "C" __global__ void flash_attn_bwd_dkdv_$S(const $T* __restrict__ q, const $T* __restrict__ k,
                                                  const $T* __restrict__ v,
                                                  const $T* __restrict__ grad, const float* __restrict__ lse,
                                                  const float* __restrict__ delta, $T* __restrict__ dk,
                                                  $T* __restrict__ dv,
                                                  int sq, int sk, int dim, int vdim, float scale, int causal) {
    extern __shared__ float smem[];
    float* qs = smem;
    float* gs = qs + FA_TILE * (dim + 1);
    float* ks = gs + FA_TILE * (vdim + 1);
    float* vs = ks + FA_DKDV_ROWS * dim;
    const int per_warp = FA_DKDV_ROWS / 4;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    long long bh = blockIdx.y;
    q += bh * sq * dim; k += bh * sk * dim; v += bh * sk * vdim; grad += bh * sq * vdim;
    lse += bh * sq; delta += bh * sq; dk += bh * sk * dim; dv += bh * sk * vdim;
    int key0 = blockIdx.x * FA_DKDV_ROWS;
    int offset = sk - sq;
    for (int idx = threadIdx.x; idx < FA_DKDV_ROWS * dim; idx += blockDim.x) {
        int r = idx / dim;
        ks[idx] = key0 + r < sk ? to_f(k[(long long)(key0 + r) * dim + (idx - r * dim)]) : 0.0f;
    }
    for (int idx = threadIdx.x; idx < FA_DKDV_ROWS * vdim; idx += blockDim.x) {
        int r = idx / vdim;
        vs[idx] = key0 + r < sk ? to_f(v[(long long)(key0 + r) * vdim + (idx - r * vdim)]) : 0.0f;
    }
    float acc_k[FA_DKDV_ROWS / 4][FA_MAXT], acc_v[FA_DKDV_ROWS / 4][FA_MAXT];
    for (int rr = 0; rr < per_warp; ++rr) {
        for (int t = 0; t < FA_MAXT; ++t) { acc_k[rr][t] = 0.0f; acc_v[rr][t] = 0.0f; }
    }
    // With the causal mask query i sees key j when i >= j - offset: earlier queries see none of this block.
    int query_start = causal ? max(0, key0 - offset) : 0;
    query_start -= query_start % FA_TILE;
    for (int qt = query_start; qt < sq; qt += FA_TILE) {
        __syncthreads();
        for (int idx = threadIdx.x; idx < FA_TILE * dim; idx += blockDim.x) {
            int i = idx / dim, d = idx - i * dim;
            qs[i * (dim + 1) + d] = qt + i < sq ? to_f(q[(long long)(qt + i) * dim + d]) : 0.0f;
        }
        for (int idx = threadIdx.x; idx < FA_TILE * vdim; idx += blockDim.x) {
            int i = idx / vdim, d = idx - i * vdim;
            gs[i * (vdim + 1) + d] = qt + i < sq ? to_f(grad[(long long)(qt + i) * vdim + d]) : 0.0f;
        }
        __syncthreads();
        int query = qt + lane;
        float query_lse = query < sq ? lse[query] : 0.0f;
        float query_delta = query < sq ? delta[query] : 0.0f;
        for (int rr = 0; rr < per_warp; ++rr) {
            int local = warp * per_warp + rr;
            int key = key0 + local;
            bool valid = key < sk && query < sq && (!causal || key <= query + offset);
            float p = 0.0f, ds = 0.0f;
            if (valid) {
                float s = 0.0f, dp = 0.0f;
                for (int d = 0; d < dim; ++d) { s += qs[lane * (dim + 1) + d] * ks[local * dim + d]; }
                for (int d = 0; d < vdim; ++d) { dp += gs[lane * (vdim + 1) + d] * vs[local * vdim + d]; }
                p = expf(s * scale - query_lse);
                ds = p * (dp - query_delta);
            }
            for (int i = 0; i < FA_TILE; ++i) {
                float pi = __shfl_sync(AXON_FULL_MASK, p, i);
                float dsi = __shfl_sync(AXON_FULL_MASK, ds, i);
                for (int t = 0; t < FA_MAXT; ++t) {
                    int d = lane + 32 * t;
                    if (d < vdim) { acc_v[rr][t] += pi * gs[i * (vdim + 1) + d]; }
                    if (d < dim) { acc_k[rr][t] += dsi * qs[i * (dim + 1) + d]; }
                }
            }
        }
    }
    for (int rr = 0; rr < per_warp; ++rr) {
        int key = key0 + warp * per_warp + rr;
        if (key >= sk) { continue; }
        for (int t = 0; t < FA_MAXT; ++t) {
            int d = lane + 32 * t;
            if (d < dim) { store_f(dk + (long long)key * dim + d, acc_k[rr][t] * scale); }
            if (d < vdim) { store_f(dv + (long long)key * vdim + d, acc_v[rr][t]); }
        }
    }
}
"""

ATTENTION = KernelSource(
    family="attention",
    source=PRELUDE + _CONSTANTS + instantiate(_BODY),
    kernels=tuple(
        f"flash_attn_{name}_{suffix}" for name in ("fwd", "bwd_delta", "bwd_dq", "bwd_dkdv") for suffix in FLOAT_TYPES
    ),
)
