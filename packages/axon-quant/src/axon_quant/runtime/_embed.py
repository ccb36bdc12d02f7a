"""Token embedding lookup: rows of ``token_embd`` decoded straight into the arena (ggml's ``get_rows``).

``axon_quant.dequantize`` decodes whole tensors into a new array; a decode step needs one row
written into a buffer it already has, so these Numba loops decode single rows in place. Block
layouts are ggml's (``ggml-common.h``; ``d``/``m`` float16, little-endian):

- q8_0 (34 B): ``d``, 32 int8 ``q``; ``w = d * q``.
- q4_0 (18 B): ``d``, 16 B; byte ``j`` holds element ``j`` (low nibble) and ``j + 16`` (high);
  ``w = d * (q - 8)``.
- q4_1 (20 B): ``d``, ``m``, 16 B of nibbles as q4_0; ``w = d * q + m``.
- q5_0 (22 B): ``d``, uint32 ``qh`` (bit ``e``: fifth bit of element ``e``), 16 B of nibbles;
  ``w = d * (q - 16)``.
- q5_1 (24 B): ``d``, ``m``, ``qh``, nibbles; ``w = d * q + m``.
- f32, f16, bf16: one value per element.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import QuantError
from ..tensor import QuantTensor

__all__ = ["EMBED_FORMATS", "embed_rows"]

#: float32 value of every float16 bit pattern (Numba has no float16 type).
_F16 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


@njit(cache=True, inline="always")
def _half(raw, t, at, f16):
    return f16[np.uint32(raw[t, at]) | (np.uint32(raw[t, at + 1]) << 8)]


@njit(cache=True)
def _q8_0(raw, tokens, f16, out):
    for r in range(tokens.shape[0]):
        t = tokens[r]
        for b in range(out.shape[1] // 32):
            at = b * 34
            d = _half(raw, t, at, f16)
            for j in range(32):
                q = np.int32(raw[t, at + 2 + j])
                out[r, b * 32 + j] = d * np.float32(q - 256 if q >= 128 else q)


@njit(cache=True)
def _q4(raw, tokens, f16, out, size, has_min):
    for r in range(tokens.shape[0]):
        t = tokens[r]
        for b in range(out.shape[1] // 32):
            at = b * size
            d = _half(raw, t, at, f16)
            low = _half(raw, t, at + 2, f16) if has_min else np.float32(0.0)
            codes = at + (4 if has_min else 2)
            offset = 0 if has_min else 8
            for j in range(16):
                byte = np.int32(raw[t, codes + j])
                out[r, b * 32 + j] = d * np.float32((byte & 15) - offset) + low
                out[r, b * 32 + j + 16] = d * np.float32((byte >> 4) - offset) + low


@njit(cache=True)
def _q5(raw, tokens, f16, out, size, has_min):
    for r in range(tokens.shape[0]):
        t = tokens[r]
        for b in range(out.shape[1] // 32):
            at = b * size
            d = _half(raw, t, at, f16)
            low = _half(raw, t, at + 2, f16) if has_min else np.float32(0.0)
            h = at + (4 if has_min else 2)
            qh = (
                np.uint32(raw[t, h])
                | (np.uint32(raw[t, h + 1]) << 8)
                | (np.uint32(raw[t, h + 2]) << 16)
                | (np.uint32(raw[t, h + 3]) << 24)
            )
            codes = h + 4
            offset = 0 if has_min else 16
            for j in range(16):
                byte = np.int32(raw[t, codes + j])
                q0 = (byte & 15) | np.int32(((qh >> j) & 1) << 4)
                q1 = (byte >> 4) | np.int32(((qh >> (j + 16)) & 1) << 4)
                out[r, b * 32 + j] = d * np.float32(q0 - offset) + low
                out[r, b * 32 + j + 16] = d * np.float32(q1 - offset) + low


@njit(cache=True)
def _f32(raw, tokens, f16, out):
    values = raw.view(np.float32)
    for r in range(tokens.shape[0]):
        out[r, :] = values[tokens[r]]


@njit(cache=True)
def _f16(raw, tokens, f16, out):
    for r in range(tokens.shape[0]):
        t = tokens[r]
        for j in range(out.shape[1]):
            out[r, j] = _half(raw, t, 2 * j, f16)


@njit(cache=True)
def _bf16(raw, tokens, f16, out):
    bits = out.view(np.uint32)
    for r in range(tokens.shape[0]):
        t = tokens[r]
        for j in range(out.shape[1]):
            bits[r, j] = (np.uint32(raw[t, 2 * j]) << 16) | (np.uint32(raw[t, 2 * j + 1]) << 24)


def _q4_0(raw, tokens, f16, out):
    _q4(raw, tokens, f16, out, 18, False)


def _q4_1(raw, tokens, f16, out):
    _q4(raw, tokens, f16, out, 20, True)


def _q5_0(raw, tokens, f16, out):
    _q5(raw, tokens, f16, out, 22, False)


def _q5_1(raw, tokens, f16, out):
    _q5(raw, tokens, f16, out, 24, True)


_ROWS = {
    "q8_0": _q8_0,
    "q4_0": _q4_0,
    "q4_1": _q4_1,
    "q5_0": _q5_0,
    "q5_1": _q5_1,
    "f32": _f32,
    "f16": _f16,
    "bf16": _bf16,
}

#: formats a token embedding may be stored in.
EMBED_FORMATS: tuple[str, ...] = tuple(_ROWS)


def embed_rows(table: QuantTensor, tokens: np.ndarray, out: np.ndarray) -> None:
    """``out[r] = dequantize(table)[tokens[r]]``: ``table`` [vocab, d], ``tokens`` int32 [n] (ids
    already checked to be in range), ``out`` float32 [n, d]."""
    _ROWS[table.ggml_type.name](table.raw, tokens, _F16, out)


def check_embedding(table: QuantTensor) -> None:
    """QuantError unless ``table`` is 2-d in one of :data:`EMBED_FORMATS`."""
    if table.ggml_type.name not in _ROWS or len(table.shape) != 2:
        raise QuantError(
            f"token_embd.weight is {table.ggml_type.name} {list(table.shape)}; the runtime looks up "
            f"rows of 2-d {', '.join(EMBED_FORMATS)} tables"
        )
