"""MultiHeadAttention, DifferentialAttention, Transformer layers and Seq2SeqTransformer without PyTorch.

NumPy references for attention weights and positional encodings; float64 finite differences
for DifferentialAttention; incremental decoding with a KV cache against the full forward pass.
(PyTorch oracles with copied weights live in tests-integration/test_nn_attention_torch.py.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import axon_nn as nn
from axon_autograd import Variable, no_grad
from axon_core import DTypeError, ShapeError
from axon_nn.layers.differential_attention import lambda_init_for_layer
from axon_tensor import manual_seed, tensor

rng = np.random.default_rng(7)


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def weights_of(module: nn.Module) -> dict[str, np.ndarray]:
    return {name: p.detach().numpy() for name, p in module.named_parameters()}


def test_mha_matches_numpy_reference_with_weights():
    manual_seed(0)
    mha = nn.MultiHeadAttention(8, 2, batch_first=True).to("float64")
    p = weights_of(mha)
    q, kv = randn(2, 3, 8), randn(2, 5, 8)
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, 3:] = True
    out, weights = mha(tensor(q), tensor(kv), tensor(kv), key_padding_mask=tensor(padding), average_attn_weights=False)

    w_q, w_k, w_v = np.split(p["in_proj_weight"], 3)
    b_q, b_k, b_v = np.split(p["in_proj_bias"], 3)

    def heads(x):
        return x.reshape(x.shape[0], x.shape[1], 2, 4).transpose(0, 2, 1, 3)

    qh, kh, vh = heads(q @ w_q.T + b_q), heads(kv @ w_k.T + b_k), heads(kv @ w_v.T + b_v)
    scores = qh @ kh.transpose(0, 1, 3, 2) / 2.0 + np.where(padding, -np.inf, 0)[:, None, None, :]
    expected_w = np.exp(scores - scores.max(-1, keepdims=True))
    expected_w /= expected_w.sum(-1, keepdims=True)
    merged = (expected_w @ vh).transpose(0, 2, 1, 3).reshape(2, 3, 8)
    np.testing.assert_allclose(weights.detach().numpy(), expected_w, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        out.detach().numpy(), merged @ p["out_proj.weight"].T + p["out_proj.bias"], rtol=1e-12, atol=1e-12
    )
    assert np.all(weights.detach().numpy()[1, :, :, 3:] == 0)
    # averaged weights, and the flash path (no weights) gives the same output
    _, averaged = mha(tensor(q), tensor(kv), tensor(kv), key_padding_mask=tensor(padding))
    np.testing.assert_allclose(averaged.detach().numpy(), expected_w.mean(1), rtol=1e-12)
    flash_out, none = mha(tensor(q), tensor(kv), tensor(kv), need_weights=False)
    assert none is None
    full_out, _ = mha(tensor(q), tensor(kv), tensor(kv))
    np.testing.assert_allclose(flash_out.detach().numpy(), full_out.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_mha_causal_without_mask_equals_explicit_mask():
    mha = nn.MultiheadAttention(6, 3).to("float64")
    x = tensor(randn(5, 2, 6))
    mask = tensor(np.triu(np.ones((5, 5), dtype=bool), 1))
    explicit, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    for need_weights in (False, True):
        causal, _ = mha(x, x, x, is_causal=True, need_weights=need_weights)
        np.testing.assert_allclose(causal.detach().numpy(), explicit.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_mha_parameter_layout_and_errors():
    same = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert {n: tuple(p.shape) for n, p in same.named_parameters()} == {
        "in_proj_weight": (24, 8),
        "in_proj_bias": (24,),
        "out_proj.weight": (8, 8),
        "out_proj.bias": (8,),
        "bias_k": (1, 1, 8),
        "bias_v": (1, 1, 8),
    }
    separate = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert {n: tuple(p.shape) for n, p in separate.named_parameters()} == {
        "q_proj_weight": (8, 8),
        "k_proj_weight": (8, 3),
        "v_proj_weight": (8, 5),
        "out_proj.weight": (8, 8),
    }
    with pytest.raises(ValueError, match="multiple of num_heads"):
        nn.MultiheadAttention(10, 3)
    x = tensor(randn(4, 2, 8).astype(np.float32))  # float32 like the layer: linear refuses mixed dtypes
    with pytest.raises(ShapeError, match="feature sizes"):
        separate(x, x, x)
    with pytest.raises(ShapeError, match="key_padding_mask"):
        same(x, x, x, key_padding_mask=tensor(np.zeros((2, 3), dtype=bool)))
    with pytest.raises(ShapeError, match="attn_mask"):
        same(x, x, x, attn_mask=tensor(np.zeros((4, 3), dtype=bool)))
    with pytest.raises(ShapeError, match="3-d"):
        same(tensor(randn(8)), tensor(randn(8)), tensor(randn(8)))
    with pytest.raises(DTypeError):
        same(*(tensor(np.ones((4, 2, 8), dtype=np.int64)),) * 3)
    with pytest.raises(ValueError, match="KV cache"):
        same.step(x, x, x, nn.AttentionCache())


def test_mha_step_with_cache_equals_causal_forward():
    mha = nn.MultiheadAttention(8, 2, batch_first=True).to("float64").eval()
    x = randn(2, 7, 8)
    full, _ = mha(tensor(x), tensor(x), tensor(x), is_causal=True, need_weights=False)
    cache = nn.AttentionCache()
    chunks = [(0, 3), (3, 4), (4, 7)]  # a prefill of 3, one token, then 3 more at once
    parts = [
        mha.step(tensor(x[:, a:b]), tensor(x[:, a:b]), tensor(x[:, a:b]), cache).detach().numpy() for a, b in chunks
    ]
    assert len(cache) == 7
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_cross_attention_is_mha_with_context_dims():
    cross = nn.CrossAttention(8, 2, context_dim=5).to("float64")
    x, context = randn(2, 3, 8), randn(2, 6, 5)
    padding = np.zeros((2, 6), dtype=bool)
    padding[0, 4:] = True
    out = cross(tensor(x), tensor(context), tensor(padding))
    mha = nn.MultiheadAttention(8, 2, kdim=5, vdim=5, batch_first=True).to("float64")
    mha.load_state_dict({k[len("attn.") :]: v for k, v in cross.state_dict().items()})
    expected, _ = mha(tensor(x), tensor(context), tensor(context), key_padding_mask=tensor(padding))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-13)


# -- DifferentialAttention --------------------------------------------------------------------
def test_differential_lambda_init():
    assert lambda_init_for_layer(1) == pytest.approx(0.2)
    assert lambda_init_for_layer(4) == pytest.approx(0.8 - 0.6 * math.exp(-0.9))
    with pytest.raises(ValueError, match="1-based"):
        lambda_init_for_layer(0)


def _differential_reference(
    p: dict, x: np.ndarray, heads: int, kv_heads: int, lambda_init: float, norm: str
) -> np.ndarray:
    n, length, e = x.shape
    d = e // heads // 2
    q = (x @ p["q_proj.weight"].T).reshape(n, length, 2 * heads, d).transpose(0, 2, 1, 3)
    k = np.repeat((x @ p["k_proj.weight"].T).reshape(n, length, kv_heads, 2, d), heads // kv_heads, axis=2)
    k = k.reshape(n, length, 2 * heads, d).transpose(0, 2, 1, 3)
    v = np.repeat(
        (x @ p["v_proj.weight"].T).reshape(n, length, kv_heads, 2 * d).transpose(0, 2, 1, 3), heads // kv_heads, axis=1
    )
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d)
    maps = np.exp(scores - scores.max(-1, keepdims=True))
    maps = (maps / maps.sum(-1, keepdims=True)).reshape(n, heads, 2, length, length)
    lam = np.exp(p["lambda_q1"] @ p["lambda_k1"]) - np.exp(p["lambda_q2"] @ p["lambda_k2"]) + lambda_init
    out = (maps[:, :, 0] - lam * maps[:, :, 1]) @ v
    if norm == "rms":
        out = out / np.sqrt((out**2).mean(-1, keepdims=True) + 1e-5) * p["subln.weight"]
        out = out.transpose(0, 2, 1, 3).reshape(n, length, e)
    else:
        out = out.transpose(0, 2, 1, 3)
        centered = out - out.mean(-1, keepdims=True)
        out = (centered / np.sqrt((centered**2).mean(-1, keepdims=True) + 1e-5)).reshape(n, length, e)
        out = out * p["group_norm.weight"] + p["group_norm.bias"]
    return (out * (1 - lambda_init)) @ p["out_proj.weight"].T


@pytest.mark.parametrize("kv_heads, norm", [(2, "rms"), (1, "group")])
def test_differential_attention_matches_numpy_reference(kv_heads, norm):
    layer = nn.DifferentialAttention(16, 2, layer_idx=3, num_kv_heads=kv_heads, head_norm=norm).to("float64")
    x = randn(2, 5, 16)
    expected = _differential_reference(weights_of(layer), x, 2, kv_heads, lambda_init_for_layer(3), norm)
    np.testing.assert_allclose(layer(tensor(x)).detach().numpy(), expected, rtol=1e-11, atol=1e-12)


def test_differential_attention_gradcheck(gradcheck):
    layer = nn.DifferentialAttention(8, 1, layer_idx=2).to("float64").requires_grad_(False)
    gradcheck(lambda x: layer(x, is_causal=True), randn(1, 4, 8))
    with pytest.raises(ShapeError, match="DifferentialAttention"):
        layer(tensor(randn(1, 4, 6)))
    with pytest.raises(ValueError, match="multiple of 2"):
        nn.DifferentialAttention(10, 2)


# -- Transformer layers ---------------------------------------------------------------------
def test_square_subsequent_mask_and_layer_clones():
    mask = nn.Transformer.generate_square_subsequent_mask(4).numpy()
    np.testing.assert_array_equal(mask, np.where(np.triu(np.ones((4, 4)), 1) > 0, -np.inf, 0.0))
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    encoder = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    names = [n for n, _ in encoder.named_parameters()]
    assert "layers.2.self_attn.in_proj_weight" in names and "norm.weight" in names
    assert encoder.layers[0].linear1.weight is not encoder.layers[1].linear1.weight
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")


def test_encoder_layer_post_norm_matches_numpy():
    layer = nn.TransformerEncoderLayer(4, 1, dim_feedforward=6, dropout=0.0, batch_first=True).to("float64").eval()
    p = weights_of(layer)
    x = randn(2, 3, 4)
    w_q, w_k, w_v = np.split(p["self_attn.in_proj_weight"], 3)
    b_q, b_k, b_v = np.split(p["self_attn.in_proj_bias"], 3)
    scores = (x @ w_q.T + b_q) @ (x @ w_k.T + b_k).transpose(0, 2, 1) / 2.0
    attn = np.exp(scores - scores.max(-1, keepdims=True))
    attn /= attn.sum(-1, keepdims=True)
    sa = (attn @ (x @ w_v.T + b_v)) @ p["self_attn.out_proj.weight"].T + p["self_attn.out_proj.bias"]

    def norm(h, name):
        return (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5) * p[f"{name}.weight"] + p[
            f"{name}.bias"
        ]

    h = norm(x + sa, "norm1")
    ff = np.maximum(h @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T + p["linear2.bias"]
    np.testing.assert_allclose(layer(tensor(x)).detach().numpy(), norm(h + ff, "norm2"), rtol=1e-12, atol=1e-12)


# -- Seq2SeqTransformer -----------------------------------------------------------------------
def test_sinusoidal_positional_encoding_formula():
    pe = nn.SinusoidalPositionalEncoding(6, dropout=0.0)
    x = randn(2, 4, 6)
    table = np.array(
        [
            [math.sin(p / 10000 ** (i / 6)) if i % 2 == 0 else math.cos(p / 10000 ** ((i - 1) / 6)) for i in range(6)]
            for p in range(10)
        ]
    )
    np.testing.assert_allclose(pe(tensor(x)).numpy(), x + table[:4], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pe(tensor(x), offset=5).numpy(), x + table[5:9], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pe(tensor(x.astype(np.float32)), offset=5).numpy(), x + table[5:9], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="offset"):
        pe(tensor(x), offset=-1)
    with pytest.raises(ShapeError, match="6 features"):
        pe(tensor(randn(2, 4, 5)))
    assert pe.state_dict() == {}


@pytest.mark.parametrize("norm_first", [False, True])
def test_incremental_decoding_with_kv_cache_equals_full_forward(norm_first):
    model = nn.Seq2SeqTransformer(2, 2, 16, 4, 11, 13, dim_feedforward=32, norm_first=norm_first).to("float64").eval()
    src = tensor(rng.integers(0, 11, (3, 7)))
    tgt = rng.integers(0, 13, (3, 6))
    padding = np.zeros((3, 7), dtype=bool)
    padding[1, 5:] = True
    with no_grad():
        full = model(src, tensor(tgt), src_key_padding_mask=tensor(padding)).numpy()
        memory = model.encode(src, tensor(padding))
        cache = model.new_cache()
        steps = [model.decode_step(tensor(tgt[:, :2]), memory, cache, tensor(padding)).numpy()]
        steps += [
            model.decode_step(tensor(tgt[:, t : t + 1]), memory, cache, tensor(padding)).numpy() for t in range(2, 6)
        ]
    assert cache.seq_len == 6 and len(cache.self_attn[0]) == 6 and len(cache.cross_attn[1]) == 7
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-11, atol=1e-12)
    cached = model.greedy_decode(src, 9, bos_idx=1, eos_idx=2, src_key_padding_mask=tensor(padding)).numpy()
    uncached = model.greedy_decode(
        src, 9, bos_idx=1, eos_idx=2, src_key_padding_mask=tensor(padding), use_cache=False
    ).numpy()
    np.testing.assert_array_equal(cached, uncached)
    assert cached[:, 0].tolist() == [1, 1, 1]
    # each greedy token is the argmax of the full forward pass over its prefix
    with no_grad():
        logits = model(src, tensor(cached[:, :-1]), src_key_padding_mask=tensor(padding)).numpy()
    chosen = logits.argmax(-1)
    for row in range(3):
        stop = next((i for i, t in enumerate(cached[row, 1:]) if t == 2), cached.shape[1] - 1) + 1
        np.testing.assert_array_equal(cached[row, 1 : stop + 1], chosen[row, :stop])


def test_seq2seq_tied_embeddings_share_one_parameter():
    model = nn.Seq2SeqTransformer(1, 1, 8, 2, 10, 10, dim_feedforward=16, share_embeddings=True, tie_generator=True).to(
        "float64"
    )
    assert model.tgt_embedding is model.src_embedding and model.generator.weight is model.src_embedding.weight
    names = [n for n, _ in model.named_parameters()]
    assert (
        names.count("src_embedding.weight") == 1
        and "tgt_embedding.weight" not in names
        and "generator.weight" not in names
    )
    src, tgt = tensor(rng.integers(0, 10, (2, 5))), tensor(rng.integers(0, 10, (2, 4)))
    model(src, tgt).sum().backward()
    assert model.src_embedding.weight.grad is not None
    with pytest.raises(ValueError, match="share_embeddings"):
        nn.Seq2SeqTransformer(1, 1, 8, 2, 10, 12, share_embeddings=True)
    with pytest.raises(DTypeError, match="integers"):
        model(tensor(randn(2, 5)), tgt)
    with pytest.raises(ShapeError, match="token ids"):
        model.encode(tensor(rng.integers(0, 10, (5,))))


def test_transformer_checks_batch_and_features():
    model = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    with pytest.raises(ShapeError, match="batch"):
        model(tensor(randn(2, 5, 8).astype(np.float32)), tensor(randn(3, 4, 8).astype(np.float32)))
    with pytest.raises(ShapeError, match="d_model"):
        model(tensor(randn(2, 5, 6).astype(np.float32)), tensor(randn(2, 4, 6).astype(np.float32)))
    out = model(Variable(tensor(randn(2, 5, 8).astype(np.float32))), tensor(randn(2, 4, 8).astype(np.float32)))
    assert out.dtype.name == "float32"
