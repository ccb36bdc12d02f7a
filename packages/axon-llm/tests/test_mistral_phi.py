"""Mistral, Mixtral, Phi and Phi-3 without transformers: config errors, registry dispatch, the fused
Mixtral file layout and the load-balancing loss against a NumPy reference of HF's formula (the
logits, gradients and caches are checked against transformers in tests-integration)."""

from __future__ import annotations

import numpy as np
import pytest

import axon
from axon_autograd import no_grad
from axon_llm import (
    LLMError,
    MistralConfig,
    MistralForCausalLM,
    MixtralConfig,
    MixtralForCausalLM,
    Phi3Config,
    Phi3ForCausalLM,
    PhiConfig,
    PhiForCausalLM,
    from_pretrained,
)

TINY = dict(vocab_size=64, hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MistralConfig(**TINY, num_key_value_heads=2, sliding_window=0), "sliding_window"),
        (lambda: MistralConfig(**TINY, num_key_value_heads=2, attention_bias=True), "no biases"),
        (lambda: MixtralConfig(**TINY, num_key_value_heads=2, num_local_experts=2, num_experts_per_tok=3), "[1, "),
        (lambda: MixtralConfig(**TINY, num_key_value_heads=2, hidden_act="gelu"), "SwiGLU"),
        (lambda: PhiConfig(**{**TINY, "hidden_size": 24}, partial_rotary_factor=0.5), "even"),
        (lambda: PhiConfig(**TINY, partial_rotary_factor=1.5), "(0, 1]"),
        (
            lambda: Phi3ForCausalLM(Phi3Config(**TINY, pad_token_id=0, rope_parameters={"rope_type": "longrope"})),
            "longrope",
        ),
        (lambda: MistralConfig.from_dict({**TINY, "model_type": "mixtral"}), "mixtral"),
    ],
)
def test_bad_configs_raise_llm_error(make, message):
    with pytest.raises(LLMError, match=message.replace("[", r"\[").replace("(", r"\(")):
        make()


@pytest.mark.parametrize(
    "model_class, config",
    [
        (MistralForCausalLM, MistralConfig(**TINY, num_key_value_heads=2, sliding_window=3)),
        (MixtralForCausalLM, MixtralConfig(**TINY, num_key_value_heads=2, num_local_experts=3)),
        (PhiForCausalLM, PhiConfig(**TINY, partial_rotary_factor=0.5)),
        (Phi3ForCausalLM, Phi3Config(**TINY, pad_token_id=0, eos_token_id=2)),
    ],
)
def test_folders_dispatch_on_model_type_and_round_trip(tmp_path, model_class, config):
    axon.manual_seed(0)
    model = model_class(config)
    model.save_pretrained(tmp_path)
    again = from_pretrained(tmp_path)
    assert type(again) is model_class
    assert {k: v for k, v in again.config.to_dict().items() if k != "dtype"} == model.config.to_dict()
    ids = axon.tensor(np.arange(12).reshape(2, 6) % config.vocab_size)
    with no_grad():
        np.testing.assert_array_equal(again(ids).numpy(), model(ids).numpy())


def test_partial_rotary_factor_is_read_from_rope_parameters_first():
    old_style = PhiConfig.from_dict({**TINY, "partial_rotary_factor": 0.5, "rope_theta": 5000.0})
    assert old_style.rotary_dim == 2 and old_style.rope_parameters["rope_theta"] == 5000.0
    new_style = PhiConfig.from_dict(
        {**TINY, "partial_rotary_factor": 0.5, "rope_parameters": {"partial_rotary_factor": 1.0}}
    )
    assert new_style.rotary_dim == 4 and new_style.partial_rotary_factor == 1.0
    assert Phi3Config(**TINY).rotary_dim == 4


def test_mixtral_defaults_rope_theta_to_1e6_as_hf():
    assert MixtralConfig(**TINY).rope_parameters["rope_theta"] == 1e6
    assert MixtralConfig.from_dict({**TINY, "rope_theta": 1e4}).rope_parameters["rope_theta"] == 1e4


def _reference_load_balancing(logits_per_layer: list[np.ndarray], k: int, mask: np.ndarray | None) -> float:
    """HF's load_balancing_loss_func in float64 NumPy: counts and probabilities pooled over layers."""
    experts = logits_per_layer[0].shape[1]
    weights = np.ones(logits_per_layer[0].shape[0]) if mask is None else mask.reshape(-1).astype(np.float64)
    counts, prob_sum, rows = np.zeros(experts), np.zeros(experts), 0.0
    for logits in logits_per_layer:
        z = logits.astype(np.float64)
        probs = np.exp(z - z.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        top = np.argsort(-probs, axis=-1, kind="stable")[:, :k]
        for j in range(k):
            np.add.at(counts, top[:, j], weights)
        prob_sum += (probs * weights[:, None]).sum(0)
        rows += weights.sum()
    return float(experts * np.sum((counts / rows) * (prob_sum / rows)))


def test_mixtral_load_balancing_loss_equals_a_numpy_reference():
    axon.manual_seed(1)
    model = MixtralForCausalLM(MixtralConfig(**TINY, num_key_value_heads=2, num_local_experts=4))
    with pytest.raises(LLMError, match="forward first"):
        model.load_balancing_loss()
    ids = np.random.default_rng(0).integers(0, 64, (2, 7))
    mask = np.ones_like(ids)
    mask[1, :3] = 0
    for attention_mask in (None, mask):
        with no_grad():
            model(axon.tensor(ids), attention_mask=attention_mask)
            got = float(model.load_balancing_loss(attention_mask).item())
        logits = [layer_logits.numpy() for layer_logits in model.router_logits]
        assert len(logits) == 2 and logits[0].shape == (14, 4)
        assert abs(got - _reference_load_balancing(logits, 2, attention_mask)) < 1e-6


def test_mixtral_fused_expert_tensors_split_into_per_expert_weights():
    config = MixtralConfig(**TINY, num_key_value_heads=2, num_local_experts=3)
    rng = np.random.default_rng(0)
    gate_up = rng.standard_normal((3, 48, 16)).astype(np.float32)
    down = rng.standard_normal((3, 16, 24)).astype(np.float32)
    router = rng.standard_normal((3, 16)).astype(np.float32)
    state = MixtralForCausalLM.from_hf_state(
        {
            "model.layers.0.mlp.experts.gate_up_proj": gate_up,
            "model.layers.0.mlp.experts.down_proj": down,
            "model.layers.0.mlp.gate.weight": router,
            "model.norm.weight": np.ones(16, np.float32),
        },
        config,
    )
    prefix = "model.layers.0.block_sparse_moe"
    assert sorted(state) == sorted(
        [f"{prefix}.gate.weight", "model.norm.weight"]
        + [f"{prefix}.experts.{j}.{w}.weight" for j in range(3) for w in ("w1", "w2", "w3")]
    )
    np.testing.assert_array_equal(state[f"{prefix}.experts.2.w1.weight"], gate_up[2, :24])
    np.testing.assert_array_equal(state[f"{prefix}.experts.2.w3.weight"], gate_up[2, 24:])
    np.testing.assert_array_equal(state[f"{prefix}.experts.1.w2.weight"], down[1])
    np.testing.assert_array_equal(state[f"{prefix}.gate.weight"], router)


def test_sliding_window_reaches_every_layer_and_the_cache():
    model = MistralForCausalLM(MistralConfig(**TINY, num_key_value_heads=2, sliding_window=3))
    assert [layer.self_attn.sliding_window for layer in model.model.layers] == [3, 3]
    cache = model.new_cache(1, 10)
    assert [layer.capacity for layer in cache.layers] == [3, 3]
    phi3 = Phi3ForCausalLM(Phi3Config(**TINY, pad_token_id=0, sliding_window=5))
    assert [layer.self_attn.sliding_window for layer in phi3.model.layers] == [5, 5]
