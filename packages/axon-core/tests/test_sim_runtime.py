"""The cuda-sim fiber runtime on small kernels written here, each checked against NumPy."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from axon_core import sim

SOURCE = r"""
#include <cuda_fp16.h>
#include <cuda_bf16.h>

// One row per block: max and sum by warp shuffles, combined across warps in dynamic shared memory.
extern "C" __global__ void row_softmax(const float* __restrict__ x, float* __restrict__ y, int cols,
                                       long long row_stride) {
    extern __shared__ float partial[];
    const float* row = x + blockIdx.x * row_stride;
    float* out = y + (size_t)blockIdx.x * cols;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) m = fmaxf(m, row[i]);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0) partial[warp] = m;
    __syncthreads();
    m = -INFINITY;
    for (int w = 0; w < warps; ++w) m = fmaxf(m, partial[w]);
    float s = 0.f;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) s += __expf(row[i] - m);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    __syncthreads();
    if (lane == 0) partial[warp] = s;
    __syncthreads();
    s = 0.f;
    for (int w = 0; w < warps; ++w) s += partial[w];
    const float inv = __fdividef(1.f, s);
    for (int i = threadIdx.x; i < cols; i += blockDim.x) out[i] = __expf(row[i] - m) * inv;
}

// Block tree reduction in static shared memory, then one atomicAdd per block.
extern "C" __global__ void sum_atomic(const float* x, float* total, int n) {
    __shared__ float tile[256];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x] = i < n ? x[i] : 0.f;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) tile[threadIdx.x] += tile[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(total, tile[0]);
}

// The same reduction with the barriers left out: a race the runtime must expose.
extern "C" __global__ void sum_missing_sync(const float* x, float* total, int n) {
    __shared__ float tile[256];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x] = i < n ? x[i] : 0.f;
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) tile[threadIdx.x] += tile[threadIdx.x + stride];
    }
    if (threadIdx.x == 0) atomicAdd(total, tile[0]);
}

// Integer atomics from every thread: count, max, and a CAS-built min.
extern "C" __global__ void int_atomics(const int* x, int n, int* count, int* largest, int* smallest,
                                       unsigned long long* total) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    atomicAdd(count, 1);
    atomicMax(largest, x[i]);
    int seen = *smallest;
    while (x[i] < seen) {
        int prev = atomicCAS(smallest, seen, x[i]);
        if (prev == seen) break;
        seen = prev;
    }
    atomicAdd(total, (unsigned long long)(long long)x[i]);
}

// Per thread: ballot/any/all of (x > 0) over the full warp, and an inclusive warp scan (shfl_up).
extern "C" __global__ void warp_votes(const float* x, unsigned* ballot, int* any, int* all, float* scan,
                                      float* broadcast, float* xor16) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = x[i];
    int p = v > 0.f;
    ballot[i] = __ballot_sync(0xffffffffu, p);
    any[i] = __any_sync(0xffffffffu, p);
    all[i] = __all_sync(0xffffffffu, p);
    float acc = v;
    for (int o = 1; o < 32; o <<= 1) {
        float up = __shfl_up_sync(0xffffffffu, acc, o);
        if ((threadIdx.x & 31) >= o) acc += up;
    }
    scan[i] = acc;
    broadcast[i] = __shfl_sync(0xffffffffu, v, 5);
    // width 16: lanes exchange within their half-warp.
    xor16[i] = __shfl_xor_sync(0xffffffffu, v, 3, 16);
}

extern "C" __global__ void warp_sum(const float* x, float* out) {
    float v = x[threadIdx.x];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) out[threadIdx.x >> 5] = v;
}

// Math and bit intrinsics, one output column each.
extern "C" __global__ void intrinsics(const float* a, const float* b, float* out, const unsigned* u, unsigned* bits,
                                      int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = a[i], y = b[i];
    float* o = out + 12 * i;
    o[0] = expf(x); o[1] = __expf(x); o[2] = rsqrtf(fabsf(x) + 1.f); o[3] = fmaxf(x, y); o[4] = fminf(x, y);
    o[5] = __fdividef(x, y); o[6] = tanhf(x); o[7] = erff(x); o[8] = __saturatef(x);
    o[9] = (float)__float2int_rn(x * 3.f); o[10] = max(x, y); o[11] = x > 0.f ? INFINITY : -INFINITY;
    unsigned v = u[i];
    unsigned* r = bits + 4 * i;
    r[0] = __popc(v); r[1] = __clz((int)v); r[2] = __brev(v); r[3] = __ffs((int)v);
}

// Barrier predicates.
extern "C" __global__ void barrier_predicates(const int* x, int* out) {
    int v = x[blockIdx.x * blockDim.x + threadIdx.x];
    int c = __syncthreads_count(v);
    int a = __syncthreads_and(v);
    int o = __syncthreads_or(v);
    if (threadIdx.x == 0) {
        out[3 * blockIdx.x] = c;
        out[3 * blockIdx.x + 1] = a;
        out[3 * blockIdx.x + 2] = o;
    }
}

// Threads past `live` exit at once; the rest must still pass both barriers.
extern "C" __global__ void early_exit(float* out, int live) {
    __shared__ float tile[1024];
    if (threadIdx.x >= live) return;
    tile[threadIdx.x] = threadIdx.x;
    __syncthreads();
    float s = tile[(threadIdx.x + 1) % live];
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// Every index built-in, in 3-D.
extern "C" __global__ void indices(int* out) {
    int bx = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    int tx = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    int at = bx * blockDim.x * blockDim.y * blockDim.z + tx;
    out[4 * at] = threadIdx.x + 10 * threadIdx.y + 100 * threadIdx.z;
    out[4 * at + 1] = blockIdx.x + 10 * blockIdx.y + 100 * blockIdx.z;
    out[4 * at + 2] = blockDim.x + 10 * blockDim.y + 100 * blockDim.z;
    out[4 * at + 3] = gridDim.x + 10 * gridDim.y + 100 * gridDim.z;
}

// A strided (non-contiguous) input: y[i] = x[i * stride] * scale.
extern "C" __global__ void strided_scale(const float* x, long long stride, float* y, int n, float scale) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i * stride] * scale;
}

extern "C" __global__ void half_roundtrip(const float* x, unsigned short* h, unsigned short* b, float* hf, float* bf,
                                          int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    __half hv = __float2half(x[i]);
    __nv_bfloat16 bv = __float2bfloat16(x[i]);
    h[i] = __half_as_ushort(hv);
    b[i] = __bfloat16_as_ushort(bv);
    hf[i] = __half2float(hv);
    bf[i] = __bfloat162float(bv);
}

extern "C" __global__ void half_axpy(const __half* x, const __nv_bfloat16* xb, __half* y, __nv_bfloat16* yb, float a,
                                     int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    y[i] = __float2half(a * __half2float(x[i]) + __half2float(y[i]));
    yb[i] = __float2bfloat16(a * __bfloat162float(xb[i]) + __bfloat162float(yb[i]));
}
"""

SIZES = [1, 31, 32, 33, 1000, 4097]


@pytest.fixture(scope="module")
def mod() -> sim.SimModule:
    return sim.module(SOURCE, name="test_runtime")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("cols", SIZES)
@pytest.mark.parametrize("threads", [32, 256, 1024])
def test_row_softmax_matches_numpy(mod, cols, threads):
    rng = np.random.default_rng(cols + threads)
    x = (rng.standard_normal((3, cols)) * 4).astype(np.float32)
    y = np.full_like(x, np.nan)
    mod.get_function("row_softmax")((3,), (threads,), (x, y, np.int32(cols), np.int64(cols)), 4 * (threads // 32))
    np.testing.assert_allclose(y, _softmax(x.astype(np.float64)), rtol=2e-6, atol=1e-7)


def test_row_softmax_non_contiguous_rows(mod):
    base = np.random.default_rng(1).standard_normal((4, 2000)).astype(np.float32)
    rows = base[:, 100:600]  # rows 2000 elements apart
    assert not rows.flags.c_contiguous
    y = np.empty((4, 500), np.float32)
    mod.get_function("row_softmax")((4,), (128,), (rows, y, np.int32(500), np.int64(2000)), 16, debug=True)
    np.testing.assert_allclose(y, _softmax(rows.astype(np.float64)), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("n", SIZES)
def test_block_reduction_with_atomic_add(mod, n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    total = np.zeros(1, np.float32)
    mod.get_function("sum_atomic")((-(-n // 256),), (256,), (x, total, np.int32(n)))
    np.testing.assert_allclose(total[0], x.astype(np.float64).sum(), rtol=1e-5, atol=1e-5)


def test_missing_syncthreads_gives_a_wrong_answer(mod):
    """The race of a reduction without barriers shows: its result disagrees with NumPy.

    One worker runs the blocks in order, so the stale shared tile each block reads is the same
    in every run (with several workers it depends on which OS thread took which block).
    """
    n = 4096
    x = np.random.default_rng(7).standard_normal(n).astype(np.float32)
    expected = x.astype(np.float64).sum()
    good, bad = np.zeros(1, np.float32), np.zeros(1, np.float32)
    mod.get_function("sum_atomic")((n // 256,), (256,), (x, good, np.int32(n)))
    mod.get_function("sum_missing_sync")((n // 256,), (256,), (x, bad, np.int32(n)), workers=1)
    assert abs(good[0] - expected) < 1e-3
    assert abs(bad[0] - expected) > 1.0
    # Resuming the fibers in the opposite order changes the racy result, never the correct one.
    good_rev, bad_rev = np.zeros(1, np.float32), np.zeros(1, np.float32)
    mod.get_function("sum_atomic")((n // 256,), (256,), (x, good_rev, np.int32(n)), reverse_order=True)
    mod.get_function("sum_missing_sync")((n // 256,), (256,), (x, bad_rev, np.int32(n)), reverse_order=True, workers=1)
    np.testing.assert_allclose(good_rev[0], expected, rtol=1e-5)
    assert bad_rev[0] != bad[0]


@pytest.mark.parametrize("n", SIZES)
def test_integer_atomics(mod, n):
    x = np.random.default_rng(n).integers(-(10**6), 10**6, n).astype(np.int32)
    count = np.zeros(1, np.int32)
    largest = np.full(1, np.iinfo(np.int32).min, np.int32)
    smallest = np.full(1, np.iinfo(np.int32).max, np.int32)
    total = np.zeros(1, np.uint64)
    mod.get_function("int_atomics")(
        (-(-n // 128),), (128,), (x, np.int32(n), count, largest, smallest, total), workers=2
    )
    assert count[0] == n
    assert largest[0] == x.max()
    assert smallest[0] == x.min()
    assert total[0] == np.uint64(int(x.astype(np.int64).sum()) % 2**64)


def test_warp_votes_and_shuffles(mod):
    blocks, threads = 3, 128
    n = blocks * threads
    x = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    x[32:64] = np.abs(x[32:64]) + 0.5  # one warp all positive
    x[64:96] = -np.abs(x[64:96]) - 0.5  # one warp all negative
    outs = [np.zeros(n, np.uint32), np.zeros(n, np.int32), np.zeros(n, np.int32)] + [
        np.zeros(n, np.float32) for _ in range(3)
    ]
    mod.get_function("warp_votes")((blocks,), (threads,), (x, *outs))
    ballot, any_, all_, scan, broadcast, xor16 = outs
    warps = (x > 0).reshape(-1, 32)
    bits = (warps * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
    np.testing.assert_array_equal(ballot, np.repeat(bits, 32))
    np.testing.assert_array_equal(any_, np.repeat(warps.any(axis=1), 32).astype(np.int32))
    np.testing.assert_array_equal(all_, np.repeat(warps.all(axis=1), 32).astype(np.int32))
    np.testing.assert_allclose(
        scan, np.cumsum(x.reshape(-1, 32), axis=1, dtype=np.float64).ravel(), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_array_equal(broadcast, np.repeat(x.reshape(-1, 32)[:, 5], 32))
    lanes = np.arange(n)
    np.testing.assert_array_equal(xor16, x[(lanes & ~15) | ((lanes & 15) ^ 3)])


def test_barrier_predicates(mod):
    x = np.zeros((4, 64), np.int32)
    x[0, :] = 1
    x[1, 5] = 1
    x[2, ::2] = 1
    out = np.zeros(12, np.int32)
    mod.get_function("barrier_predicates")((4,), (64,), (x, out))
    np.testing.assert_array_equal(out.reshape(4, 3), [[64, 1, 1], [1, 0, 1], [32, 0, 1], [0, 0, 0]])


@pytest.mark.parametrize("live", [1, 31, 33, 100, 256])
def test_exited_threads_do_not_hold_barriers(mod, live):
    out = np.full(2 * 256, -1, np.float32)
    mod.get_function("early_exit")((2,), (256,), (out, np.int32(live)))
    expected = np.full((2, 256), -1, np.float32)
    expected[:, :live] = (np.arange(live) + 1) % live
    np.testing.assert_array_equal(out.reshape(2, 256), expected)


def test_three_dimensional_indices(mod):
    grid, block = (3, 2, 2), (4, 3, 2)
    total = int(np.prod(grid) * np.prod(block))
    out = np.zeros(4 * total, np.int32)
    mod.get_function("indices")(grid, block, (out,))
    got = out.reshape(grid[2], grid[1], grid[0], block[2], block[1], block[0], 4)
    bz, by, bx, tz, ty, tx = np.meshgrid(
        *(np.arange(d) for d in (grid[2], grid[1], grid[0], block[2], block[1], block[0])), indexing="ij"
    )
    np.testing.assert_array_equal(got[..., 0], tx + 10 * ty + 100 * tz)
    np.testing.assert_array_equal(got[..., 1], bx + 10 * by + 100 * bz)
    assert (got[..., 2] == 4 + 30 + 200).all() and (got[..., 3] == 3 + 20 + 200).all()


@pytest.mark.parametrize("n", SIZES)
def test_strided_input(mod, n):
    base = np.random.default_rng(n).standard_normal(3 * n).astype(np.float32)
    x = base[::3]
    y = np.zeros(n, np.float32)
    mod.get_function("strided_scale")(
        (-(-n // 64),), (64,), (x, np.int64(3), y, np.int32(n), np.float32(-2.5)), debug=True
    )
    np.testing.assert_array_equal(y, x * np.float32(-2.5))


def test_half_and_bfloat16_conversions_round_like_numpy(mod):
    specials = np.array(
        [
            0.0,
            -0.0,
            np.inf,
            -np.inf,
            65504,
            65519.9,
            65520,
            1e-8,
            6e-8,
            3e-8,
            2.98e-8,
            5.96e-8,
            6.1e-5,
            1 + 2**-11,
            1 + 3 * 2**-11,
            3.4e38,
            1.17e-38,
            1e-40,
        ],
        np.float32,
    )
    x = np.concatenate(
        [
            specials,
            -specials,
            np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 1e3,
            np.random.default_rng(1).standard_normal(1000).astype(np.float32) * 1e-5,
        ]
    )
    n = x.size
    h, b = np.zeros(n, np.uint16), np.zeros(n, np.uint16)
    hf, bf = np.zeros(n, np.float32), np.zeros(n, np.float32)
    mod.get_function("half_roundtrip")((-(-n // 256),), (256,), (x, h, b, hf, bf, np.int32(n)))
    with np.errstate(over="ignore"):
        as_half = x.astype(np.float16)
    np.testing.assert_array_equal(h, as_half.view(np.uint16))
    np.testing.assert_array_equal(b, x.astype(ml_dtypes.bfloat16).view(np.uint16))
    np.testing.assert_array_equal(hf, as_half.astype(np.float32))
    np.testing.assert_array_equal(bf, x.astype(ml_dtypes.bfloat16).astype(np.float32))
    nan = np.array([np.nan], np.float32)
    mod.get_function("half_roundtrip")((1,), (1,), (nan, h[:1], b[:1], hf[:1], bf[:1], np.int32(1)))
    assert np.isnan(hf[0]) and np.isnan(bf[0])


@pytest.mark.parametrize("n", SIZES)
def test_half_arrays_as_kernel_arguments(mod, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float16)
    xb = rng.standard_normal(n).astype(ml_dtypes.bfloat16)
    y = rng.standard_normal(n).astype(np.float16)
    yb = rng.standard_normal(n).astype(ml_dtypes.bfloat16)
    expected = (np.float32(1.5) * x.astype(np.float32) + y.astype(np.float32)).astype(np.float16)
    expected_b = (np.float32(1.5) * xb.astype(np.float32) + yb.astype(np.float32)).astype(ml_dtypes.bfloat16)
    mod.get_function("half_axpy")((-(-n // 128),), (128,), (x, xb, y, yb, np.float32(1.5), np.int32(n)))
    np.testing.assert_array_equal(y.view(np.uint16), expected.view(np.uint16))
    np.testing.assert_array_equal(yb.view(np.uint16), expected_b.view(np.uint16))


def test_missing_lanes_read_as_nan(mod):
    """A full-mask shuffle in a partial warp reads lanes that do not exist: NaN, as undefined as on a GPU."""
    x = np.arange(40, dtype=np.float32)
    out = np.zeros(2, np.float32)
    mod.get_function("warp_sum")((1,), (40,), (x, out))
    assert out[0] == x[:32].sum()
    assert np.isnan(out[1])


def test_math_and_bit_intrinsics(mod):
    rng = np.random.default_rng(5)
    n = 1000
    a = (rng.standard_normal(n) * 3).astype(np.float32)
    b = (rng.standard_normal(n) * 3).astype(np.float32)
    a[:3], b[:3] = [np.nan, 1.0, np.nan], [2.0, np.nan, np.nan]  # fmaxf/fminf ignore a NaN operand
    u = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    u[:2] = [0, 1]
    out = np.zeros((n, 12), np.float32)
    bits = np.zeros((n, 4), np.uint32)
    mod.get_function("intrinsics")((-(-n // 128),), (128,), (a, b, out, u, bits, np.int32(n)))
    x, y = a.astype(np.float64), b.astype(np.float64)
    erf = np.array([math.erf(v) if np.isfinite(v) else np.nan for v in x])
    # CUDA's float->int conversion turns NaN into 0 (x86 would give INT_MIN).
    rounded = np.rint(np.nan_to_num(a * np.float32(3), nan=0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = [
            np.exp(x),
            np.exp(x),
            1 / np.sqrt(np.abs(x) + 1),
            np.fmax(x, y),
            np.fmin(x, y),
            x / y,
            np.tanh(x),
            erf,
            np.clip(np.nan_to_num(x, nan=0.0), 0, 1),
            rounded,
            np.fmax(x, y),
            np.where(x > 0, np.inf, -np.inf),
        ]
    for column, want in enumerate(expected):
        np.testing.assert_allclose(out[:, column], want, rtol=2e-6, atol=1e-7, err_msg=f"column {column}")
    ints = u.astype(np.uint64)
    popc = np.array([bin(int(v)).count("1") for v in ints])
    clz = np.array([32 - int(v).bit_length() for v in ints])
    brev = np.array([int(f"{int(v):032b}"[::-1], 2) for v in ints])
    ffs = np.array([(int(v) & -int(v)).bit_length() for v in ints])
    np.testing.assert_array_equal(bits, np.stack([popc, clz, brev, ffs], axis=1))
