"""axon-llm's core without transformers: the HF-folder loader's errors, the KV cache (a NumPy
float64 reference of causal / sliding-window attention with RoPE is the oracle) and configs."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import axon
from axon_autograd import no_grad
from axon_llm import KVCache, LlamaConfig, LlamaForCausalLM, ModelLoadError, from_pretrained
from axon_llm.blocks import AttentionInputs, RopeTable, SelfAttention
from axon_serialize import load_safetensors, save_safetensors

TINY = dict(
    vocab_size=64,
    hidden_size=16,
    intermediate_size=24,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)


@pytest.fixture
def folder(tmp_path):
    axon.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(**TINY)).save_pretrained(tmp_path / "m")
    return tmp_path / "m"


def test_round_trip_through_a_folder(folder):
    model = from_pretrained(folder)
    again = from_pretrained(folder)
    ids = axon.tensor(np.arange(10).reshape(2, 5))
    with no_grad():
        np.testing.assert_array_equal(model(ids).numpy(), again(ids).numpy())
    values = json.loads((folder / "config.json").read_text())
    assert values["model_type"] == "llama" and values["architectures"] == ["LlamaForCausalLM"]
    assert values["rope_parameters"] == {"rope_type": "default", "rope_theta": 10000.0}


def test_legacy_rope_fields_are_read():
    config = LlamaConfig.from_dict({**TINY, "rope_theta": 5e5, "rope_scaling": {"type": "linear", "factor": 2.0}})
    assert config.rope_parameters == {"rope_type": "linear", "factor": 2.0, "rope_theta": 5e5}


def test_missing_config(tmp_path):
    with pytest.raises(ModelLoadError, match="config.json is missing"):
        from_pretrained(tmp_path)


def test_pickled_checkpoints_are_refused(folder):
    os.remove(folder / "model.safetensors")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(ModelLoadError, match="pickled checkpoint.*safe_serialization=True"):
        from_pretrained(folder)


def test_unknown_model_type(folder):
    values = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**values, "model_type": "wavenet"}))
    with pytest.raises(ModelLoadError, match="model_type 'wavenet'"):
        from_pretrained(folder)


def rewrite(folder, change):
    state = {name: t.numpy() for name, t in load_safetensors(folder / "model.safetensors").items()}
    change(state)
    save_safetensors(state, folder / "model.safetensors", metadata={"format": "pt"})


def test_shape_mismatch_names_the_tensor_and_both_shapes(folder):
    rewrite(folder, lambda s: s.update({"model.layers.1.mlp.up_proj.weight": np.zeros((25, 16), np.float32)}))
    with pytest.raises(ModelLoadError, match=r"\(24, 16\), the file holds \(25, 16\).*model.layers.1.mlp.up_proj"):
        from_pretrained(folder)


def test_missing_and_unexpected_tensors(folder):
    rewrite(folder, lambda s: s.pop("model.norm.weight"))
    with pytest.raises(ModelLoadError, match="'model.norm.weight' of shape \\(16,\\)"):
        from_pretrained(folder)
    rewrite(folder, lambda s: s.update({"model.norm.weight": np.ones(16, np.float32), "extra.w": np.ones(2)}))
    with pytest.raises(ModelLoadError, match="not part of LlamaForCausalLM.*extra.w"):
        from_pretrained(folder)


def test_index_naming_a_missing_shard(folder):
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "model-2.safetensors"}}))
    with pytest.raises(ModelLoadError, match="shard 'model-2.safetensors' listed in the index is missing"):
        from_pretrained(folder)


def reference_attention(x, layer, positions, window):
    """NumPy float64: q/k/v projections, split-halves RoPE, causal (+window) softmax, output projection."""
    w = {n: p.detach().numpy().astype(np.float64) for n, p in layer.named_parameters()}
    batch, seq, _ = x.shape
    heads, kv_heads, dim = layer.num_heads, layer.num_kv_heads, layer.head_dim

    def split(y, h):
        return y.reshape(batch, seq, h, dim).transpose(0, 2, 1, 3)

    q, k, v = (
        split(x @ w["q_proj.weight"].T, heads),
        split(x @ w["k_proj.weight"].T, kv_heads),
        split(x @ w["v_proj.weight"].T, kv_heads),
    )
    inv_freq = 1.0 / 10000.0 ** (np.arange(0, dim, 2) / dim)
    angles = positions[:, None] * inv_freq
    cos, sin = np.cos(angles), np.sin(angles)

    def rope(t):
        a, b = t[..., : dim // 2], t[..., dim // 2 :]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)

    q, k = rope(q), rope(k)
    k, v = np.repeat(k, heads // kv_heads, axis=1), np.repeat(v, heads // kv_heads, axis=1)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dim)
    i, j = np.arange(seq)[:, None], np.arange(seq)[None, :]
    keep = (j <= i) & ((j > i - window) if window else True)
    scores = np.where(keep, scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    out = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, heads * dim)
    return out @ w["o_proj.weight"].T


@pytest.mark.parametrize("window", [None, 3])
@pytest.mark.parametrize("prompt", [1, 5])
def test_cache_decoding_equals_a_numpy_reference(window, prompt):
    axon.manual_seed(1)
    layer = SelfAttention(16, 4, 2, 8, layer_idx=0, sliding_window=window)
    x = np.random.default_rng(2).standard_normal((2, 9, 16))
    want = reference_attention(x, layer, np.arange(9), window)
    rope = RopeTable(8, {"rope_type": "default", "rope_theta": 10000.0})
    cache = KVCache(1, 2, 2, 8, max_len=9, windows=[window])
    pieces = []
    with no_grad():
        for start, stop in [(0, prompt)] + [(t, t + 1) for t in range(prompt, 9)]:
            inputs = AttentionInputs.build((2, stop - start), cache=cache, rope=rope)
            pieces.append(layer(axon.tensor(x[:, start:stop], dtype=axon.float32), inputs).numpy())
            cache.advance(stop - start)
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), want, atol=2e-5, rtol=0)
    if window:
        assert cache.layers[0].capacity == window


def test_a_decode_step_writes_the_same_bytes_at_any_length():
    model = LlamaForCausalLM(LlamaConfig(**TINY))
    cache = model.new_cache(1, 200)
    written = []
    with no_grad():
        model(axon.tensor(np.zeros((1, 4), dtype=np.int64)), cache=cache)
        for _ in range(150):
            before = cache.bytes_written
            model(axon.tensor(np.zeros((1, 1), dtype=np.int64)), cache=cache)
            written.append(cache.bytes_written - before)
    # 2 layers x (key + value) x 2 kv heads x 4 dims x 4 bytes, whatever the length so far
    assert set(written) == {2 * 2 * 2 * 4 * 4}


def test_cache_overflow_and_reorder():
    cache = KVCache(1, 3, 1, 2, max_len=2)
    keys = axon.tensor(np.arange(18, dtype=np.float32).reshape(3, 1, 3, 2))
    with pytest.raises(Exception, match="3 positions do not fit the cache's 2"):
        cache.layers[0].update(keys, keys, 0)
    cache.layers[0].update(keys[:, :, :2], keys[:, :, :2], 0)
    cache.reorder([2, 2, 0])
    np.testing.assert_array_equal(cache.layers[0].key.numpy(), keys.numpy()[[2, 2, 0], :, :2])


def test_rope_keywords_of_transformers_4_are_accepted_by_the_constructor():
    config = LlamaConfig(**TINY, rope_theta=5e5, rope_scaling={"rope_type": "linear", "factor": 2.0})
    assert config.rope_parameters == {"rope_type": "linear", "factor": 2.0, "rope_theta": 5e5}
    assert "rope_theta" not in config.to_dict() and config.to_dict()["rope_parameters"]["rope_theta"] == 5e5
