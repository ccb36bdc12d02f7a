"""ggml's own C reference (de)quantizers, called through ctypes in the libggml-base that ships with
llama-cpp-python: the ground truth the formats are bit-exact with (gguf-py mirrors most of them).

Test modules load this file by path (pytest's importlib mode puts no test directory on
``sys.path``).
"""

from __future__ import annotations

import ctypes
import importlib.util
from pathlib import Path

import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

_LIB = None


def _lib() -> ctypes.CDLL:
    global _LIB
    if _LIB is None:
        spec = importlib.util.find_spec("llama_cpp")
        if spec is None or spec.origin is None:
            import pytest

            pytest.skip("llama-cpp-python (ggml's C reference) is not installed")
        _LIB = ctypes.CDLL(str(Path(spec.origin).parent / "lib" / "libggml-base.so"))
    return _LIB


def _sizes(name: str) -> tuple[int, int]:
    return GGML_QUANT_SIZES[GGMLQuantizationType[name.upper()]]


def _call(symbol: str, src: np.ndarray, dst: np.ndarray, count: int) -> None:
    fn = getattr(_lib(), symbol)
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn(src.ctypes.data, dst.ctypes.data, count)


def quantize(x: np.ndarray, name: str) -> np.ndarray:
    """``quantize_row_<name>_ref`` over float32 ``x [*lead, n]`` -> uint8 ``[*lead, n // bs * ts]``
    (output buffer zeroed first: Q8_K leaves the bsums of an all-zero block unwritten)."""
    block, size = _sizes(name)
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.zeros((*x.shape[:-1], x.shape[-1] // block * size), dtype=np.uint8)
    symbol = {"bf16": "ggml_fp32_to_bf16_row_ref", "f16": "ggml_fp32_to_fp16_row"}.get(name)
    suffix = name if name[-2:] != "_k" else name[:-1] + "K"
    _call(symbol or f"quantize_row_{suffix}_ref", x, out, x.size)
    return out


def dequantize(raw: np.ndarray, name: str) -> np.ndarray:
    """``dequantize_row_<name>`` over uint8 ``raw [*lead, m]`` -> float32 ``[*lead, m // ts * bs]``."""
    block, size = _sizes(name)
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    out = np.zeros((*raw.shape[:-1], raw.shape[-1] // size * block), dtype=np.float32)
    symbol = {"bf16": "ggml_bf16_to_fp32_row", "f16": "ggml_fp16_to_fp32_row"}.get(name)
    suffix = name if name[-2:] != "_k" else name[:-1] + "K"
    _call(symbol or f"dequantize_row_{suffix}", raw, out, out.size)
    return out
