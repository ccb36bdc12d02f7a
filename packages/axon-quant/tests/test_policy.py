"""quantize_model against llama.cpp's llama-quantize (``llama_model_quantize`` through llama-cpp-python)
on a tiny LLaMA GGUF written by gguf-py: the same ggml type for every tensor and the same bytes, for
tied and untied embeddings, llama-quantize's output/embedding/fallback rules and its options. The
report's errors are checked against gguf-py's dequantizer with float64 NumPy math.
"""

from __future__ import annotations

import ctypes
import re

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter
from gguf import quants as gguf_quants
from gguf.constants import GGMLQuantizationType

from axon_quant import QuantPolicy, quantize_model
from axon_quant.errors import QuantError

llama_cpp = pytest.importorskip("llama_cpp")

# ggml type -> llama_ftype whose llama-quantize recipe is that type throughout (no layer mixtures)
FTYPES = {
    "f16": 1,
    "bf16": 32,
    "q4_0": 2,
    "q4_1": 3,
    "q5_0": 8,
    "q5_1": 9,
    "q8_0": 7,
    "q3_k": 11,
    "q5_k": 16,
    "q6_k": 18,
    "tq1_0": 36,
    "tq2_0": 37,
}


def tiny_llama(tied: bool, d: int = 256, ff: int = 288, vocab: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    """A one-layer LLaMA's tensors (GGUF names, NumPy order); ff = 288 is whole 32- but not 256-value blocks."""
    rng = np.random.default_rng(seed)
    shapes = {
        "token_embd.weight": (vocab, d),
        "blk.0.attn_norm.weight": (d,),
        "blk.0.attn_q.weight": (d, d),
        "blk.0.attn_k.weight": (d // 2, d),
        "blk.0.attn_v.weight": (d // 2, d),
        "blk.0.attn_output.weight": (d, d),
        "blk.0.ffn_norm.weight": (d,),
        "blk.0.ffn_gate.weight": (ff, d),
        "blk.0.ffn_up.weight": (ff, d),
        "blk.0.ffn_down.weight": (d, ff),
        "output_norm.weight": (d,),
    }
    if not tied:
        shapes["output.weight"] = (vocab, d)
    return {name: (rng.standard_normal(shape) * 0.05).astype(np.float32) for name, shape in shapes.items()}


def write_gguf(path, tensors: dict[str, np.ndarray]) -> None:
    w = GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(tensors["blk.0.attn_q.weight"].shape[1])
    w.add_block_count(1)
    w.add_feed_forward_length(tensors["blk.0.ffn_up.weight"].shape[0])
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(tensors["token_embd.weight"].shape[0])
    for name, array in tensors.items():
        w.add_tensor(name, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_quantize(tmp_path, tensors, ftype: int, **params) -> dict[str, tuple[str, np.ndarray]]:
    """llama-quantize's (type, raw bytes) per tensor."""
    src, dst = tmp_path / "f32.gguf", tmp_path / f"out{ftype}.gguf"
    write_gguf(src, tensors)
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype, p.nthread = ftype, 1
    for key, value in params.items():
        setattr(p, key, value)
    assert llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p)) == 0
    return {
        t.name: (t.tensor_type.name.lower(), np.ascontiguousarray(t.data).view(np.uint8))
        for t in GGUFReader(str(dst)).tensors
    }


def assert_same_as_llama(ours, theirs) -> None:
    assert set(ours) == set(theirs)
    for name, qt in ours.items():
        kind, raw = theirs[name]
        assert qt.ggml_type.name == kind, f"{name}: ours {qt.ggml_type.name}, llama-quantize {kind}"
        np.testing.assert_array_equal(qt.raw, raw.reshape(qt.raw.shape), err_msg=name)


@pytest.mark.parametrize(
    ("fmt", "tied"), [("q8_0", False), ("q4_0", True), ("q6_k", False), ("tq2_0", False), ("f16", True), ("q3_k", True)]
)
def test_types_and_bytes_equal_llama_quantize(tmp_path, fmt, tied):
    tensors = tiny_llama(tied)
    ours, report = quantize_model(tensors, fmt)
    assert_same_as_llama(ours, llama_quantize(tmp_path, tensors, FTYPES[fmt]))
    assert [t.name for t in report.tensors] == list(tensors)


def test_llama_quantize_options(tmp_path):
    tensors = tiny_llama(tied=False)
    policy = QuantPolicy(output_type="q4_1", token_embedding_type="q8_0")
    ours, _ = quantize_model(tensors, "q5_0", policy)
    assert_same_as_llama(
        ours, llama_quantize(tmp_path, tensors, FTYPES["q5_0"], output_tensor_type=3, token_embedding_type=8)
    )
    ours, _ = quantize_model(tensors, "q4_1", QuantPolicy(output_type=None))
    assert_same_as_llama(ours, llama_quantize(tmp_path, tensors, FTYPES["q4_1"], quantize_output_tensor=False))


def test_report_types_reasons_and_errors():
    tensors = tiny_llama(tied=False)
    quantized, report = quantize_model(tensors, "q4_k")
    by_name = {t.name: t for t in report.tensors}
    assert by_name["blk.0.attn_norm.weight"].ggml_type == "f32"
    assert by_name["blk.0.attn_norm.weight"].reason == "kept: 1-D tensor"
    assert by_name["output.weight"].ggml_type == "q6_k"
    down = by_name["blk.0.ffn_down.weight"]
    assert down.ggml_type == "q5_0" and down.fallback and "rows of 288 values" in down.reason
    assert report.fallbacks == (down,)
    assert report.counts() == {"q4_k": 7, "f32": 3, "q6_k": 1, "q5_0": 1}
    for name, x in tensors.items():
        row, qt = by_name[name], quantized[name]
        decoded = gguf_quants.dequantize(qt.raw, GGMLQuantizationType[row.ggml_type.upper()]).astype(np.float64)
        diff = decoded.reshape(x.shape) - x.astype(np.float64)
        assert row.rms_error == pytest.approx(np.sqrt(np.mean(diff**2)), rel=1e-12, abs=0)
        assert row.max_abs_error == np.max(np.abs(diff))
        assert row.nbytes == qt.raw.nbytes and row.source_nbytes == x.nbytes and qt.shape == x.shape
    assert 0 < by_name["blk.0.attn_q.weight"].relative_rms_error < 0.2
    assert report.to_dict()["nbytes"] == sum(q.raw.nbytes for q in quantized.values())


def test_rows_no_block_fits_fall_back_to_a_float_type():
    x = np.random.default_rng(1).standard_normal((4, 40)).astype(np.float32)
    cases = (("q8_0", None, "f16"), ("q6_k", None, "f16"), ("q4_0", QuantPolicy(fallback="bf16"), "bf16"))
    for fmt, policy, kind in cases:
        out, report = quantize_model({"blk.0.attn_q.weight": x}, fmt, policy)
        assert out["blk.0.attn_q.weight"].ggml_type.name == kind and report.fallbacks[0].ggml_type == kind
        expected = gguf_quants.quantize(x, GGMLQuantizationType[kind.upper()])
        np.testing.assert_array_equal(out["blk.0.attn_q.weight"].raw, np.ascontiguousarray(expected).view(np.uint8))


def test_hugging_face_names_and_kept_tensors():
    rng = np.random.default_rng(2)
    tensors = {
        "model.embed_tokens.weight": rng.standard_normal((8, 256)).astype(np.float32),
        "model.layers.0.input_layernorm.weight": rng.standard_normal(256).astype(np.float16),
        "model.layers.0.self_attn.q_proj.weight": rng.standard_normal((64, 256)).astype(np.float32),
        "model.layers.0.self_attn.q_proj.bias": rng.standard_normal(256).astype(np.float32),
        "model.layers.0.mlp.gate_inp.weight": rng.standard_normal((4, 256)).astype(np.float32),
        "blk.0.ffn_gate_inp.weight": rng.standard_normal((4, 256)).astype(np.float32),
        "lm_head.weight": rng.standard_normal((8, 256)).astype(np.float32),
    }
    out, report = quantize_model(tensors, "q4_0")
    types = {t.name: (t.ggml_type, t.reason) for t in report.tensors}
    assert types["model.embed_tokens.weight"] == ("q4_0", "token embedding")
    assert types["model.layers.0.input_layernorm.weight"] == ("f16", "kept: 1-D tensor")
    assert types["model.layers.0.self_attn.q_proj.bias"][0] == "f32"
    assert types["blk.0.ffn_gate_inp.weight"] == ("f32", "kept: MoE expert router")
    assert types["lm_head.weight"] == ("q6_k", "output head (llama-quantize: q6_k)")
    np.testing.assert_array_equal(
        out["model.layers.0.input_layernorm.weight"].raw,
        tensors["model.layers.0.input_layernorm.weight"].view(np.uint8),
    )


def test_overrides_and_progress():
    tensors = tiny_llama(tied=True)
    seen = []
    policy = QuantPolicy(overrides=((r"attn_v", "q8_0"), (r"ffn_(up|gate)", "q5_1")))
    out, _ = quantize_model(tensors, "q4_0", policy, progress=lambda name, i, n: seen.append((name, i, n)))
    assert out["blk.0.attn_v.weight"].ggml_type.name == "q8_0"
    assert out["blk.0.ffn_up.weight"].ggml_type.name == "q5_1" and out["blk.0.attn_q.weight"].ggml_type.name == "q4_0"
    assert seen == [(name, i, len(tensors)) for i, name in enumerate(tensors)]


def test_bad_input_names_the_tensor():
    x = np.ones((2, 64), np.float32)
    x[1, 5] = np.nan
    with pytest.raises(QuantError, match=re.escape("tensor 'blk.0.attn_q.weight': q8_0: tensor of shape [2, 64]")):
        quantize_model({"blk.0.attn_q.weight": x}, "q8_0")
    with pytest.raises(QuantError, match="tensor 'ids': quantize_model takes float tensors, got int32"):
        quantize_model({"ids": np.zeros((2, 32), np.int32)}, "q8_0")
    with pytest.raises(QuantError, match="policy fallback must be a float type"):
        QuantPolicy(fallback="q8_0")
    with pytest.raises(QuantError, match="is not a regular expression"):
        QuantPolicy(overrides=(("(", "q8_0"),))
    with pytest.raises(QuantError, match="unknown ggml type 'q7_0'"):
        QuantPolicy(output_type="q7_0")
