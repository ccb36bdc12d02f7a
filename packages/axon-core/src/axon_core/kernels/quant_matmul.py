"""Quantized matmul straight from ggml block bytes: ``out [n, m] = x [n, k] @ dequantize(w [m, k]).T``.

``w`` is the raw bytes of ``m`` rows in one ggml block format (``m * (k / block) * block_bytes``
uint8, ggml's ``block_q*`` structs back to back, little-endian); ``x`` and ``out`` are float32.
One warp per weight row, four rows per block (``block = (32, 4)``, ``grid.x = ceil(m / 4)``):
lane ``l`` takes the row's 8-value parts ``l, l + 32, ...``, decodes each part's 8 weights in
registers (scale and minimum applied, float32) and adds their products with ``x``; a warp sum
gives the row's result. Nothing dequantized is stored.

- ``quant_matvec_F(w, x, out, m, k, n)``: one activation row per ``blockIdx.y`` (``grid.y = n``).
- ``quant_matmul_F(w, x, out, m, k, n)``: ``QM_TILE`` activation rows per ``blockIdx.y``
  (``grid.y = ceil(n / QM_TILE)``), each decoded part used for all of them.

``F`` is one of :data:`QUANT_FORMATS` (ggml's names); the layouts are documented in
``axon_quant.kernels`` and decoded here exactly as ggml (and gguf-py) decode them. The format
code does not know shapes: the host checks that ``k`` is whole blocks and the buffers' sizes.
"""

from __future__ import annotations

from string import Template

from .common import PRELUDE
from .source import KernelSource

__all__ = ["QM_ROWS", "QM_TILE", "QUANT_FORMATS", "QUANT_MATMUL"]

#: Weight rows per thread block (one warp each).
QM_ROWS = 4
#: Activation rows each ``quant_matmul_F`` block takes.
QM_TILE = 8

#: Block formats with kernels: ggml name -> (values per block, bytes per block).
QUANT_FORMATS: dict[str, tuple[int, int]] = {
    "q4_0": (32, 18),
    "q4_1": (32, 20),
    "q5_0": (32, 22),
    "q5_1": (32, 24),
    "q8_0": (32, 34),
    "q2_k": (256, 84),
    "q3_k": (256, 110),
    "q4_k": (256, 144),
    "q5_k": (256, 176),
    "q6_k": (256, 210),
    "q8_k": (256, 292),
    "tq1_0": (256, 54),
    "tq2_0": (256, 66),
}

# Per format: decode part p (values [8p, 8p + 8) of block b) into v[0..7].
_DECODERS = r"""
__device__ __forceinline__ float qm_half(const unsigned char* p) {
    return __half2float(__ushort_as_half((unsigned short)(p[0] | (p[1] << 8))));
}
__device__ __forceinline__ unsigned int qm_u32(const unsigned char* p) {
    return (unsigned int)p[0] | ((unsigned int)p[1] << 8) | ((unsigned int)p[2] << 16) | ((unsigned int)p[3] << 24);
}

// q4_0: d, 16 bytes of nibbles; value j (< 16) is the low nibble of byte j, value 16 + j the high one.
__device__ __forceinline__ void qm_decode_q4_0(const unsigned char* b, int p, float* v) {
    float d = qm_half(b);
    const unsigned char* q = b + 2 + 8 * (p & 1);
    int shift = p < 2 ? 0 : 4;
    for (int t = 0; t < 8; ++t) { v[t] = d * (float)(((q[t] >> shift) & 15) - 8); }
}
__device__ __forceinline__ void qm_decode_q4_1(const unsigned char* b, int p, float* v) {
    float d = qm_half(b), low = qm_half(b + 2);
    const unsigned char* q = b + 4 + 8 * (p & 1);
    int shift = p < 2 ? 0 : 4;
    for (int t = 0; t < 8; ++t) { v[t] = d * (float)((q[t] >> shift) & 15) + low; }
}
// q5_0: d, qh (bit e: fifth bit of value e), nibbles as q4_0.
__device__ __forceinline__ void qm_decode_q5_0(const unsigned char* b, int p, float* v) {
    float d = qm_half(b);
    unsigned int high = qm_u32(b + 2);
    const unsigned char* q = b + 6 + 8 * (p & 1);
    int shift = p < 2 ? 0 : 4;
    for (int t = 0; t < 8; ++t) {
        int e = 8 * p + t;
        int code = ((q[t] >> shift) & 15) | (int)(((high >> e) & 1) << 4);
        v[t] = d * (float)(code - 16);
    }
}
__device__ __forceinline__ void qm_decode_q5_1(const unsigned char* b, int p, float* v) {
    float d = qm_half(b), low = qm_half(b + 2);
    unsigned int high = qm_u32(b + 4);
    const unsigned char* q = b + 8 + 8 * (p & 1);
    int shift = p < 2 ? 0 : 4;
    for (int t = 0; t < 8; ++t) {
        int e = 8 * p + t;
        int code = ((q[t] >> shift) & 15) | (int)(((high >> e) & 1) << 4);
        v[t] = d * (float)code + low;
    }
}
__device__ __forceinline__ void qm_decode_q8_0(const unsigned char* b, int p, float* v) {
    float d = qm_half(b);
    const signed char* q = (const signed char*)(b + 2 + 8 * p);
    for (int t = 0; t < 8; ++t) { v[t] = d * (float)q[t]; }
}
// q2_k: scales[16], qs[64], d, dmin; value 128h + 32s + l is bits 2s..2s+1 of qs[32h + l].
__device__ __forceinline__ void qm_decode_q2_k(const unsigned char* b, int p, float* v) {
    int e = 8 * p, h = e >> 7, s = (e >> 5) & 3, l = e & 31;
    unsigned char packed = b[e >> 4];
    float scale = qm_half(b + 80) * (float)(packed & 15), low = qm_half(b + 82) * (float)(packed >> 4);
    const unsigned char* q = b + 16 + 32 * h + l;
    for (int t = 0; t < 8; ++t) { v[t] = scale * (float)((q[t] >> (2 * s)) & 3) - low; }
}
// q3_k: hmask[32], qs[64], scales[12] (16 six-bit scales less 32), d; the q2_k code less 4 where
// bit 4h + s of hmask[l] is clear.
__device__ __forceinline__ void qm_decode_q3_k(const unsigned char* b, int p, float* v) {
    int e = 8 * p, h = e >> 7, s = (e >> 5) & 3, l = e & 31, run = e >> 4;
    const unsigned char* sc = b + 96;
    int six = ((sc[run & 7] >> (4 * (run >> 3))) & 15) | (((sc[8 + (run & 3)] >> (2 * (run >> 2))) & 3) << 4);
    float scale = qm_half(b + 108) * (float)(six - 32);
    const unsigned char* q = b + 32 + 32 * h + l;
    const unsigned char* mask = b + l;
    int bit = 4 * h + s;
    for (int t = 0; t < 8; ++t) {
        int code = ((q[t] >> (2 * s)) & 3) - (((mask[t] >> bit) & 1) ? 0 : 4);
        v[t] = scale * (float)code;
    }
}
// q4_k/q5_k scales[12]: six-bit scale and minimum of sub-block j (ggml's get_scale_min_k4).
__device__ __forceinline__ void qm_scale_min_k4(const unsigned char* sc, int j, int* scale, int* low) {
    if (j < 4) {
        *scale = sc[j] & 63;
        *low = sc[j + 4] & 63;
    } else {
        *scale = (sc[j + 4] & 15) | ((sc[j - 4] >> 6) << 4);
        *low = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
    }
}
// q4_k: d, dmin, scales[12], qs[128]; value 64g + l is the low nibble of qs[32g + l], 64g + 32 + l the high.
__device__ __forceinline__ void qm_decode_q4_k(const unsigned char* b, int p, float* v) {
    int e = 8 * p, g = e >> 6, hi = (e >> 5) & 1, l = e & 31, scale, low;
    qm_scale_min_k4(b + 4, 2 * g + hi, &scale, &low);
    float ds = qm_half(b) * (float)scale, dm = qm_half(b + 2) * (float)low;
    const unsigned char* q = b + 16 + 32 * g + l;
    for (int t = 0; t < 8; ++t) { v[t] = ds * (float)((q[t] >> (4 * hi)) & 15) - dm; }
}
// q5_k: q4_k with qh[32] before qs: bit j of qh[l] is the fifth bit of value l of sub-block j.
__device__ __forceinline__ void qm_decode_q5_k(const unsigned char* b, int p, float* v) {
    int e = 8 * p, g = e >> 6, hi = (e >> 5) & 1, l = e & 31, j = 2 * g + hi, scale, low;
    qm_scale_min_k4(b + 4, j, &scale, &low);
    float ds = qm_half(b) * (float)scale, dm = qm_half(b + 2) * (float)low;
    const unsigned char* q = b + 48 + 32 * g + l;
    const unsigned char* high = b + 16 + l;
    for (int t = 0; t < 8; ++t) {
        int code = ((q[t] >> (4 * hi)) & 15) | (((high[t] >> j) & 1) << 4);
        v[t] = ds * (float)code - dm;
    }
}
// q6_k: ql[128], qh[64], int8 scales[16], d; in half h value 32c + l is nibble (c >> 1) of
// ql[64h + 32(c & 1) + l] with bits 2c..2c+1 of qh[32h + l] on top, less 32.
__device__ __forceinline__ void qm_decode_q6_k(const unsigned char* b, int p, float* v) {
    int e = 8 * p, h = e >> 7, c = (e >> 5) & 3, l = e & 31;
    float scale = qm_half(b + 208) * (float)((const signed char*)(b + 192))[e >> 4];
    const unsigned char* q = b + 64 * h + 32 * (c & 1) + l;
    const unsigned char* high = b + 128 + 32 * h + l;
    int shift = 4 * (c >> 1);
    for (int t = 0; t < 8; ++t) {
        int code = ((q[t] >> shift) & 15) | (((high[t] >> (2 * c)) & 3) << 4);
        v[t] = scale * (float)(code - 32);
    }
}
// q8_k: float32 d, int8 qs[256], int16 bsums[16].
__device__ __forceinline__ void qm_decode_q8_k(const unsigned char* b, int p, float* v) {
    float d = __int_as_float((int)qm_u32(b));
    const signed char* q = (const signed char*)(b + 4 + 8 * p);
    for (int t = 0; t < 8; ++t) { v[t] = d * (float)q[t]; }
}
// tq1_0: qs[48], qh[4], d; digit i of a byte is ((byte * 3^i) mod 256) * 3 >> 8, less one. Value
// 32i + l is digit i of qs[l]; 160 + 16i + l of qs[32 + l]; 240 + 4i + l of qh[l].
__device__ __forceinline__ void qm_decode_tq1_0(const unsigned char* b, int p, float* v) {
    float d = qm_half(b + 52);
    for (int t = 0; t < 8; ++t) {
        int e = 8 * p + t, byte, digit;
        if (e < 160) { byte = b[e & 31]; digit = e >> 5; }
        else if (e < 240) { byte = b[32 + ((e - 160) & 15)]; digit = (e - 160) >> 4; }
        else { byte = b[48 + ((e - 240) & 3)]; digit = (e - 240) >> 2; }
        int power = digit == 0 ? 1 : digit == 1 ? 3 : digit == 2 ? 9 : digit == 3 ? 27 : 81;
        v[t] = d * (float)(((((byte * power) & 255) * 3) >> 8) - 1);
    }
}
// tq2_0: qs[64], d; value 128h + 32s + l is bits 2s..2s+1 of qs[32h + l], less one.
__device__ __forceinline__ void qm_decode_tq2_0(const unsigned char* b, int p, float* v) {
    int e = 8 * p, h = e >> 7, s = (e >> 5) & 3, l = e & 31;
    float d = qm_half(b + 64);
    const unsigned char* q = b + 32 * h + l;
    for (int t = 0; t < 8; ++t) { v[t] = d * (float)(((q[t] >> (2 * s)) & 3) - 1); }
}
"""

# The two entry points per format; $F format, $B values per block, $S bytes per block.
_ENTRIES = Template(r"""
extern "C" __global__ void quant_matvec_$F(const unsigned char* __restrict__ w, const float* __restrict__ x,
                                           float* __restrict__ out, int m, int k, int n) {
    int row = blockIdx.x * blockDim.y + threadIdx.y;
    int lane = threadIdx.x;
    int i = blockIdx.y;
    if (row >= m || i >= n) { return; }
    const unsigned char* bytes = w + (long long)row * (k / $B) * $S;
    const float* xi = x + (long long)i * k;
    float acc = 0.0f, v[8];
    for (int part = lane; part < k / 8; part += 32) {
        qm_decode_$F(bytes + (long long)(part / ($B / 8)) * $S, part % ($B / 8), v);
        const float* xp = xi + 8 * part;
        for (int t = 0; t < 8; ++t) { acc = fmaf(v[t], xp[t], acc); }
    }
    acc = warp_sum(acc);
    if (lane == 0) { out[(long long)i * m + row] = acc; }
}

extern "C" __global__ void quant_matmul_$F(const unsigned char* __restrict__ w, const float* __restrict__ x,
                                           float* __restrict__ out, int m, int k, int n) {
    int row = blockIdx.x * blockDim.y + threadIdx.y;
    int lane = threadIdx.x;
    int first = blockIdx.y * QM_TILE;
    if (row >= m || first >= n) { return; }
    int count = min(QM_TILE, n - first);
    const unsigned char* bytes = w + (long long)row * (k / $B) * $S;
    float acc[QM_TILE], v[8];
    for (int i = 0; i < QM_TILE; ++i) { acc[i] = 0.0f; }
    for (int part = lane; part < k / 8; part += 32) {
        qm_decode_$F(bytes + (long long)(part / ($B / 8)) * $S, part % ($B / 8), v);
        for (int i = 0; i < QM_TILE; ++i) {
            if (i < count) {
                const float* xp = x + (long long)(first + i) * k + 8 * part;
                for (int t = 0; t < 8; ++t) { acc[i] = fmaf(v[t], xp[t], acc[i]); }
            }
        }
    }
    for (int i = 0; i < QM_TILE; ++i) {
        float total = warp_sum(acc[i]);
        if (lane == 0 && i < count) { out[(long long)(first + i) * m + row] = total; }
    }
}
""")

QUANT_MATMUL = KernelSource(
    family="quant_matmul",
    source=PRELUDE
    + f"\n#define QM_TILE {QM_TILE}\n"
    + _DECODERS
    + "".join(_ENTRIES.substitute(F=name, B=block, S=size) for name, (block, size) in QUANT_FORMATS.items()),
    kernels=tuple(f"quant_{kind}_{name}" for name in QUANT_FORMATS for kind in ("matvec", "matmul")),
)
