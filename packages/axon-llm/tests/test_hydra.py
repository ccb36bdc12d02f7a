"""Hydra's pieces (tests-integration/test_llm_hydra.py holds the gradcheck, the torch references
and the overfit): the cache across the attention window, parameter counts from the shapes,
folders, generation and typed errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import axon
import axon_llm
from axon_autograd import no_grad
from axon_core import ShapeError
from axon_llm import HydraConfig, HydraForCausalLM, LLMError


def count_by_hand(c: HydraConfig) -> int:
    """Parameters of a Hydra from its shapes (embeddings, head, per-layer mixer + MLP + norms)."""
    h, d, n, rank = c.hidden_size, c.ssm_expand * c.hidden_size, c.state_size, math.ceil(c.hidden_size / 16)
    mamba = h * 2 * d + d * c.conv_kernel + d + d * (rank + 2 * n) + rank * d + d + d * n + d + d * h
    kv = c.num_key_value_heads or c.num_attention_heads
    attention = 2 * h * h + 2 * h * kv * (h // c.num_attention_heads)
    per_layer = 3 * h * c.intermediate_size + 2 * h
    layers = sum(per_layer + (mamba if i % 2 == 0 else attention) for i in range(c.num_hidden_layers))
    return 2 * c.vocab_size * h + layers + h


@pytest.mark.parametrize("preset", ["tiny", "small", "base"])
def test_preset_parameter_counts(preset):
    model = HydraForCausalLM.from_preset(preset, deferred=True)
    assert model.num_parameters() == count_by_hand(model.config)
    assert model.config.layer_types[:4] == ["mamba", "attention", "mamba", "attention"]
    if preset == "base":
        assert 280e6 < model.num_parameters() < 310e6


def test_cache_steps_equal_the_full_forward_past_the_window():
    axon.manual_seed(0)
    model = HydraForCausalLM.from_preset("tiny")
    ids = np.random.default_rng(0).integers(0, 256, (2, 40))
    with no_grad():
        full = model(axon.tensor(ids)).numpy()
        cache = model.new_cache(2, 40)
        parts = [model(axon.tensor(ids[:, :20]), cache=cache).numpy()]
        for t in range(20, 40):
            parts.append(model(axon.tensor(ids[:, t : t + 1]), cache=cache).numpy())
    assert cache.seq_len == 40
    np.testing.assert_allclose(np.concatenate(parts, 1), full, rtol=1e-5, atol=1e-5)


def test_folder_round_trip_and_generate(tmp_path):
    axon.manual_seed(1)
    model = HydraForCausalLM.from_preset("tiny")
    model.save_pretrained(tmp_path / "hydra")
    back = axon_llm.from_pretrained(tmp_path / "hydra")
    assert isinstance(back, HydraForCausalLM) and back.config.layer_types == model.config.layer_types
    ids = axon.tensor(np.random.default_rng(2).integers(0, 256, (2, 6)))
    with no_grad():
        np.testing.assert_array_equal(back(ids).numpy(), model(ids).numpy())
    with_cache = back.generate(ids, max_new_tokens=20, do_sample=False)
    without = back.generate(ids, max_new_tokens=20, do_sample=False, use_cache=False)
    np.testing.assert_array_equal(with_cache.numpy(), without.numpy())


def test_bad_config_and_input_get_typed_errors():
    with pytest.raises(LLMError, match="both types"):
        HydraConfig(num_hidden_layers=2, layer_types=["mamba", "mamba"])
    with pytest.raises(LLMError, match="layer_types"):
        HydraConfig(num_hidden_layers=2, layer_types=["mamba", "mlp"])
    with pytest.raises(LLMError, match="sliding_window"):
        HydraConfig(sliding_window=0)
    model = HydraForCausalLM(HydraConfig(**{**HydraForCausalLM.presets["tiny"], "num_hidden_layers": 2}))
    with pytest.raises(ShapeError, match="input_ids"):
        model(axon.tensor(np.zeros(3, dtype=np.int64)))
    with pytest.raises(ShapeError, match="cache"):
        model(axon.tensor(np.zeros((1, 3), dtype=np.int64)), cache=model.new_cache(2, 8))
