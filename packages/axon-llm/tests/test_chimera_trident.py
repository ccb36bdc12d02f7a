"""Chimera and Trident: configs and presets, save_pretrained/from_pretrained, the cache layout, the
packed ternary inference layer against NumPy, and the typed errors. The numeric oracles (torch
blocks, gradcheck, gguf's TQ quantizers, BitNet in transformers) are in
tests-integration/test_llm_chimera_trident.py."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import axon
import axon_llm
import axon_tensor
from axon_autograd import Variable
from axon_llm import (
    ChimeraConfig,
    ChimeraForCausalLM,
    LLMError,
    TridentConfig,
    TridentForCausalLM,
    export_ternary,
)
from axon_llm.models import chimera, trident
from axon_llm.models.trident import TridentLinear


@pytest.fixture(autouse=True)
def one_blas_thread():
    # Tiny matrices: multi-threaded BLAS only spins on a loaded machine.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


TINY = [
    (ChimeraConfig, ChimeraForCausalLM, {}),
    (ChimeraConfig, ChimeraForCausalLM, {"tie_word_embeddings": True}),
    (TridentConfig, TridentForCausalLM, {}),
    (TridentConfig, TridentForCausalLM, {"tie_word_embeddings": True}),
]


@pytest.mark.parametrize("config_class, model_class, overrides", TINY)
def test_save_pretrained_round_trip(tmp_path, config_class, model_class, overrides):
    axon.manual_seed(0)
    model = model_class.from_preset("tiny", num_hidden_layers=1, **overrides)
    model.save_pretrained(tmp_path)
    with open(os.path.join(tmp_path, "config.json")) as handle:
        saved = json.load(handle)
    assert saved["model_type"] == config_class.model_type
    assert saved["architectures"] == [model_class.__name__]
    loaded = axon_llm.from_pretrained(tmp_path)
    assert type(loaded) is model_class
    assert {k: v for k, v in loaded.config.to_dict().items() if k != "dtype"} == model.config.to_dict()  # HF adds dtype
    assert loaded.num_parameters() == model.num_parameters()
    ids = axon_tensor.tensor(np.random.default_rng(0).integers(0, 256, (2, 6)))
    model.eval()
    np.testing.assert_array_equal(loaded(ids).detach().numpy(), model(ids).detach().numpy())
    if overrides.get("tie_word_embeddings"):
        assert loaded.lm_head.weight is loaded.model.embed_tokens.weight


def test_presets_are_the_documented_ones():
    assert set(chimera.PRESETS) == {"tiny", "small", "default_2b"}
    assert set(trident.PRESETS) == {"tiny", "default_150m", "medium", "1b", "3b", "smoke"}
    # Billion-parameter presets are built deferred: shapes and counts without storage.
    big = ChimeraForCausalLM.from_preset("default_2b")
    assert (big.config.num_local_experts, big.config.num_experts_per_tok) == (8, 2)
    assert big.num_parameters() == 2_044_177_408  # the hand count of the module docstring
    for name in trident.PRESETS:
        config = TridentForCausalLM.from_preset(name, deferred=True).config
        assert config.hidden_act == "relu2" and config.activation_bits == 8
        assert config.num_attention_heads % config.num_key_value_heads == 0
    with pytest.raises(LLMError, match="no preset 'huge'"):
        ChimeraForCausalLM.from_preset("huge")
    with pytest.raises(LLMError, match="presets:"):
        TridentForCausalLM.from_preset("2b")


def test_materialize_initialises_lambda_and_ternary_weights():
    # materialize() runs init_weights: λ ~ N(0, 0.1²) (not left empty), latent ternary weights ~ N(0, 0.02²).
    axon.manual_seed(2)
    model = ChimeraForCausalLM.from_preset("tiny", deferred=True).materialize()
    lambdas = np.concatenate([p.detach().numpy() for n, p in model.named_parameters() if "lambda_" in n])
    assert np.isfinite(lambdas).all() and 0.05 < lambdas.std() < 0.15
    model = TridentForCausalLM.from_preset("tiny", deferred=True).materialize()
    latent = model.model.layers[0].mlp.up_proj.weight.detach().numpy()
    assert 0.015 < latent.std() < 0.025


def test_parameter_counts_of_the_small_presets():
    # Hand counts: Chimera tiny = 2 embeddings (256 x 64) + final norm + 2 layers of
    # (q, out 64x64; k, v 32x64; lambda 4x16; subln 32; gate 4x64; 4 experts 3x128x64; 2 norms 64).
    layer = 2 * 64 * 64 + 2 * 32 * 64 + 4 * 16 + 32 + 4 * 64 + 4 * 3 * 128 * 64 + 2 * 64
    assert ChimeraForCausalLM.from_preset("tiny").num_parameters() == 2 * 256 * 64 + 64 + 2 * layer
    # Trident tiny: q, o 64x64; k, v 32x64; gate, up 128x64; down 64x128; norms 64, 64, 64 (sub), 128 (sub).
    layer = 2 * 64 * 64 + 2 * 32 * 64 + 3 * 128 * 64 + 3 * 64 + 128
    assert TridentForCausalLM.from_preset("tiny").num_parameters() == 2 * 256 * 64 + 64 + 2 * layer


def test_config_errors_are_typed():
    with pytest.raises(LLMError, match="multiple of 2 \\* num_attention_heads"):
        ChimeraConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(LLMError, match="num_key_value_heads"):
        ChimeraConfig(hidden_size=64, num_attention_heads=4, num_key_value_heads=3)
    with pytest.raises(LLMError, match="num_experts_per_tok"):
        ChimeraConfig(hidden_size=64, num_attention_heads=4, num_local_experts=2, num_experts_per_tok=3)
    with pytest.raises(LLMError, match="relu2"):
        TridentConfig(hidden_act="silu")
    with pytest.raises(LLMError, match="activation_bits"):
        TridentConfig(activation_bits=1)
    with pytest.raises(LLMError, match="model_type 'llama'"):
        TridentConfig.from_dict({"model_type": "llama"})


def test_trident_config_defaults_to_bitnet_rope_theta_and_keeps_a_given_one():
    assert TridentConfig().rope_parameters["rope_theta"] == 500000.0
    assert TridentConfig.from_dict({"rope_theta": 10000.0}).rope_parameters["rope_theta"] == 10000.0


def test_chimera_cache_holds_two_maps_per_key_head():
    model = ChimeraForCausalLM.from_preset("tiny")
    config = model.config
    cache = model.new_cache(3, 10)
    assert len(cache) == config.num_hidden_layers
    assert tuple(cache.layers[0].key.shape) == (3, 2 * config.num_key_value_heads, 10, config.head_dim)
    assert tuple(cache.layers[0].value.shape) == tuple(cache.layers[0].key.shape)


def test_load_balancing_loss_needs_a_forward_first():
    model = ChimeraForCausalLM.from_preset("tiny", num_hidden_layers=1)
    with pytest.raises(LLMError, match="no forward has run"):
        model.model.load_balancing_loss()


def test_uniform_router_gives_lb_loss_k():
    # A zero gate gives every expert probability 1/N; f then sums to k, so N · Σ f_i / N = k.
    model = ChimeraForCausalLM.from_preset("tiny", num_local_experts=4, num_experts_per_tok=2)
    for layer in model.model.layers:
        layer.moe.gate.weight.data.array[...] = 0
    _, lb_loss = model.forward_with_loss(axon_tensor.tensor(np.arange(12).reshape(2, 6)))
    assert float(lb_loss.detach().numpy()) == pytest.approx(2.0, abs=1e-6)


def test_packed_trident_linear_equals_numpy_reference():
    axon.manual_seed(1)
    layer = TridentLinear(40, 24, bias=True)
    x = np.random.default_rng(1).standard_normal((3, 5, 40)).astype(np.float32)
    codes, scale = layer.ternary_codes()
    assert set(np.unique(codes)) <= {-1, 0, 1} and scale == float(np.float16(scale))
    peak = np.maximum(np.abs(x).max(-1, keepdims=True), 1e-5)
    quantized = np.clip(np.round(x * (127 / peak)), -128, 127) / (127 / peak)
    expected = quantized @ (codes * np.float32(scale)).T + layer.bias.detach().numpy()
    trained = layer(Variable(axon_tensor.tensor(x))).detach().numpy()
    packed = layer.pack()(axon_tensor.tensor(x)).numpy()
    np.testing.assert_allclose(trained, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(packed, expected, rtol=1e-5, atol=1e-5)


def test_ternary_weight_gradient_is_straight_through():
    layer = TridentLinear(8, 4, activation_bits=None)
    x = Variable(axon_tensor.tensor(np.ones((2, 8), dtype=np.float32)))
    layer(x).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy(), np.full((4, 8), 2.0, dtype=np.float32))


def test_export_ternary_errors():
    tiny = TridentForCausalLM.from_preset("tiny", num_hidden_layers=1)
    with pytest.raises(LLMError, match="model.layers.0.self_attn.q_proj.weight has rows of 64"):
        export_ternary(tiny, "tq1_0")
    with pytest.raises(LLMError, match="fmt must be one of"):
        export_ternary(tiny, "q4_0")
    with pytest.raises(LLMError, match="no ternary"):
        export_ternary(ChimeraForCausalLM.from_preset("tiny", num_hidden_layers=1))
