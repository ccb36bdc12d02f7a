// The CUDA C built-ins our kernels use, for g++: included (-include) before the same kernel
// source NVRTC compiles. Execution-space keywords vanish, `__shared__` becomes a per-worker
// static (a worker runs one block at a time), thread/block indices read the fiber runtime, and
// warp ops, barriers and atomics are implemented over the fibers of a block (runtime.h).
#pragma once

#include <cassert>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <math.h>
#include <type_traits>

#include "runtime.h"
#include "fp16.h"

#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ __attribute__((always_inline)) inline
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define __grid_constant__

#define threadIdx (::axon_sim::t_fiber->tid)
#define blockIdx (::axon_sim::t_worker->block_idx)
#define blockDim (::axon_sim::t_block_dim)
#define gridDim (::axon_sim::t_grid_dim)
#define warpSize 32

// Device-side assert: a failed one ends the block and is reported, it does not abort Python.
#undef assert
#define assert(cond) ((cond) ? (void)0 : ::axon_sim::trap("device assert failed: " #cond " at " __FILE__ ":" AXON_SIM_STR(__LINE__)))
#define AXON_SIM_STR(x) AXON_SIM_STR2(x)
#define AXON_SIM_STR2(x) #x

inline void __trap() { ::axon_sim::trap("__trap() called"); }
inline void __brkpt() { ::axon_sim::trap("__brkpt() called"); }

// -- barriers and warp-level ops ------------------------------------------------------------------
inline void __syncthreads() { ::axon_sim::block_barrier(0); }
inline int __syncthreads_count(int predicate) { return ::axon_sim::block_barrier(predicate); }
inline int __syncthreads_and(int predicate) {
    return ::axon_sim::block_barrier(predicate) == ::axon_sim::t_fiber->block->live;
}
inline int __syncthreads_or(int predicate) { return ::axon_sim::block_barrier(predicate) != 0; }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::axon_sim::warp_exchange(mask, 0); }
inline unsigned __activemask() {
    ::axon_sim::Fiber* f = ::axon_sim::t_fiber;
    return f->block->warps[f->warp].live;
}
inline unsigned __ballot_sync(unsigned mask, int predicate) { return ::axon_sim::warp_ballot(mask, predicate); }
inline int __any_sync(unsigned mask, int predicate) { return ::axon_sim::warp_ballot(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) { return ::axon_sim::warp_ballot(mask, !predicate) == 0; }

template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
    auto x = ::axon_sim::warp_exchange(mask, ::axon_sim::to_bits(var));
    int lane = static_cast<int>(x.f->lane);
    int base = lane & ~(width - 1);
    return ::axon_sim::shuffle_read<T>(x, base + (src_lane & (width - 1)));
}

template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    auto x = ::axon_sim::warp_exchange(mask, ::axon_sim::to_bits(var));
    int lane = static_cast<int>(x.f->lane);
    int within = lane & (width - 1);
    if (within < static_cast<int>(delta)) return var;
    return ::axon_sim::shuffle_read<T>(x, lane - static_cast<int>(delta));
}

template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    auto x = ::axon_sim::warp_exchange(mask, ::axon_sim::to_bits(var));
    int lane = static_cast<int>(x.f->lane);
    int within = lane & (width - 1);
    if (within + static_cast<int>(delta) >= width) return var;
    return ::axon_sim::shuffle_read<T>(x, lane + static_cast<int>(delta));
}

template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
    auto x = ::axon_sim::warp_exchange(mask, ::axon_sim::to_bits(var));
    int lane = static_cast<int>(x.f->lane);
    int src = lane ^ lane_mask;
    // A lane may read earlier groups of `width` lanes but not later ones (then it keeps its own).
    if (src >= (lane & ~(width - 1)) + width) return var;
    return ::axon_sim::shuffle_read<T>(x, src);
}

#define AXON_SIM_WARP_REDUCE(name, T, op)                                                   \
    inline T name(unsigned mask, T value) {                                                 \
        auto x = ::axon_sim::warp_exchange(mask, ::axon_sim::to_bits(value));               \
        T acc = value;                                                                      \
        bool first = true;                                                                  \
        for (unsigned m = x.present; m; m &= m - 1) {                    \
            T v = ::axon_sim::from_bits<T>(x.slot[__builtin_ctz(m)]);                       \
            acc = first ? v : op;                                                           \
            first = false;                                                                  \
        }                                                                                   \
        return acc;                                                                         \
    }
AXON_SIM_WARP_REDUCE(__reduce_add_sync, unsigned, acc + v)
AXON_SIM_WARP_REDUCE(__reduce_add_sync, int, acc + v)
AXON_SIM_WARP_REDUCE(__reduce_min_sync, unsigned, (v < acc ? v : acc))
AXON_SIM_WARP_REDUCE(__reduce_min_sync, int, (v < acc ? v : acc))
AXON_SIM_WARP_REDUCE(__reduce_max_sync, unsigned, (v > acc ? v : acc))
AXON_SIM_WARP_REDUCE(__reduce_max_sync, int, (v > acc ? v : acc))
AXON_SIM_WARP_REDUCE(__reduce_and_sync, unsigned, (acc & v))
AXON_SIM_WARP_REDUCE(__reduce_or_sync, unsigned, (acc | v))
AXON_SIM_WARP_REDUCE(__reduce_xor_sync, unsigned, (acc ^ v))
#undef AXON_SIM_WARP_REDUCE

// -- memory fences and atomics (real atomics: blocks run concurrently on worker threads) ---------
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

template <class T>
inline T __ldg(const T* p) { return *p; }
template <class T>
inline T __ldcs(const T* p) { return *p; }
template <class T>
inline T __ldcg(const T* p) { return *p; }
template <class T>
inline void __stcs(T* p, T v) { *p = v; }
template <class T>
inline void __stcg(T* p, T v) { *p = v; }

namespace axon_sim {
template <class T, class F>
inline T atomic_update(T* address, F update) {
    static_assert(sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8, "atomics on 2, 4 or 8 bytes");
    using Bits = std::conditional_t<sizeof(T) == 2, uint16_t, std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
    Bits* bits = reinterpret_cast<Bits*>(address);
    Bits expected = __atomic_load_n(bits, __ATOMIC_RELAXED);
    for (;;) {
        T old = from_bits<T>(expected);
        T next = update(old);
        Bits desired = static_cast<Bits>(to_bits(next));
        if (__atomic_compare_exchange_n(bits, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return old;
    }
}
}  // namespace axon_sim

#define AXON_SIM_INT_ATOMICS(T)                                                                          \
    inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }                \
    inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }                \
    inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }              \
    inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }                \
    inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }                  \
    inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }                \
    inline T atomicMax(T* a, T v) {                                                                     \
        return ::axon_sim::atomic_update(a, [v](T old) { return old < v ? v : old; });                  \
    }                                                                                                    \
    inline T atomicMin(T* a, T v) {                                                                     \
        return ::axon_sim::atomic_update(a, [v](T old) { return v < old ? v : old; });                  \
    }                                                                                                    \
    inline T atomicCAS(T* a, T compare, T v) {                                                          \
        __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);         \
        return compare;                                                                                  \
    }
AXON_SIM_INT_ATOMICS(int)
AXON_SIM_INT_ATOMICS(unsigned int)
AXON_SIM_INT_ATOMICS(unsigned long long)
AXON_SIM_INT_ATOMICS(long long)
#undef AXON_SIM_INT_ATOMICS

inline unsigned short atomicCAS(unsigned short* a, unsigned short compare, unsigned short v) {
    __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return compare;
}
inline unsigned atomicInc(unsigned* a, unsigned limit) {
    return ::axon_sim::atomic_update(a, [limit](unsigned old) { return old >= limit ? 0u : old + 1; });
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
    return ::axon_sim::atomic_update(a, [limit](unsigned old) { return (old == 0 || old > limit) ? limit : old - 1; });
}
inline float atomicAdd(float* a, float v) { return ::axon_sim::atomic_update(a, [v](float old) { return old + v; }); }
inline double atomicAdd(double* a, double v) { return ::axon_sim::atomic_update(a, [v](double old) { return old + v; }); }
inline __half atomicAdd(__half* a, __half v) { return ::axon_sim::atomic_update(a, [v](__half old) { return old + v; }); }
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* a, __nv_bfloat16 v) {
    return ::axon_sim::atomic_update(a, [v](__nv_bfloat16 old) { return old + v; });
}
inline float atomicExch(float* a, float v) { return ::axon_sim::atomic_update(a, [v](float) { return v; }); }

#define atomicAdd_block atomicAdd
#define atomicAdd_system atomicAdd
#define atomicMax_block atomicMax
#define atomicCAS_block atomicCAS

// -- integer and bit intrinsics ------------------------------------------------------------------
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
}
inline int __mul24(int a, int b) { return a * b; }
inline unsigned __umul24(unsigned a, unsigned b) { return a * b; }
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) {
    return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}

template <class A, class B>
inline auto max(A a, B b) -> std::common_type_t<A, B> {
    using T = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<T>) return std::fmax(static_cast<T>(a), static_cast<T>(b));
    else return static_cast<T>(a) < static_cast<T>(b) ? static_cast<T>(b) : static_cast<T>(a);
}
template <class A, class B>
inline auto min(A a, B b) -> std::common_type_t<A, B> {
    using T = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<T>) return std::fmin(static_cast<T>(a), static_cast<T>(b));
    else return static_cast<T>(b) < static_cast<T>(a) ? static_cast<T>(b) : static_cast<T>(a);
}

// fmaxf/fminf are libm calls on x86-64 (maxss orders NaN differently); kernels call them in every
// reduction, so they are inlined here with C's semantics (a NaN operand yields the other one).
inline float axon_sim_fmaxf(float a, float b) { return a != a ? b : (b != b ? a : (a > b ? a : b)); }
inline float axon_sim_fminf(float a, float b) { return a != a ? b : (b != b ? a : (a < b ? a : b)); }
#define fmaxf axon_sim_fmaxf
#define fminf axon_sim_fminf

// -- float intrinsics: the fast GPU approximations are computed exactly here; tests compare
// against tolerances that cover the GPU's documented ulp errors ----------------------------------
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { sincosf(x, s, c); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752); }
inline float sinpif(float x) { return sinf(static_cast<float>(M_PI) * x); }
inline float cospif(float x) { return cosf(static_cast<float>(M_PI) * x); }

// The GPU's float->int conversions saturate and turn NaN into 0; x86's give INT_MIN for both.
namespace axon_sim {
template <class I>
inline I saturate_to(double r) {
    if (r != r) return 0;
    if (r <= static_cast<double>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
    if (r >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
    return static_cast<I>(r);
}
}  // namespace axon_sim
inline int __float2int_rn(float x) { return ::axon_sim::saturate_to<int>(nearbyint(x)); }
inline int __float2int_rz(float x) { return ::axon_sim::saturate_to<int>(trunc(x)); }
inline int __float2int_rd(float x) { return ::axon_sim::saturate_to<int>(floor(x)); }
inline int __float2int_ru(float x) { return ::axon_sim::saturate_to<int>(ceil(x)); }
inline unsigned __float2uint_rn(float x) { return ::axon_sim::saturate_to<unsigned>(nearbyint(x)); }
inline long long __float2ll_rn(float x) { return ::axon_sim::saturate_to<long long>(nearbyint(x)); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline float __uint2float_rn(unsigned x) { return static_cast<float>(x); }
inline int __double2int_rn(double x) { return ::axon_sim::saturate_to<int>(nearbyint(x)); }
inline float __double2float_rn(double x) { return static_cast<float>(x); }

inline int __float_as_int(float x) { return ::axon_sim::from_bits<int>(::axon_sim::to_bits(x)); }
inline unsigned __float_as_uint(float x) { return ::axon_sim::float_bits(x); }
inline float __int_as_float(int x) { return ::axon_sim::from_bits<float>(static_cast<uint32_t>(x)); }
inline float __uint_as_float(unsigned x) { return ::axon_sim::bits_float(x); }
inline long long __double_as_longlong(double x) { return ::axon_sim::from_bits<long long>(::axon_sim::to_bits(x)); }
inline double __longlong_as_double(long long x) { return ::axon_sim::from_bits<double>(static_cast<uint64_t>(x)); }

inline long long clock64() { return static_cast<long long>(__builtin_ia32_rdtsc()); }

// -- vector types --------------------------------------------------------------------------------
#define AXON_SIM_VEC2(T, name, align)                                         \
    struct __attribute__((aligned(align))) name {                            \
        T x, y;                                                               \
    };                                                                        \
    inline name make_##name(T x, T y) { return name{x, y}; }
#define AXON_SIM_VEC3(T, name)                                                \
    struct name {                                                             \
        T x, y, z;                                                            \
    };                                                                        \
    inline name make_##name(T x, T y, T z) { return name{x, y, z}; }
#define AXON_SIM_VEC4(T, name, align)                                         \
    struct __attribute__((aligned(align))) name {                            \
        T x, y, z, w;                                                         \
    };                                                                        \
    inline name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }
AXON_SIM_VEC2(float, float2, 8)
AXON_SIM_VEC3(float, float3)
AXON_SIM_VEC4(float, float4, 16)
AXON_SIM_VEC2(double, double2, 16)
AXON_SIM_VEC2(int, int2, 8)
AXON_SIM_VEC3(int, int3)
AXON_SIM_VEC4(int, int4, 16)
AXON_SIM_VEC2(unsigned int, uint2, 8)
AXON_SIM_VEC4(unsigned int, uint4, 16)
AXON_SIM_VEC2(short, short2, 4)
AXON_SIM_VEC4(short, short4, 8)
AXON_SIM_VEC2(unsigned short, ushort2, 4)
AXON_SIM_VEC4(unsigned short, ushort4, 8)
AXON_SIM_VEC2(signed char, char2, 2)
AXON_SIM_VEC4(signed char, char4, 4)
AXON_SIM_VEC2(unsigned char, uchar2, 2)
AXON_SIM_VEC4(unsigned char, uchar4, 4)
AXON_SIM_VEC2(long long, longlong2, 16)
#undef AXON_SIM_VEC2
#undef AXON_SIM_VEC3
#undef AXON_SIM_VEC4
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }

inline float2 __half22float2(__half2 v) { return float2{float(v.x), float(v.y)}; }
inline __half2 __float22half2_rn(float2 v) { return __half2{__half(v.x), __half(v.y)}; }
inline float2 __bfloat1622float2(__nv_bfloat162 v) { return float2{float(v.x), float(v.y)}; }
inline __nv_bfloat162 __float22bfloat162_rn(float2 v) { return __nv_bfloat162{__nv_bfloat16(v.x), __nv_bfloat16(v.y)}; }
