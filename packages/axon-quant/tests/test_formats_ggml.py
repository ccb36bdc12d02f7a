"""Block formats against ggml's own C reference (``quantize_row_*_ref`` / ``dequantize_row_*`` in the
libggml-base of llama-cpp-python, through ctypes): bytes and values equal for every format, the
K-quant quantizers included (gguf-py has none), and the cases where gguf-py's NumPy port parts from
the C code (the sign of a zero scale or minimum). A fast sample; tests-integration sweeps wider.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from axon_quant import dequantize, quantize
from axon_quant.formats import FORMATS
from axon_quant.ggml_types import GGML_TYPES

_spec = importlib.util.spec_from_file_location("_axon_quant_ggml_c", Path(__file__).with_name("_ggml_c.py"))
ggml_c = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ggml_c)

BLOCK_FORMATS = [n for n in FORMATS if n not in ("f32", "f16", "bf16")]
K_QUANTS = ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_k"]


def assert_blocks_equal(ours: np.ndarray, ref: np.ndarray, name: str, label: str) -> None:
    size = GGML_TYPES[name].type_size
    bad = np.nonzero((ours.reshape(-1, size) != ref.reshape(-1, size)).any(axis=1))[0]
    assert bad.size == 0, f"{name} {label}: {bad.size} of {ours.size // size} blocks differ, first {bad[:5]}"


def samples(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    cases = {
        "normal": rng.standard_normal(n),
        "normal_1e-4": rng.standard_normal(n) * 1e-4,
        "laplace_1e3": rng.laplace(size=n) * 1e3,
        "uniform_pos": rng.uniform(0, 1, n),
        "ints": rng.integers(-8, 9, n).astype(float),
        "halves": rng.integers(-16, 17, n) / 2,
        "sparse": np.where(rng.uniform(size=n) < 0.03, rng.standard_normal(n), 0.0),
        "constant": np.full(n, 0.37),
        "zeros": np.zeros(n),
        "tiny": rng.standard_normal(n) * 1e-38,  # 1/d overflows: ggml converts inf to int (x86: 0)
        "huge": rng.standard_normal(n) * 1e20,
    }
    return {k: v.astype(np.float32) for k, v in cases.items()}


@pytest.mark.parametrize("name", BLOCK_FORMATS)
def test_bytes_equal_ggml_reference(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    for label, x in samples(rng, 256 * 8).items():
        x = x.reshape(2, -1)
        assert_blocks_equal(quantize(x, name), ggml_c.quantize(x, name), name, label)


@pytest.mark.parametrize("name", [n for n in BLOCK_FORMATS if n not in ("q4_1", "q5_1")])
def test_extreme_finite_values_equal_ggml_reference(name):
    rng = np.random.default_rng(3)
    x = (np.where(rng.standard_normal(1024) > 0, 3e38, -3e38) * rng.uniform(0.5, 1, 1024)).astype(np.float32)
    assert_blocks_equal(quantize(x, name), ggml_c.quantize(x, name), name, "±3e38")


@pytest.mark.parametrize("name", ["q4_0", "q4_1", "q5_0", "q5_1"])
def test_sign_of_zero_scales_and_mins_follow_ggml(name):
    # gguf-py takes the first element of an all-zero block (-0.0 here) as its max and the NumPy
    # minimum of ±0; ggml keeps its +0.0 start value and the first minimum in data order.
    x = np.zeros((3, 32), np.float32)
    x[0, 0] = x[0, 9] = -0.0
    x[1] = np.abs(np.random.default_rng(0).standard_normal(32)) + 1
    x[1, 3], x[1, 7] = -0.0, 0.0
    x[2] = x[1]
    x[2, 3], x[2, 7] = 0.0, -0.0
    np.testing.assert_array_equal(quantize(x, name), ggml_c.quantize(x, name))


@pytest.mark.parametrize("name", K_QUANTS)
def test_k_quant_blocks_decode_like_ggml(name):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 1024)).astype(np.float32)
    raw = ggml_c.quantize(x, name)
    np.testing.assert_array_equal(dequantize(raw, name).view(np.uint32), ggml_c.dequantize(raw, name).view(np.uint32))


def test_float_formats_equal_ggml_reference():
    bits = np.array(
        [
            0x7FC00000,
            0xFFC00000,
            0x7F800000,
            0xFF800000,
            0x00000001,
            0x80000001,
            0x3F800000,
            0x477FE000,
            0x477FF000,
            0x38000000,
            0x33800001,
            0x3F808000,
            0x3F818000,
            0x7FA00000,
        ],
        np.uint32,
    )
    rng = np.random.default_rng(1)
    x = np.concatenate([bits.view(np.float32), rng.standard_normal(1000).astype(np.float32) * 1e3])
    np.testing.assert_array_equal(quantize(x, "bf16"), ggml_c.quantize(x, "bf16"))
    # ggml's software f16 conversion makes every NaN 0x7E00; NumPy (gguf-py's) keeps a payload
    plain = x[~np.isnan(x) | ((x.view(np.uint32) & 0x7FFFFFFF) == 0x7FC00000)]
    np.testing.assert_array_equal(quantize(plain, "f16"), ggml_c.quantize(plain, "f16"))
    h = rng.integers(0, 1 << 16, 4096, dtype=np.uint16)
    h = h[(h & 0x7C00) != 0x7C00].view(np.uint8)
    np.testing.assert_array_equal(dequantize(h, "f16"), ggml_c.dequantize(h, "f16"))
