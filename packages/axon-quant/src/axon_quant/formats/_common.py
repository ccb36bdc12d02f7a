"""Float and bit helpers shared by the block formats, each reproducing one C idiom of ggml-quants.c.

All arrays are NumPy; ``[n, k]`` means n blocks of k values. ggml computes in float32 with no fused
multiply-add, so every helper keeps float32 and the C evaluation order.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


def inverse_or_zero(d: np.ndarray) -> np.ndarray:
    """``d ? 1.0f/d : 0.0f`` in float32 (``d`` float32, any shape); a subnormal ``d`` gives inf as in C."""
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(d == 0, F32(0), F32(1) / np.where(d == 0, F32(1), d)).astype(F32, copy=False)


def _finite_or_zero(v: np.ndarray) -> np.ndarray:
    # A C float-to-int conversion of inf/NaN is undefined; x86 (cvttss2si) gives INT_MIN, whose low
    # byte, the only one ggml stores, is that of 0. It happens only when a block's scale is so small
    # that 1/d overflows (every value then quantizes to the same code), and we reproduce it.
    if np.isfinite(v).all():
        return v
    return np.where(np.isfinite(v), v, F32(0))


def c_trunc(v: np.ndarray) -> np.ndarray:
    """C ``(int)v`` / ``(int8_t)v`` of float32 ``v``: truncation toward zero, as int32."""
    return _finite_or_zero(v).astype(np.int32)


def round_half_away(v: np.ndarray) -> np.ndarray:
    """C ``roundf`` / ``lroundf`` of float32 ``v``: nearest integer, halves away from zero, as int32."""
    v = _finite_or_zero(v)
    magnitude = np.abs(v)
    whole = np.floor(magnitude)
    frac = np.subtract(magnitude, whole, out=magnitude)  # exact: the fractional part of a float32 is a float32
    whole += frac >= F32(0.5)
    return np.copysign(whole, v, out=whole).astype(np.int32)


def nearest_int(v: np.ndarray) -> np.ndarray:
    """ggml's ``nearest_int``, bit for bit: ``v + 12582912.f`` reinterpreted as int32, low 23 bits
    minus 0x400000. That is round half to even for |v| <= 4194303 (the range its ``assert`` names);
    outside it (or for inf/NaN, which the K-quant searches can reach on degenerate blocks) it gives
    the same wrapped integer as the C code, which the callers then clamp."""
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = np.asarray(v, dtype=F32) + F32(12582912.0)
    return (shifted.view(np.int32) & np.int32(0x007FFFFF)) - np.int32(0x00400000)


def argmax_abs_signed(blocks: np.ndarray) -> np.ndarray:
    """The value with the largest magnitude in each row (first one on ties), as ggml's
    ``if (amax < fabsf(v)) { amax = fabsf(v); max = v; }`` loop: +0.0 for an all-zero row.

    ``blocks`` float32 ``[n, k]`` -> float32 ``[n]``."""
    index = np.argmax(np.abs(blocks), axis=1)
    picked = np.take_along_axis(blocks, index[:, None], axis=1)[:, 0]
    return np.where(picked == 0, F32(0), picked)


def first_min(blocks: np.ndarray) -> np.ndarray:
    """Row minimum as ``if (v < min) min = v`` keeps it: the first of equal minima (so -0.0 vs 0.0
    follows the data order). ``[n, k]`` -> ``[n]``."""
    return np.take_along_axis(blocks, np.argmin(blocks, axis=1)[:, None], axis=1)[:, 0]


def first_max(blocks: np.ndarray) -> np.ndarray:
    """Row maximum as ``if (v > max) max = v`` keeps it (first of equal maxima). ``[n, k]`` -> ``[n]``."""
    return np.take_along_axis(blocks, np.argmax(blocks, axis=1)[:, None], axis=1)[:, 0]


def f16_bytes(values: np.ndarray) -> np.ndarray:
    """float32 ``[n]`` -> uint8 ``[n, 2]``: ``GGML_FP32_TO_FP16`` (round to nearest even, inf on overflow)."""
    return values.astype(np.float16).view(np.uint8).reshape(-1, 2)


def f16_values(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 2]`` -> float32 ``[n, 1]``: ``GGML_FP16_TO_FP32`` (exact)."""
    return np.ascontiguousarray(raw).view(np.float16).astype(F32)


def pack_nibbles(q: np.ndarray) -> np.ndarray:
    """uint8 quants ``[n, 2h]`` (values < 16) -> ``[n, h]`` bytes, ``q[j] | q[j + h] << 4``."""
    half = q.shape[1] // 2
    return (q[:, :half] | (q[:, half:] << 4)).astype(np.uint8)


def unpack_nibbles(qs: np.ndarray) -> np.ndarray:
    """``[n, h]`` bytes -> ``[n, 2h]`` uint8: low nibbles are values ``0..h-1``, high nibbles ``h..2h-1``."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1)


def high_bits(q: np.ndarray, bit: int) -> np.ndarray:
    """Bit ``bit`` of each of 32 quants ``[n, 32]`` packed as a little-endian uint32 -> uint8 ``[n, 4]``."""
    return np.packbits((q >> bit) & 1, axis=1, bitorder="little")


def unpack_high_bits(qh: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 4]`` (a little-endian uint32) -> its 32 bits ``[n, 32]`` as uint8 0/1."""
    return np.unpackbits(qh, axis=1, bitorder="little")


def range_overflows(blocks: np.ndarray) -> np.ndarray:
    """bool ``[n]``: blocks whose ``max - min`` overflows float32. The Q4_1/Q5_1 scale is then inf and
    ggml converts NaN to an integer (undefined in C), so such blocks are refused rather than quantized."""
    with np.errstate(over="ignore"):
        return ~np.isfinite(np.max(blocks, axis=1) - np.min(blocks, axis=1))
