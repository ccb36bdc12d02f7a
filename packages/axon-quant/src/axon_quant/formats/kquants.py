"""K-quants: super-blocks of 256 values split into 16- or 32-value sub-blocks, each with its own
6- or 8-bit scale (and, for Q2_K/Q4_K/Q5_K, minimum) relative to f16 super-block scales.

Layouts (bytes, in order), after ggml-common.h:

- Q2_K (84): ``scales`` uint8[16] (low nibble scale, high nibble min, per 16 values), ``qs`` uint8[64]
  (2 bits), ``d`` f16, ``dmin`` f16. ``x = d * sc * q - dmin * m``.
- Q3_K (110): ``hmask`` uint8[32] (third bit), ``qs`` uint8[64] (low 2 bits), ``scales`` 12 bytes (16
  6-bit scales, offset 32), ``d`` f16. ``x = d * (sc - 32) * (q - 4)``, with 4 subtracted only where
  the hmask bit is clear.
- Q4_K (144): ``d``, ``dmin`` f16, ``scales`` 12 bytes (8 6-bit scales and 8 6-bit mins), ``qs``
  uint8[128] (4 bits). ``x = d * sc * q - dmin * m`` per 32 values.
- Q5_K (176): as Q4_K plus ``qh`` uint8[32] (fifth bit) before ``qs``.
- Q6_K (210): ``ql`` uint8[128] (low 4 bits), ``qh`` uint8[64] (high 2 bits), ``scales`` int8[16],
  ``d`` f16. ``x = d * sc * (q - 32)`` per 16 values.
- Q8_K (292): ``d`` f32, ``qs`` int8[256], ``bsums`` int16[16] (sums of 16 quants). ``x = d * q``.

Value ``e`` of a super-block sits in "chunks" of 128 (Q2_K, Q3_K, Q6_K) or 64 (Q4_K, Q5_K) values
whose bytes are shared by several 32-value rows at different bit shifts; the unpackers below follow
``dequantize_row_*`` in ggml-quants.c.
"""

from __future__ import annotations

import numpy as np

from ._common import F32, f16_bytes, f16_values, nearest_int
from ._kfit import (
    make_q3_quants,
    make_qkx2_quants,
    make_qx_quants,
    ordered_sum,
    scan_max,
)

__all__ = [
    "dequantize_q2_k",
    "dequantize_q3_k",
    "dequantize_q4_k",
    "dequantize_q5_k",
    "dequantize_q6_k",
    "dequantize_q8_k",
    "quantize_q2_k",
    "quantize_q3_k",
    "quantize_q4_k",
    "quantize_q5_k",
    "quantize_q6_k",
    "quantize_q8_k",
]

_SHIFT2 = np.array([0, 2, 4, 6], dtype=np.uint8)[:, None]  # four 2-bit fields of a byte


def _crumbs(qs: np.ndarray) -> np.ndarray:
    """2-bit fields: ``[n, 64]`` bytes -> ``[n, 256]``; value ``128 c + 32 j + i`` is bits ``2j`` of
    byte ``32 c + i``."""
    n = qs.shape[0]
    return ((qs.reshape(n, 2, 1, 32) >> _SHIFT2) & 3).reshape(n, 256)


def _bit_rows(bits: np.ndarray) -> np.ndarray:
    """``[n, 32]`` bytes -> ``[n, 256]`` 0/1: value ``32 b + i`` is bit ``b`` of byte ``i`` (Q3_K's
    hmask, Q5_K's qh)."""
    n = bits.shape[0]
    return ((bits.reshape(n, 1, 32) >> np.arange(8, dtype=np.uint8)[:, None]) & 1).reshape(n, 256)


def unpack_k4_scales(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_K/Q5_K ``scales`` uint8 ``[n, 12]`` -> (scale, min) uint8 ``[n, 8]`` each (``get_scale_min_k4``)."""
    low, mid, top = scales[:, 0:4], scales[:, 4:8], scales[:, 8:12]
    sc = np.concatenate([low & 63, (top & 0x0F) | ((low >> 6) << 4)], axis=1)
    mn = np.concatenate([mid & 63, (top >> 4) | ((mid >> 6) << 4)], axis=1)
    return sc, mn


def unpack_q3_scales(scales: np.ndarray) -> np.ndarray:
    """Q3_K ``scales`` uint8 ``[n, 12]`` -> the 16 6-bit scales minus 32, int8 ``[n, 16]``."""
    low = np.concatenate([scales[:, :8] & 0x0F, scales[:, :8] >> 4], axis=1)
    high = (scales[:, 8:12][:, None, :] >> _SHIFT2) & 3  # [n, 4 (j // 4), 4 (j % 4)]
    return (low | (high.reshape(-1, 16) << 4)).astype(np.int8) - np.int8(32)


def dequantize_q2_k(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 84]`` -> float32 ``[n, 256]``."""
    n = raw.shape[0]
    scales = raw[:, :16]
    d, dmin = f16_values(raw[:, 80:82]), f16_values(raw[:, 82:84])
    dl = (d * (scales & 0x0F))[:, :, None]
    ml = (dmin * (scales >> 4))[:, :, None]
    q = _crumbs(raw[:, 16:80]).reshape(n, 16, 16).astype(F32)
    return (dl * q - ml).reshape(n, 256)


def dequantize_q3_k(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 110]`` -> float32 ``[n, 256]``."""
    n = raw.shape[0]
    q = _crumbs(raw[:, 32:96]).astype(np.int8) - ((_bit_rows(raw[:, :32]) ^ 1) << 2).astype(np.int8)
    dl = (f16_values(raw[:, 108:110]) * unpack_q3_scales(raw[:, 96:108]))[:, :, None]
    return (dl * q.reshape(n, 16, 16).astype(F32)).reshape(n, 256)


def _k4_values(raw: np.ndarray, q: np.ndarray) -> np.ndarray:
    n = raw.shape[0]
    sc, mn = unpack_k4_scales(raw[:, 4:16])
    d1 = (f16_values(raw[:, 0:2]) * sc)[:, :, None]
    m1 = (f16_values(raw[:, 2:4]) * mn)[:, :, None]
    return (d1 * q.reshape(n, 8, 32).astype(F32) - m1).reshape(n, 256)


def _nibble_rows(qs: np.ndarray) -> np.ndarray:
    """``[n, 128]`` bytes -> ``[n, 256]``: value ``64 c + i`` is the low nibble of byte ``32 c + i``,
    value ``64 c + 32 + i`` its high nibble."""
    n = qs.shape[0]
    qs = qs.reshape(n, 4, 1, 32)
    return np.concatenate([qs & 0x0F, qs >> 4], axis=2).reshape(n, 256)


def dequantize_q4_k(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 144]`` -> float32 ``[n, 256]``."""
    return _k4_values(raw, _nibble_rows(raw[:, 16:144]))


def dequantize_q5_k(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 176]`` -> float32 ``[n, 256]``."""
    return _k4_values(raw, _nibble_rows(raw[:, 48:176]) | (_bit_rows(raw[:, 16:48]) << 4))


def dequantize_q6_k(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 210]`` -> float32 ``[n, 256]``."""
    n = raw.shape[0]
    ql = raw[:, :128].reshape(n, 2, 1, 2, 32)  # [n, chunk, nibble, half, i]
    low = np.concatenate([ql & 0x0F, ql >> 4], axis=2).reshape(n, 2, 4, 32)  # value 128 c + 32 k + i
    high = (raw[:, 128:192].reshape(n, 2, 1, 32) >> _SHIFT2) & 3
    q = ((low | (high << 4)).astype(np.int8) - np.int8(32)).reshape(n, 16, 16)
    d = (f16_values(raw[:, 208:210]) * raw[:, 192:208].view(np.int8))[:, :, None]
    return (d * q.astype(F32)).reshape(n, 256)


def dequantize_q8_k(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 292]`` -> float32 ``[n, 256]``."""
    d = np.ascontiguousarray(raw[:, :4]).view("<f4").astype(F32)
    return d * raw[:, 4:260].view(np.int8).astype(F32)


# ---- quantizers: ggml's quantize_row_*_ref (no importance matrix) ----


def _columns(blocks: np.ndarray, k: int) -> np.ndarray:
    """float32 ``[n, 256]`` -> ``[k, n * 256 // k]``: sub-block ``j`` of block ``b`` is column ``b * 256 // k + j``."""
    return np.ascontiguousarray(np.asarray(blocks, dtype=F32).reshape(-1, k).T)


def _crumb_bytes(levels: np.ndarray) -> np.ndarray:
    """Levels 0..3 ``[n, 256]`` -> ``[n, 64]`` bytes (the inverse of :func:`_crumbs`)."""
    n = levels.shape[0]
    shifted = levels.reshape(n, 2, 4, 32).astype(np.uint8) << _SHIFT2
    return (shifted[:, :, 0] | shifted[:, :, 1] | shifted[:, :, 2] | shifted[:, :, 3]).reshape(n, 64)


def _bit_planes(bits: np.ndarray) -> np.ndarray:
    """0/1 ``[n, 256]`` -> ``[n, 32]`` bytes: bit ``b`` of byte ``i`` is value ``32 b + i``."""
    n = bits.shape[0]
    return np.packbits(bits.reshape(n, 8, 32).transpose(0, 2, 1).astype(np.uint8), axis=2, bitorder="little")[:, :, 0]


def _requantize(
    blocks: np.ndarray, levels: np.ndarray, d: np.ndarray, dm: np.ndarray | None, lo: int, hi: int, k: int
) -> np.ndarray:
    """ggml's second pass: with the stored (f16-rounded, 6-bit) sub-block scales ``d`` ``[n, 256 // k]``
    (and mins ``dm``), levels become ``nearest_int((x + dm) / d)`` clamped to ``lo..hi`` and shifted by
    ``-lo`` (to be unsigned), except in sub-blocks whose ``d`` is 0, which keep the search's ``levels``."""
    n = blocks.shape[0]
    x = blocks.reshape(n, -1, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        target = (x + dm[:, :, None]) / d[:, :, None] if dm is not None else x / d[:, :, None]
        fresh = np.clip(nearest_int(target), lo, hi) - lo
    return np.where((d != 0)[:, :, None], fresh, levels.reshape(n, -1, k)).reshape(n, 256)


def _k4_pack_scales(ls: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """6-bit scales and mins ``[n, 8]`` -> the 12 Q4_K/Q5_K scale bytes (inverse of :func:`unpack_k4_scales`)."""
    return np.concatenate(
        [
            ls[:, :4] | ((ls[:, 4:] >> 4) << 6),
            lm[:, :4] | ((lm[:, 4:] >> 4) << 6),
            (ls[:, 4:] & 0x0F) | ((lm[:, 4:] & 0x0F) << 4),
        ],
        axis=1,
    ).astype(np.uint8)


def _k4_search(blocks: np.ndarray, nmax: int, rmin: float, nstep: int):
    """Q4_K/Q5_K: per 32 values weights ``sqrt(mean(x^2)) + |x|`` and a ``make_qkx2_quants`` fit, then
    the 6-bit scale/min codes and f16 super-scales. Returns (d, dmin) f16 bytes ``[n, 2]`` each, the
    12 scale bytes and the final levels ``[n, 256]``."""
    n = blocks.shape[0]
    x = _columns(blocks, 32)
    av_x = np.sqrt(ordered_sum(x * x) / F32(32))
    scales, mins, levels = make_qkx2_quants(x, av_x + np.abs(x), nmax, rmin, 0.1, nstep, use_mad=False)
    scales, mins = scales.reshape(n, 8), mins.reshape(n, 8)
    levels = levels.T.reshape(n, 256)
    (max_scale,) = scan_max(scales.T)
    (max_min,) = scan_max(mins.T)
    with np.errstate(divide="ignore"):
        inv_scale = np.where(max_scale > 0, F32(63) / max_scale, F32(0))
        inv_min = np.where(max_min > 0, F32(63) / max_min, F32(0))
    ls = np.minimum(63, nearest_int(inv_scale[:, None] * scales) & 0xFF)  # uint8_t, then MIN(63, .)
    lm = np.minimum(63, nearest_int(inv_min[:, None] * mins) & 0xFF)
    packed = _k4_pack_scales(ls, lm)
    d, dmin = f16_bytes(max_scale / F32(63)), f16_bytes(max_min / F32(63))
    sc, mn = unpack_k4_scales(packed)
    levels = _requantize(blocks, levels, f16_values(d) * sc, f16_values(dmin) * mn, 0, nmax, 32)
    return d, dmin, packed, levels


def quantize_q4_k(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 256]`` -> uint8 ``[n, 144]`` (``quantize_row_q4_K_ref``)."""
    d, dmin, packed, levels = _k4_search(blocks, 15, -1.0, 20)
    n = levels.shape[0]
    q = levels.reshape(n, 4, 2, 32).astype(np.uint8)
    return np.concatenate([d, dmin, packed, (q[:, :, 0] | (q[:, :, 1] << 4)).reshape(n, 128)], axis=1)


def quantize_q5_k(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 256]`` -> uint8 ``[n, 176]`` (``quantize_row_q5_K_ref``)."""
    d, dmin, packed, levels = _k4_search(blocks, 31, -0.5, 15)
    n = levels.shape[0]
    q = (levels & 0x0F).reshape(n, 4, 2, 32).astype(np.uint8)
    qs = (q[:, :, 0] | (q[:, :, 1] << 4)).reshape(n, 128)
    return np.concatenate([d, dmin, packed, _bit_planes(levels >> 4), qs], axis=1)


def quantize_q6_k(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 256]`` -> uint8 ``[n, 210]`` (``quantize_row_q6_K_ref``)."""
    blocks = np.asarray(blocks, dtype=F32)
    n = blocks.shape[0]
    scales, levels = make_qx_quants(_columns(blocks, 16), 32)
    scales, levels = scales.reshape(n, 16), levels.T.reshape(n, 256)
    max_abs, max_scale = scan_max(np.abs(scales.T), scales.T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        iscale = F32(-128) / max_scale
        d = f16_bytes(F32(1) / iscale)
        sc = np.minimum(127, nearest_int(iscale[:, None] * scales)).astype(np.int8)
    levels = _requantize(blocks, levels, f16_values(d) * sc, None, -32, 31, 16)
    q = levels.reshape(n, 2, 4, 32).astype(np.uint8)
    ql = np.concatenate(
        [(q[:, :, 0] & 0x0F) | ((q[:, :, 2] & 0x0F) << 4), (q[:, :, 1] & 0x0F) | ((q[:, :, 3] & 0x0F) << 4)], axis=2
    ).reshape(n, 128)
    qh = ((q >> 4) << _SHIFT2[None, None]).sum(axis=2, dtype=np.uint8).reshape(n, 64)
    out = np.concatenate([ql, qh, sc.view(np.uint8), d], axis=1)
    out[max_abs < F32(1e-15)] = 0  # ggml writes an all-zero block
    return out


def quantize_q3_k(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 256]`` -> uint8 ``[n, 110]`` (``quantize_row_q3_K_ref``)."""
    blocks = np.asarray(blocks, dtype=F32)
    n = blocks.shape[0]
    scales, levels = make_q3_quants(_columns(blocks, 16), 4)
    scales, levels = scales.reshape(n, 16), levels.T.reshape(n, 256)
    _, max_scale = scan_max(np.abs(scales.T), scales.T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        iscale = F32(-32) / max_scale
        # int8_t l = nearest_int(.); l = MAX(-32, MIN(31, l)) + 32
        codes = np.clip(nearest_int(iscale[:, None] * scales).astype(np.int8), -32, 31).astype(np.uint8) + 32
        d = f16_bytes(np.where(max_scale != 0, F32(1) / iscale, F32(0)))
    codes = np.where((max_scale != 0)[:, None], codes, 0).astype(np.uint8)  # `if (max_scale)`: NaN counts
    high = (codes >> 4).reshape(n, 4, 4) << _SHIFT2[None, :, 0, None]  # value 4 g + b -> byte 8 + b, bits 2g
    packed = np.concatenate(
        [(codes[:, :8] & 0x0F) | ((codes[:, 8:] & 0x0F) << 4), high.sum(axis=1, dtype=np.uint8)], axis=1
    )
    dl = f16_values(d) * unpack_q3_scales(packed)
    levels = _requantize(blocks, levels, dl, None, -4, 3, 16)
    upper = levels > 3
    return np.concatenate([_bit_planes(upper), _crumb_bytes(np.where(upper, levels - 4, levels)), packed, d], axis=1)


def quantize_q2_k(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 256]`` -> uint8 ``[n, 84]`` (``quantize_row_q2_K_ref``)."""
    blocks = np.asarray(blocks, dtype=F32)
    n = blocks.shape[0]
    x = _columns(blocks, 16)
    scales, mins, levels = make_qkx2_quants(x, np.abs(x), 3, -0.5, 0.1, 15, use_mad=True)
    scales, mins, levels = scales.reshape(n, 16), mins.reshape(n, 16), levels.T.reshape(n, 256)
    (max_scale,) = scan_max(scales.T)
    (max_min,) = scan_max(mins.T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sc = np.where((max_scale > 0)[:, None], nearest_int((F32(15) / max_scale)[:, None] * scales), 0)
        mn = np.where((max_min > 0)[:, None], nearest_int((F32(15) / max_min)[:, None] * mins), 0)
    codes = ((sc & 0xFF) | ((mn << 4) & 0xFF)).astype(np.uint8)
    d = f16_bytes(np.where(max_scale > 0, max_scale / F32(15), F32(0)))
    dmin = f16_bytes(np.where(max_min > 0, max_min / F32(15), F32(0)))
    levels = _requantize(blocks, levels, f16_values(d) * (codes & 0x0F), f16_values(dmin) * (codes >> 4), 0, 3, 16)
    return np.concatenate([codes, _crumb_bytes(levels), d, dmin], axis=1)


def quantize_q8_k(blocks: np.ndarray) -> np.ndarray:
    """float32 ``[n, 256]`` -> uint8 ``[n, 292]`` (``quantize_row_q8_K_ref``; an all-zero block gets
    zero ``bsums``, which the C code leaves unwritten)."""
    blocks = np.asarray(blocks, dtype=F32)
    n = blocks.shape[0]
    amax, peak = scan_max(np.abs(blocks.T), blocks.T)
    with np.errstate(divide="ignore", invalid="ignore"):
        iscale = F32(-127) / peak
        q = np.minimum(127, nearest_int(iscale[:, None] * blocks))
        d = np.where(amax != 0, F32(1) / iscale, F32(0)).astype("<f4")
    q = np.where((amax != 0)[:, None], q, 0).astype(np.int8)
    bsums = q.reshape(n, 16, 16).sum(axis=2, dtype=np.int16).astype("<i2")
    return np.concatenate([d[:, None].view(np.uint8), q.view(np.uint8), bsums.view(np.uint8)], axis=1)
