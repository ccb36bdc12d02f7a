"""F32, F16 and BF16: one value per "block", stored little-endian.

F16 rounds to nearest even (inf beyond the f16 range, NaN stays NaN: NumPy's conversion, which is
gguf-py's and the F16C instruction's); BF16 is ggml's ``ggml_compute_fp32_to_bf16``: round to nearest
even on the upper 16 bits, any NaN made quiet. These formats take inf and NaN.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "dequantize_bf16",
    "dequantize_f16",
    "dequantize_f32",
    "quantize_bf16",
    "quantize_f16",
    "quantize_f32",
]


def quantize_f32(blocks: np.ndarray) -> np.ndarray:
    """float ``[n, 1]`` -> uint8 ``[n, 4]``."""
    return np.ascontiguousarray(blocks, dtype="<f4").view(np.uint8)


def dequantize_f32(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 4]`` -> float32 ``[n, 1]``."""
    return np.ascontiguousarray(raw).view("<f4").astype(np.float32)


def quantize_f16(blocks: np.ndarray) -> np.ndarray:
    """float ``[n, 1]`` (converted straight to f16, float64 included, as gguf-py does) -> uint8 ``[n, 2]``."""
    return np.ascontiguousarray(blocks, dtype="<f2").view(np.uint8)


def dequantize_f16(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 2]`` -> float32 ``[n, 1]`` (exact)."""
    return np.ascontiguousarray(raw).view("<f2").astype(np.float32)


def quantize_bf16(blocks: np.ndarray) -> np.ndarray:
    """float ``[n, 1]`` (through float32) -> uint8 ``[n, 2]``."""
    bits = np.ascontiguousarray(blocks, dtype="<f4").view(np.uint32)
    is_nan = (bits & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    rounded = (bits + (np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1)))) >> 16
    upper = np.where(is_nan, (bits >> 16) | np.uint32(64), rounded)
    return upper.astype("<u2").view(np.uint8)


def dequantize_bf16(raw: np.ndarray) -> np.ndarray:
    """uint8 ``[n, 2]`` -> float32 ``[n, 1]`` (exact)."""
    return (np.ascontiguousarray(raw).view("<u2").astype(np.uint32) << 16).view(np.float32)
