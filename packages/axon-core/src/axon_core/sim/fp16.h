// __half and __nv_bfloat16 for cuda-sim, shaped like cuda_fp16.h / cuda_bf16.h: 16-bit storage,
// implicit conversion to float, arithmetic and comparison operators that compute in float and
// round to nearest even, and the conversion/arithmetic intrinsics our kernels call.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace axon_sim {

inline uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

inline float bits_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Round-to-nearest-even float -> binary16, subnormals, overflow to inf and NaN included.
inline uint16_t float_to_half_bits(float f) {
    const uint32_t f32_inf = 255u << 23;
    const uint32_t f16_overflow = (127u + 16u) << 23;
    const uint32_t denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    uint32_t u = float_bits(f);
    uint32_t sign = u & 0x80000000u;
    u ^= sign;
    uint16_t out;
    if (u >= f16_overflow) {
        out = u > f32_inf ? 0x7e00 : 0x7c00;
    } else if (u < (113u << 23)) {
        // The float add shifts the mantissa into place and rounds it (the FPU rounds to even).
        out = static_cast<uint16_t>(float_bits(bits_float(u) + bits_float(denorm_magic)) - denorm_magic);
    } else {
        uint32_t mant_odd = (u >> 13) & 1u;
        u += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu;
        u += mant_odd;
        out = static_cast<uint16_t>(u >> 13);
    }
    return static_cast<uint16_t>(out | (sign >> 16));
}

inline float half_bits_to_float(uint16_t h) {
    const uint32_t shifted_exp = 0x7c00u << 13;
    uint32_t out = (h & 0x7fffu) << 13;
    uint32_t exp = shifted_exp & out;
    out += (127u - 15u) << 23;
    if (exp == shifted_exp) {
        out += (128u - 16u) << 23;
    } else if (exp == 0) {
        out += 1u << 23;
        out = float_bits(bits_float(out) - bits_float(113u << 23));
    }
    out |= static_cast<uint32_t>(h & 0x8000u) << 16;
    return bits_float(out);
}

inline uint16_t float_to_bf16_bits(float f) {
    uint32_t u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

inline float bf16_bits_to_float(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

}  // namespace axon_sim

struct __half {
    uint16_t __x;
    __half() = default;
    __half(float f) : __x(axon_sim::float_to_half_bits(f)) {}
    __half(double d) : __x(axon_sim::float_to_half_bits(static_cast<float>(d))) {}
    __half(int i) : __x(axon_sim::float_to_half_bits(static_cast<float>(i))) {}
    __half(unsigned int i) : __x(axon_sim::float_to_half_bits(static_cast<float>(i))) {}
    __half(long long i) : __x(axon_sim::float_to_half_bits(static_cast<float>(i))) {}
    __half(unsigned long long i) : __x(axon_sim::float_to_half_bits(static_cast<float>(i))) {}
    operator float() const { return axon_sim::half_bits_to_float(__x); }
};

struct __nv_bfloat16 {
    uint16_t __x;
    __nv_bfloat16() = default;
    __nv_bfloat16(float f) : __x(axon_sim::float_to_bf16_bits(f)) {}
    __nv_bfloat16(double d) : __x(axon_sim::float_to_bf16_bits(static_cast<float>(d))) {}
    __nv_bfloat16(int i) : __x(axon_sim::float_to_bf16_bits(static_cast<float>(i))) {}
    __nv_bfloat16(unsigned int i) : __x(axon_sim::float_to_bf16_bits(static_cast<float>(i))) {}
    __nv_bfloat16(long long i) : __x(axon_sim::float_to_bf16_bits(static_cast<float>(i))) {}
    __nv_bfloat16(unsigned long long i) : __x(axon_sim::float_to_bf16_bits(static_cast<float>(i))) {}
    operator float() const { return axon_sim::bf16_bits_to_float(__x); }
};

struct alignas(4) __half2 {
    __half x, y;
};

struct alignas(4) __nv_bfloat162 {
    __nv_bfloat16 x, y;
};

typedef __half half;
typedef __half2 half2;
typedef __nv_bfloat16 nv_bfloat16;
typedef __nv_bfloat162 nv_bfloat162;

#define AXON_SIM_HALF_OPS(T)                                                                             \
    inline T operator+(const T& a, const T& b) { return T(float(a) + float(b)); }                        \
    inline T operator-(const T& a, const T& b) { return T(float(a) - float(b)); }                        \
    inline T operator*(const T& a, const T& b) { return T(float(a) * float(b)); }                        \
    inline T operator/(const T& a, const T& b) { return T(float(a) / float(b)); }                        \
    inline T operator-(const T& a) {                                                                     \
        T r;                                                                                             \
        r.__x = static_cast<uint16_t>(a.__x ^ 0x8000u);                                                  \
        return r;                                                                                        \
    }                                                                                                    \
    inline T operator+(const T& a) { return a; }                                                         \
    inline T& operator+=(T& a, const T& b) { return a = a + b; }                                         \
    inline T& operator-=(T& a, const T& b) { return a = a - b; }                                         \
    inline T& operator*=(T& a, const T& b) { return a = a * b; }                                         \
    inline T& operator/=(T& a, const T& b) { return a = a / b; }                                         \
    inline bool operator==(const T& a, const T& b) { return float(a) == float(b); }                      \
    inline bool operator!=(const T& a, const T& b) { return float(a) != float(b); }                      \
    inline bool operator<(const T& a, const T& b) { return float(a) < float(b); }                        \
    inline bool operator>(const T& a, const T& b) { return float(a) > float(b); }                        \
    inline bool operator<=(const T& a, const T& b) { return float(a) <= float(b); }                      \
    inline bool operator>=(const T& a, const T& b) { return float(a) >= float(b); }                      \
    inline T __hadd(T a, T b) { return a + b; }                                                          \
    inline T __hsub(T a, T b) { return a - b; }                                                          \
    inline T __hmul(T a, T b) { return a * b; }                                                          \
    inline T __hdiv(T a, T b) { return a / b; }                                                          \
    inline T __hneg(T a) { return -a; }                                                                  \
    inline T __hfma(T a, T b, T c) { return T(std::fmaf(float(a), float(b), float(c))); }                \
    inline T __habs(T a) {                                                                               \
        T r;                                                                                             \
        r.__x = static_cast<uint16_t>(a.__x & 0x7fffu);                                                  \
        return r;                                                                                        \
    }                                                                                                    \
    inline T __hmax(T a, T b) { return T(std::fmax(float(a), float(b))); }                               \
    inline T __hmin(T a, T b) { return T(std::fmin(float(a), float(b))); }                               \
    inline bool __heq(T a, T b) { return a == b; }                                                       \
    inline bool __hne(T a, T b) { return a != b; }                                                       \
    inline bool __hlt(T a, T b) { return a < b; }                                                        \
    inline bool __hgt(T a, T b) { return a > b; }                                                        \
    inline bool __hle(T a, T b) { return a <= b; }                                                       \
    inline bool __hge(T a, T b) { return a >= b; }                                                       \
    inline bool __hisnan(T a) { return std::isnan(float(a)); }                                           \
    inline int __hisinf(T a) { return std::isinf(float(a)) ? (float(a) > 0 ? 1 : -1) : 0; }              \
    inline T hexp(T a) { return T(std::exp(float(a))); }                                                 \
    inline T hlog(T a) { return T(std::log(float(a))); }                                                 \
    inline T hsqrt(T a) { return T(std::sqrt(float(a))); }                                               \
    inline T hrsqrt(T a) { return T(1.0f / std::sqrt(float(a))); }                                       \
    inline T htanh(T a) { return T(std::tanh(float(a))); }

AXON_SIM_HALF_OPS(__half)
AXON_SIM_HALF_OPS(__nv_bfloat16)
#undef AXON_SIM_HALF_OPS

inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline __half __double2half(double d) { return __half(d); }
inline float __half2float(__half h) { return float(h); }
inline __half __int2half_rn(int i) { return __half(i); }
inline int __half2int_rn(__half h) { return static_cast<int>(std::nearbyint(float(h))); }
inline int __half2int_rz(__half h) { return static_cast<int>(float(h)); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline short __half_as_short(__half h) { return static_cast<short>(h.__x); }
inline __half __ushort_as_half(unsigned short u) {
    __half h;
    h.__x = u;
    return h;
}
inline __half __short_as_half(short s) { return __ushort_as_half(static_cast<unsigned short>(s)); }

inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __double2bfloat16(double d) { return __nv_bfloat16(d); }
inline float __bfloat162float(__nv_bfloat16 b) { return float(b); }
inline __nv_bfloat16 __int2bfloat16_rn(int i) { return __nv_bfloat16(i); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.__x; }
inline short __bfloat16_as_short(__nv_bfloat16 b) { return static_cast<short>(b.__x); }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) {
    __nv_bfloat16 b;
    b.__x = u;
    return b;
}
inline __nv_bfloat16 __short_as_bfloat16(short s) { return __ushort_as_bfloat16(static_cast<unsigned short>(s)); }

inline __half2 __halves2half2(__half a, __half b) { return __half2{a, b}; }
inline __half2 __half2half2(__half a) { return __half2{a, a}; }
inline __half2 __floats2half2_rn(float a, float b) { return __half2{__half(a), __half(b)}; }
inline __half2 __float2half2_rn(float a) { return __half2{__half(a), __half(a)}; }
inline __half __low2half(__half2 v) { return v.x; }
inline __half __high2half(__half2 v) { return v.y; }
inline float __low2float(__half2 v) { return float(v.x); }
inline float __high2float(__half2 v) { return float(v.y); }
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2{a.x + b.x, a.y + b.y}; }
inline __half2 __hsub2(__half2 a, __half2 b) { return __half2{a.x - b.x, a.y - b.y}; }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2{a.x * b.x, a.y * b.y}; }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) { return __half2{__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)}; }

inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) { return __nv_bfloat162{a, b}; }
inline __nv_bfloat162 __bfloat162bfloat162(__nv_bfloat16 a) { return __nv_bfloat162{a, a}; }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return __nv_bfloat162{__nv_bfloat16(a), __nv_bfloat16(b)}; }
inline __nv_bfloat162 __float2bfloat162_rn(float a) { return __nv_bfloat162{__nv_bfloat16(a), __nv_bfloat16(a)}; }
inline __nv_bfloat16 __low2bfloat16(__nv_bfloat162 v) { return v.x; }
inline __nv_bfloat16 __high2bfloat16(__nv_bfloat162 v) { return v.y; }
inline float __low2float(__nv_bfloat162 v) { return float(v.x); }
inline float __high2float(__nv_bfloat162 v) { return float(v.y); }
inline __nv_bfloat162 __hadd2(__nv_bfloat162 a, __nv_bfloat162 b) { return __nv_bfloat162{a.x + b.x, a.y + b.y}; }
inline __nv_bfloat162 __hmul2(__nv_bfloat162 a, __nv_bfloat162 b) { return __nv_bfloat162{a.x * b.x, a.y * b.y}; }
