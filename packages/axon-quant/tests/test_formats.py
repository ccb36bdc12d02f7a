"""Block formats against gguf-py's ``gguf.quants``: our bytes equal its quantizer's for every format
it can quantize, and our values equal its dequantizer's for every format it can decode (incl. the
K-quants). Q8_K, which gguf-py cannot decode, is checked against NumPy float math written here.
The larger sweeps and the real GGUF blocks are in tests-integration/test_quant_formats_gguf.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from gguf import quants as gguf_quants
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from axon_quant import dequantize, quantize, quantize_tensor
from axon_quant.errors import QuantError
from axon_quant.formats import FORMATS, block_format
from axon_quant.ggml_types import GGML_TYPES

GGUF_QUANTIZES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "tq1_0", "tq2_0"]
GGUF_DEQUANTIZES = [*GGUF_QUANTIZES, "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"]
# byte offsets of the f16 scale fields of each block (sanitised to finite values in random blocks)
F16_FIELDS = {
    "q8_0": [0],
    "q4_0": [0],
    "q4_1": [0, 2],
    "q5_0": [0],
    "q5_1": [0, 2],
    "tq1_0": [52],
    "tq2_0": [64],
    "q2_k": [80, 82],
    "q3_k": [108],
    "q4_k": [0, 2],
    "q5_k": [0, 2],
    "q6_k": [208],
}


def gtype(name: str) -> GGMLQuantizationType:
    return GGMLQuantizationType[name.upper()]


def gguf_bytes(x: np.ndarray, name: str) -> np.ndarray:
    """gguf-py's encoding as uint8 with the last axis in bytes (it returns F32/F16 as float arrays)."""
    out = gguf_quants.quantize(x, gtype(name))
    return out if out.dtype == np.uint8 else np.ascontiguousarray(out).view(np.uint8)


def same_floats(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equal float32 arrays (NaN payloads and signed zeros included)."""
    return a.shape == b.shape and np.array_equal(
        np.asarray(a, np.float32).view(np.uint32), np.asarray(b, np.float32).view(np.uint32)
    )


def block_of(name: str) -> int:
    return GGML_TYPES[name].block_size if GGML_TYPES[name].block_size > 1 else 32


def distributions(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    n = int(np.prod(shape))
    cases = {
        "normal": rng.standard_normal(n),
        "normal_1e-3": rng.standard_normal(n) * 1e-3,
        "normal_1e3": rng.standard_normal(n) * 1e3,
        "laplace": rng.laplace(size=n),
        "uniform_pos": rng.uniform(0, 1, n),
        "uniform_neg": rng.uniform(-1, 0, n),
        "halves": rng.integers(-16, 17, n) / 2,  # exact .5 products: the rounding rule decides
        "sparse": np.where(rng.uniform(size=n) < 0.05, rng.standard_normal(n), 0.0),
    }
    return {k: v.astype(np.float32).reshape(shape) for k, v in cases.items()}


@pytest.mark.parametrize("name", GGUF_QUANTIZES)
def test_bytes_equal_gguf_on_distributions(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    for label, x in distributions(rng, (4, 2 * block_of(name) * 4)).items():
        ours = quantize(x, name)
        assert ours.dtype == np.uint8, label
        np.testing.assert_array_equal(ours, gguf_bytes(x, name), err_msg=f"{name} {label}")


@pytest.mark.parametrize("name", GGUF_QUANTIZES)
def test_bytes_equal_gguf_on_edge_blocks(name):
    rng = np.random.default_rng(7)
    block = block_of(name)
    rows = [np.zeros(block), rng.standard_normal(block), rng.standard_normal(block)]
    rows[1][block // 3] = 1e4  # one huge value: the scale follows it, the rest round to 0
    rows[2][:] = -(rows[2] ** 2)  # all negative: Q4_0/Q5_0 scales flip sign
    if name not in ("q4_1", "q5_1"):  # their max - min would overflow (refused, tested below)
        rows.append(np.where(rng.standard_normal(block) > 0, 3e38, -3e38) * rng.uniform(0.5, 1, block))
    else:
        rows.append(rng.uniform(1e38, 3e38, block))
    rows.append(rng.standard_normal(block) * 6.5e4)  # f16 scale overflow / values near f16 max
    x = np.stack(rows).astype(np.float32)
    np.testing.assert_array_equal(quantize(x, name), gguf_bytes(x, name))


def test_f16_rounding_near_max_and_non_finite_equal_gguf():
    x = np.array(
        [65504, 65519.996, 65520, -65520, 1e-8, -3e-8, 6e-8, np.inf, -np.inf, np.nan, 3e38, -0.0], dtype=np.float32
    )
    np.testing.assert_array_equal(quantize(x, "f16"), gguf_bytes(x, "f16"))
    np.testing.assert_array_equal(quantize(x, "bf16"), gguf_bytes(x, "bf16"))
    np.testing.assert_array_equal(quantize(x, "f32"), gguf_bytes(x, "f32"))


def test_float64_input_converts_like_gguf():
    x = np.random.default_rng(3).standard_normal((3, 64)) * 100
    for name in ("f16", "f32", "bf16", "q8_0", "q4_1"):
        np.testing.assert_array_equal(quantize(x, name), gguf_bytes(x, name), err_msg=name)


@pytest.mark.parametrize("name", GGUF_QUANTIZES)
def test_multidimensional_input(name):
    x = np.random.default_rng(5).standard_normal((2, 3, 256)).astype(np.float32)
    ours = quantize(x, name)
    assert ours.shape == (2, 3, 256 // GGML_TYPES[name].block_size * GGML_TYPES[name].type_size)
    np.testing.assert_array_equal(ours, gguf_bytes(x, name))
    back = dequantize(ours, name)
    assert back.shape == x.shape and same_floats(back, gguf_quants.dequantize(ours, gtype(name)))


def random_blocks(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n random blocks of ``name`` with every f16 scale field made finite (exponent 31 -> 30)."""
    raw = rng.integers(0, 256, (n, GGML_TYPES[name].type_size), dtype=np.uint8)
    for offset in F16_FIELDS.get(name, []):
        high = raw[:, offset + 1]
        high[(high & 0x7C) == 0x7C] &= 0xFB
    return raw


@pytest.mark.parametrize("name", GGUF_DEQUANTIZES)
def test_dequantize_equals_gguf_on_random_blocks(name):
    rng = np.random.default_rng(sum(map(ord, name)) + 1)
    raw = random_blocks(name, 96, rng).reshape(8, -1)
    ours = dequantize(raw, name)
    theirs = gguf_quants.dequantize(raw, gtype(name))
    if name in F16_FIELDS:
        assert np.isfinite(ours).all()
    assert same_floats(ours, theirs)


@pytest.mark.parametrize("name", GGUF_DEQUANTIZES)
def test_dequantize_equals_gguf_on_quantized_blocks(name):
    x = np.random.default_rng(11).standard_normal((4, 1024)).astype(np.float32)
    raw = quantize(x, name)
    assert same_floats(dequantize(raw, name), gguf_quants.dequantize(raw, gtype(name)))


def test_q8_k_dequantize_equals_numpy_formula():
    rng = np.random.default_rng(2)
    raw = random_blocks("q8_k", 16, rng)
    raw[:, 3] &= 0xBF  # keep the float32 d finite and moderate
    d = np.frombuffer(raw[:, :4].tobytes(), dtype="<f4").astype(np.float64)
    q = np.frombuffer(raw[:, 4:260].tobytes(), dtype=np.int8).reshape(16, 256).astype(np.float64)
    expected = (d[:, None] * q).astype(np.float32)  # a product of a float32 and an int8 is exact in float64
    assert same_floats(dequantize(raw, "q8_k"), expected)


def test_q8_k_quantize_matches_its_definition():
    x = np.random.default_rng(4).standard_normal((3, 256)).astype(np.float32)
    raw = quantize(x, "q8_k")
    d = raw[:, :4].copy().view("<f4")[:, 0]
    q = raw[:, 4:260].view(np.int8).astype(np.int64)
    bsums = raw[:, 260:].copy().view("<i2").astype(np.int64)
    peak = x[np.arange(3), np.argmax(np.abs(x), axis=1)]
    np.testing.assert_array_equal(d, np.float32(1) / (np.float32(-127) / peak))
    np.testing.assert_array_equal(q, np.rint(x * (np.float32(-127) / peak)[:, None]).clip(-128, 127))
    np.testing.assert_array_equal(bsums, q.reshape(3, 16, 16).sum(axis=2))


def test_format_table_rows():
    for name, form in FORMATS.items():
        assert form.ggml is GGML_TYPES[name] and block_format(name.upper()) is form
        assert GGML_QUANT_SIZES[gtype(name)] == (form.ggml.block_size, form.ggml.type_size)
    assert set(FORMATS) == {*GGUF_DEQUANTIZES, "q8_k"}
    assert block_format(GGMLQuantizationType.Q4_K) is FORMATS["q4_k"] and block_format(8) is FORMATS["q8_0"]


def test_fmt_spellings_agree():
    x = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32)
    ref = quantize(x, "q5_1")
    for fmt in ("Q5_1", GGMLQuantizationType.Q5_1, 7, GGML_TYPES["q5_1"]):
        np.testing.assert_array_equal(quantize(x, fmt), ref)


def test_quantize_tensor_and_its_dequantize():
    x = np.random.default_rng(9).standard_normal((6, 512)).astype(np.float32)
    t = quantize_tensor(x, "q4_k")
    assert t.shape == (6, 512) and t.ggml_type.name == "q4_k" and t.raw.shape == (6, 288)
    assert same_floats(t.dequantize(), gguf_quants.dequantize(t.raw, GGMLQuantizationType.Q4_K))


def test_dequantize_takes_gguf_reader_float_arrays():
    x = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    assert same_floats(dequantize(x, "f32"), x)
    assert same_floats(dequantize(x.astype(np.float16), "f16"), x.astype(np.float16).astype(np.float32))


# ---- bad input: typed errors naming the format and the shape ----


def test_ragged_final_row():
    with pytest.raises(QuantError, match=r"q8_0: ragged final row: tensor of shape \[2, 33\]"):
        quantize(np.zeros((2, 33), np.float32), "q8_0")
    with pytest.raises(QuantError, match=r"q4_k: ragged final row: tensor of shape \[640\]"):
        quantize(np.zeros(640, np.float32), "q4_k")


@pytest.mark.parametrize("name", [n for n in FORMATS if n not in ("f32", "f16", "bf16")])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_refused(name, bad):
    x = np.ones((2, 512), np.float32)
    x[1, 300] = bad
    with pytest.raises(QuantError, match=rf"{name}: tensor of shape \[2, 512\] has a non-finite value .* \[1, 300\]"):
        quantize(x, name)


def test_float64_overflow_to_inf_refused():
    with pytest.raises(QuantError, match="non-finite"):
        quantize(np.full((1, 32), 1e300), "q8_0")


@pytest.mark.parametrize("name", ["q4_1", "q5_1"])
def test_range_overflow_refused(name):
    x = np.zeros((3, 64), np.float32)
    x[2, 40], x[2, 41] = 3e38, -3e38
    with pytest.raises(QuantError, match=rf"{name}: tensor of shape \[3, 64\]: the block starting at index \[2, 32\]"):
        quantize(x, name)


def test_unknown_and_unsupported_formats():
    with pytest.raises(QuantError, match="unknown ggml type 'q9_9'"):
        quantize(np.zeros(32), "q9_9")
    with pytest.raises(QuantError, match="q8_1: axon-quant has no block format"):
        dequantize(np.zeros((1, 40), np.uint8), "q8_1")


def test_dequantize_rejects_wrong_dtype_and_length():
    with pytest.raises(QuantError, match=r"q4_0: dequantize takes uint8 bytes, got float32 of shape \[2, 18\]"):
        dequantize(np.zeros((2, 18), np.float32), "q4_0")
    with pytest.raises(QuantError, match=r"q8_0: rows of 35 bytes \(array of shape \[4, 35\]\)"):
        dequantize(np.zeros((4, 35), np.uint8), "q8_0")
    with pytest.raises(QuantError, match="0-d"):
        dequantize(np.uint8(3), "q8_0")


def test_quantize_rejects_non_numbers_and_scalars():
    with pytest.raises(QuantError, match=r"q8_0: cannot quantize an array of dtype <U1"):
        quantize(np.array(["a"] * 32), "q8_0")
    with pytest.raises(QuantError, match="0-d"):
        quantize(np.float32(1), "f32")
    np.testing.assert_array_equal(quantize(np.arange(32), "q8_0"), gguf_bytes(np.arange(32, dtype=np.float32), "q8_0"))
