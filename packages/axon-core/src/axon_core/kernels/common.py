"""CUDA C shared by every kernel family: half/bfloat16 loads and stores, warp and block reductions.

Each family's source starts with :data:`PRELUDE`; helpers are ``__device__ __forceinline__``
C++ overloads outside ``extern "C"`` so one kernel body serves float, __half and __nv_bfloat16.
"""

from __future__ import annotations

__all__ = ["PRELUDE"]

PRELUDE = r"""
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#define AXON_INF __int_as_float(0x7f800000)
#define AXON_FULL_MASK 0xffffffffu
// A grid-stride loop: thread i handles elements i, i + all threads, ... below n (64-bit counts).
#define AXON_GRID_STRIDE(i, n)                                                  \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ void store_f(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_f(__half* p, float v) { *p = __float2half(v); }
__device__ __forceinline__ void store_f(__nv_bfloat16* p, float v) { *p = __float2bfloat16(v); }

__device__ __forceinline__ float sigmoid_f(float x) {
    // Split by sign so expf never overflows.
    if (x >= 0.0f) { return 1.0f / (1.0f + expf(-x)); }
    float z = expf(x);
    return z / (1.0f + z);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) { v += __shfl_xor_sync(AXON_FULL_MASK, v, offset); }
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) { v = fmaxf(v, __shfl_xor_sync(AXON_FULL_MASK, v, offset)); }
    return v;
}

// Block-wide reductions for blockDim.x a multiple of 32 (at most 1024); `scratch` holds 32 floats.
// Every thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) { scratch[warp] = v; }
    __syncthreads();
    int warps = blockDim.x >> 5;
    if (warp == 0) {
        float part = lane < warps ? scratch[lane] : 0.0f;
        part = warp_sum(part);
        if (lane == 0) { scratch[0] = part; }
    }
    __syncthreads();
    return scratch[0];
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) { scratch[warp] = v; }
    __syncthreads();
    int warps = blockDim.x >> 5;
    if (warp == 0) {
        float part = lane < warps ? scratch[lane] : -AXON_INF;
        part = warp_max(part);
        if (lane == 0) { scratch[0] = part; }
    }
    __syncthreads();
    return scratch[0];
}
"""
