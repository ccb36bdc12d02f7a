"""The runtime's forward pass on tiny random-weight GGUF models written by gguf-py's GGUFWriter.

Oracles: a float64 NumPy forward written here from the published llama / qwen2 graphs (full
sequence, causal mask as a matrix, weights read back with gguf-py's GGUFReader and
``gguf.quants.dequantize``), and llama.cpp (llama-cpp-python) on the same file. With f32 weights
and an f32 KV cache llama.cpp runs the same float32 math, so it must agree to float32 rounding;
with quantized weights llama.cpp also rounds every activation row to 8 bits before its dot
products (``vec_dot_type`` q8_0/q8_1), which the tolerance there allows for.
"""

from __future__ import annotations

import math
from pathlib import Path

import gguf
import numpy as np
import pytest
from gguf.quants import dequantize, quantize

from axon_quant.errors import GGUFError, QuantError
from axon_quant.gguf import GGUFFile
from axon_quant.runtime import Model, ModelConfig, load_model

D_MODEL, N_HEADS, N_KV, HEAD_DIM, D_FF, N_LAYERS, VOCAB = 64, 4, 2, 16, 128, 2, 384
GEMMA_WINDOW = 4
Q = gguf.GGMLQuantizationType


def _vocab() -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"\u2581w{i}" for i in range(VOCAB - len(tokens))]
    types = [2, 3, 3] + [6] * 256 + [1] * (VOCAB - 259)
    return tokens, [-float(i) for i in range(VOCAB)], types


def write_model(
    path: Path,
    *,
    arch: str = "llama",
    fmt: Q = Q.F32,
    seed: int = 0,
    tied: bool = True,
    rope_base: float = 10000.0,
    n_layers: int | None = None,
) -> Path:
    """A random llama-family model: GQA (4 heads, 2 KV heads), ``fmt`` for every matrix (f32 for
    norms and biases), tied or separate output head. gemma3 gets 6 layers (5 sliding-window
    layers of window 4, then a global one), Q/K norms and post-norms."""
    rng = np.random.default_rng(seed)
    n_layers = n_layers or (6 if arch == "gemma3" else N_LAYERS)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(n_layers)
    w.add_context_length(256)
    w.add_embedding_length(D_MODEL)
    w.add_feed_forward_length(D_FF)
    w.add_head_count(N_HEADS)
    w.add_head_count_kv(N_KV)
    w.add_rope_freq_base(rope_base)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_layer_norm_rms_eps(1e-5)
    if arch == "gemma3":
        w.add_sliding_window(GEMMA_WINDOW)
        w.add_key_length(HEAD_DIM)
        w.add_value_length(HEAD_DIM)
    tokens, scores, types = _vocab()
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def matrix(name: str, rows: int, cols: int) -> None:
        data = (rng.standard_normal((rows, cols)) / math.sqrt(cols)).astype(np.float32)
        if fmt in (Q.F32, Q.F16):
            w.add_tensor(name, data.astype(np.float16 if fmt == Q.F16 else np.float32))
        else:
            w.add_tensor(name, quantize(data, fmt), raw_dtype=fmt)

    def vector(name: str, n: int, around: float = 1.0, spread: float = 0.2) -> None:
        w.add_tensor(name, (around + spread * rng.standard_normal(n)).astype(np.float32))

    matrix("token_embd.weight", VOCAB, D_MODEL)
    for i in range(n_layers):
        b = f"blk.{i}."
        vector(b + "attn_norm.weight", D_MODEL)
        matrix(b + "attn_q.weight", N_HEADS * HEAD_DIM, D_MODEL)
        matrix(b + "attn_k.weight", N_KV * HEAD_DIM, D_MODEL)
        matrix(b + "attn_v.weight", N_KV * HEAD_DIM, D_MODEL)
        if arch == "qwen2":
            vector(b + "attn_q.bias", N_HEADS * HEAD_DIM, 0.0, 0.5)
            vector(b + "attn_k.bias", N_KV * HEAD_DIM, 0.0, 0.5)
            vector(b + "attn_v.bias", N_KV * HEAD_DIM, 0.0, 0.5)
        if arch == "gemma3":
            vector(b + "attn_q_norm.weight", HEAD_DIM)
            vector(b + "attn_k_norm.weight", HEAD_DIM)
            vector(b + "post_attention_norm.weight", D_MODEL)
            vector(b + "post_ffw_norm.weight", D_MODEL)
        matrix(b + "attn_output.weight", D_MODEL, N_HEADS * HEAD_DIM)
        vector(b + "ffn_norm.weight", D_MODEL)
        matrix(b + "ffn_gate.weight", D_FF, D_MODEL)
        matrix(b + "ffn_up.weight", D_FF, D_MODEL)
        matrix(b + "ffn_down.weight", D_MODEL, D_FF)
    vector("output_norm.weight", D_MODEL)
    if not tied:
        matrix("output.weight", VOCAB, D_MODEL)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def reference_logits(path: Path, tokens: list[int]) -> np.ndarray:
    """float64 logits [n, vocab] of ``tokens`` from position 0, read with gguf-py's reader.

    llama (llama.cpp's ``llm_build_llama``), qwen2 (Q/K/V biases, NEOX rope) and gemma3
    (``llm_build_gemma3_iswa``: embeddings times sqrt(d), RMSNorm per head on Q and K, post-norms,
    GELU-tanh, every 6th layer global and the others a sliding window with rope base 10000).
    """
    reader = gguf.GGUFReader(str(path))
    arch = reader.fields["general.architecture"].contents()
    meta = {k: f.contents() for k, f in reader.fields.items() if k.startswith(arch + ".")}
    W = {t.name: dequantize(t.data, t.tensor_type).astype(np.float64) for t in reader.tensors}
    eps, base = meta[f"{arch}.attention.layer_norm_rms_epsilon"], meta[f"{arch}.rope.freq_base"]
    heads, kv_heads = meta[f"{arch}.attention.head_count"], meta[f"{arch}.attention.head_count_kv"]
    d = W["token_embd.weight"].shape[1]
    hd = meta.get(f"{arch}.attention.key_length", d // heads)
    n, gemma = len(tokens), arch == "gemma3"
    window = meta.get(f"{arch}.attention.sliding_window", 0) if gemma else 0

    def rmsnorm(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * weight

    def rope(x: np.ndarray, theta_base: float) -> np.ndarray:  # x [n, heads, hd]
        pos = np.arange(n)[:, None] * theta_base ** (-np.arange(0, hd, 2) / hd)[None]  # [n, hd/2]
        cos, sin = np.cos(pos)[:, None], np.sin(pos)[:, None]
        if arch in ("qwen2", "gemma3"):  # NEOX: (x[i], x[i + hd/2])
            a, b = x[..., : hd // 2], x[..., hd // 2 :]
            return np.concatenate([a * cos - b * sin, a * sin + b * cos], -1)
        a, b = x[..., 0::2], x[..., 1::2]  # llama.cpp's "normal" rope: adjacent pairs
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
        return out

    x = W["token_embd.weight"][tokens] * (math.sqrt(d) if gemma else 1.0)
    rows, cols = np.arange(n)[:, None], np.arange(n)[None, :]
    for i in range(meta[f"{arch}.block_count"]):
        b = f"blk.{i}."
        local = gemma and window > 0 and (i + 1) % 6 != 0
        mask = np.where((cols > rows) | (local & (rows - cols >= window)), -np.inf, 0.0)
        h = rmsnorm(x, W[b + "attn_norm.weight"])
        q, k, v = (h @ W[b + f"attn_{p}.weight"].T + W.get(b + f"attn_{p}.bias", 0.0) for p in "qkv")
        q, k, v = q.reshape(n, heads, hd), k.reshape(n, kv_heads, hd), v.reshape(n, kv_heads, hd)
        if gemma:
            q, k = rmsnorm(q, W[b + "attn_q_norm.weight"]), rmsnorm(k, W[b + "attn_k_norm.weight"])
        theta_base = 10000.0 if local else base
        q, k = rope(q, theta_base), rope(k, theta_base)
        att = np.empty((n, heads, hd))
        for head in range(heads):
            g = head // (heads // kv_heads)
            s = q[:, head] @ k[:, g].T / math.sqrt(hd) + mask
            p = np.exp(s - s.max(-1, keepdims=True))
            att[:, head] = (p / p.sum(-1, keepdims=True)) @ v[:, g]
        o = att.reshape(n, heads * hd) @ W[b + "attn_output.weight"].T
        x = x + (rmsnorm(o, W[b + "post_attention_norm.weight"]) if gemma else o)
        h = rmsnorm(x, W[b + "ffn_norm.weight"])
        gate, up = h @ W[b + "ffn_gate.weight"].T, h @ W[b + "ffn_up.weight"].T
        if gemma:
            act = 0.5 * gate * (1 + np.tanh(math.sqrt(2 / math.pi) * (gate + 0.044715 * gate**3)))
        else:
            act = gate / (1 + np.exp(-gate))
        f = (act * up) @ W[b + "ffn_down.weight"].T
        x = x + (rmsnorm(f, W[b + "post_ffw_norm.weight"]) if gemma else f)
    head = W.get("output.weight", W["token_embd.weight"])
    return rmsnorm(x, W["output_norm.weight"]) @ head.T


PROMPT = [1, 17, 300, 42, 42, 259, 5, 383, 99, 123, 7, 250]

# format -> max |ours - float64 reference| / max |reference|: float32 rounding through two layers
# (the dequantized weights are exact in float32, so only the activations' rounding remains).
FORMATS = [Q.F32, Q.F16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1]


@pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])
@pytest.mark.parametrize("arch, tied", [("llama", True), ("llama", False), ("qwen2", True), ("gemma3", True)])
def test_logits_match_the_float64_reference(tmp_path: Path, fmt: Q, arch: str, tied: bool) -> None:
    path = write_model(tmp_path / "m.gguf", arch=arch, fmt=fmt, tied=tied, seed=FORMATS.index(fmt))
    model = load_model(str(path), max_ctx=64, logits_rows=len(PROMPT))
    ours = model.prefill(PROMPT, all_logits=True)
    ref = reference_logits(path, PROMPT)
    assert np.abs(ours - ref).max() <= 2e-5 * np.abs(ref).max(), np.abs(ours - ref).max()
    model.close()


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_decode_steps_and_chunked_prefill_equal_one_prefill(tmp_path: Path, arch: str) -> None:
    path = write_model(tmp_path / "m.gguf", arch=arch, fmt=Q.Q4_1, seed=3)
    whole = load_model(str(path), max_ctx=64, logits_rows=len(PROMPT))
    ref = whole.prefill(PROMPT, all_logits=True).copy()
    chunked = load_model(str(path), max_ctx=64, batch=5, logits_rows=len(PROMPT))
    np.testing.assert_allclose(chunked.prefill(PROMPT, all_logits=True), ref, rtol=0, atol=2e-5)
    stepped = load_model(str(path), max_ctx=64)
    rows = [stepped.decode(t).copy() for t in PROMPT]
    np.testing.assert_allclose(np.stack(rows), ref, rtol=0, atol=2e-5)
    # prompt then decode continues the same context
    split = load_model(str(path), max_ctx=64)
    split.prefill(PROMPT[:7])
    np.testing.assert_allclose(split.decode(PROMPT[7]), ref[7], rtol=0, atol=2e-5)
    assert split.position == 8


@pytest.fixture(scope="module")
def llama_cpp():
    return pytest.importorskip("llama_cpp")


def _llama_cpp_logits(llama_cpp, path: Path, tokens: list[int]) -> np.ndarray:
    # type_k/type_v 0 = GGML_TYPE_F32: an f32 KV cache (llama.cpp's default f16 would round K and V)
    llm = llama_cpp.Llama(str(path), logits_all=True, n_threads=2, n_ctx=64, type_k=0, type_v=0, verbose=False)
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)], dtype=np.float64)


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3"])
def test_f32_model_matches_llama_cpp_to_float32_rounding(tmp_path: Path, llama_cpp, arch: str) -> None:
    """For gemma3 llama.cpp's CPU GELU reads a float16 table (GGML_GELU_FP16: input and output
    rounded to half precision, 2^-11 relative), which moves its logits by ~6e-4 of their range; ours
    then differs from llama.cpp as the float64 forward does."""
    path = write_model(tmp_path / "m.gguf", arch=arch, fmt=Q.F32, seed=7, rope_base=500.0)
    ours = load_model(str(path), max_ctx=64, logits_rows=len(PROMPT)).prefill(PROMPT, all_logits=True)
    ref = _llama_cpp_logits(llama_cpp, path, PROMPT)
    tolerance = 2e-3 if arch == "gemma3" else 2e-5
    assert np.abs(ours - ref).max() <= tolerance * np.abs(ref).max(), np.abs(ours - ref).max()
    if arch == "gemma3":
        exact = reference_logits(path, PROMPT)
        np.testing.assert_allclose(np.abs(ours - ref), np.abs(exact - ref), rtol=0, atol=5e-5)


@pytest.mark.parametrize("fmt", [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1], ids=lambda f: f.name)
def test_quantized_model_matches_llama_cpp(tmp_path: Path, llama_cpp, fmt: Q) -> None:
    """llama.cpp rounds each activation row to 8 bits per 32 values before a quantized dot product
    (about 2^-8 relative per product); through two layers that moves its logits by ~2% of their
    range (measured 1.6-2.1%) from the exact float64 forward. Ours is within 1e-5 of the exact
    forward, so |ours - llama.cpp| must be that same deviation; where the argmax differs,
    llama.cpp's own margin between the two tokens is within that deviation."""
    path = write_model(tmp_path / "m.gguf", fmt=fmt, seed=11)
    ours = load_model(str(path), max_ctx=64, logits_rows=len(PROMPT)).prefill(PROMPT, all_logits=True)
    ref = _llama_cpp_logits(llama_cpp, path, PROMPT)
    exact = reference_logits(path, PROMPT)
    deviation = np.abs(ref - exact).max()
    assert deviation <= 0.04 * np.abs(ref).max()
    np.testing.assert_allclose(np.abs(ours - ref), np.abs(exact - ref), rtol=0, atol=5e-5)
    for row, (mine, theirs) in enumerate(zip(ours.argmax(-1), ref.argmax(-1))):
        assert mine == theirs or ref[row, theirs] - ref[row, mine] <= 2 * deviation, row


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    path = write_model(tmp_path / "m.gguf")
    with GGUFFile.open(path) as f:
        meta, tensors = dict(f.metadata), dict(f.tensors)
        with pytest.raises(GGUFError, match="general.architecture"):
            ModelConfig.from_gguf({**meta, "general.architecture": "mamba"}, tensors)
        with pytest.raises(GGUFError, match="llama.block_count"):
            ModelConfig.from_gguf({k: v for k, v in meta.items() if k != "llama.block_count"}, tensors)
        with pytest.raises(GGUFError, match="positive integer"):
            ModelConfig.from_gguf({**meta, "llama.embedding_length": -64}, tensors)
        with pytest.raises(GGUFError, match="multiple of 3 KV heads"):
            ModelConfig.from_gguf({**meta, "llama.attention.head_count_kv": 3}, tensors)
        with pytest.raises(GGUFError, match="blk.1.ffn_up.weight"):
            ModelConfig.from_gguf(meta, {k: v for k, v in tensors.items() if k != "blk.1.ffn_up.weight"})
        with pytest.raises(GGUFError, match=r"'token_embd.weight' has shape \[384, 64\].*\[384, 96\]"):
            ModelConfig.from_gguf({**meta, "llama.embedding_length": 96}, tensors)
        with pytest.raises(GGUFError, match=r"'blk.0.ffn_gate.weight' has shape \[128, 64\].*\[256, 64\]"):
            ModelConfig.from_gguf({**meta, "llama.feed_forward_length": 256}, tensors)
        with pytest.raises(GGUFError, match="soft-capping"):
            ModelConfig.from_gguf({**meta, "llama.attn_logit_softcapping": 50.0}, tensors)
        with pytest.raises(GGUFError, match="rope scaling 'yarn'"):
            ModelConfig.from_gguf(
                {**meta, "llama.rope.scaling.type": "yarn", "llama.rope.scaling.factor": 4.0}, tensors
            )


def test_bad_requests_are_refused(tmp_path: Path) -> None:
    path = write_model(tmp_path / "m.gguf")
    model = load_model(str(path), max_ctx=16, logits_rows=4)
    with pytest.raises(QuantError, match="outside the vocabulary"):
        model.decode(VOCAB)
    with pytest.raises(QuantError, match="outside the vocabulary"):
        model.prefill([1, -1])
    with pytest.raises(QuantError, match="logits_rows"):
        model.prefill(list(range(1, 8)), all_logits=True)
    with pytest.raises(QuantError, match="non-empty"):
        model.prefill([])
    model.prefill(list(range(1, 16)))
    model.decode(5)
    with pytest.raises(QuantError, match="context is full"):
        model.decode(5)
    with pytest.raises(QuantError, match="max_ctx"):
        Model(model.config, model.gguf.tensors, max_ctx=257)


@pytest.mark.parametrize("n, start, window", [(1, 0, 0), (1, 700, 0), (1, 700, 64), (5, 300, 0), (7, 40, 16)])
def test_attention_kernels_match_numpy(n: int, start: int, window: int) -> None:
    """Both attention kernels (serial for decode, threaded for prompts and long contexts) against
    float64 NumPy softmax attention with GQA (4 query heads on 2 KV heads) and a sliding window."""
    from axon_quant.runtime import _ops

    rng = np.random.default_rng(n + start)
    heads, kv_heads, hd, ctx = 4, 2, 32, 1024
    q = rng.standard_normal((n, heads * hd)).astype(np.float32)
    k = rng.standard_normal((kv_heads, ctx, hd)).astype(np.float32)
    v = rng.standard_normal((kv_heads, ctx, hd)).astype(np.float32)
    expected = np.empty((n, heads, hd))
    for r in range(n):
        pos = start + r
        first = max(0, pos - window + 1) if window else 0
        for h in range(heads):
            g = h // (heads // kv_heads)
            s = k[g, first : pos + 1].astype(np.float64) @ q[r, h * hd : (h + 1) * hd] * 0.2
            p = np.exp(s - s.max())
            expected[r, h] = p / p.sum() @ v[g, first : pos + 1]
    for kernel in (_ops.attention, _ops.attention_parallel):
        out = np.full(n * heads * hd, np.nan, np.float32)
        scores = np.empty(n * heads * ctx, np.float32)
        kernel(
            q.reshape(-1),
            k.reshape(-1),
            v.reshape(-1),
            scores,
            out,
            start,
            n,
            heads,
            kv_heads,
            hd,
            ctx,
            np.float32(0.2),
            window,
        )
        np.testing.assert_allclose(out.reshape(n, heads, hd), expected, rtol=0, atol=2e-6)
