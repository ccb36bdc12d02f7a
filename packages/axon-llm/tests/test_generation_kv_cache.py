"""Generation over the preallocated KVCache of a tiny LLaMA: a decode step's cache work is constant.

The count is bytes written into the cache per step (``KVCache.bytes_written``), checked against the
size of one position's keys and values (``2 * layers * batch * kv_heads * head_dim * 4`` bytes),
plus the buffers' addresses: a cache that grew by reallocating and copying would move them.
(Token-for-token agreement with transformers is in tests-integration/test_llm_generation.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from axon_llm import LlamaConfig, LlamaForCausalLM
from axon_llm.generation import StoppingCriteria

TINY = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    eos_token_id=None,
)


class RecordingLlama(LlamaForCausalLM):
    """Keeps the cache generate makes."""

    def new_cache(self, batch_size, max_len):
        self.recorded_cache = super().new_cache(batch_size, max_len)
        return self.recorded_cache


class CacheProbe(StoppingCriteria):
    """Called once per step: records the cache's bytes written and buffer addresses (never stops)."""

    def __init__(self, model):
        self.model, self.bytes, self.addresses = model, [], []

    def __call__(self, input_ids):
        cache = self.model.recorded_cache
        self.bytes.append(cache.bytes_written)
        self.addresses.append([(layer.key.data_ptr(), layer.value.data_ptr()) for layer in cache.layers])
        return np.zeros(input_ids.shape[0], dtype=bool)


@pytest.fixture(scope="module")
def model():
    return RecordingLlama(LlamaConfig(**TINY)).eval()


def test_decode_step_writes_one_position_whatever_the_length(model):
    batch, prompt_len, new = 2, 8, 128
    probe = CacheProbe(model)
    prompt = np.random.default_rng(0).integers(0, 64, (batch, prompt_len))
    model.generate(prompt, max_new_tokens=new, stopping_criteria=[probe])
    config = model.config
    one_position = 2 * config.num_hidden_layers * batch * config.num_key_value_heads * config.head_dim * 4
    # The probe runs after each token is chosen: the first reading follows the prompt, then one decode step each.
    assert probe.bytes[0] == prompt_len * one_position
    steps = np.diff(probe.bytes)
    assert len(steps) == new - 1
    assert np.all(steps == one_position), steps
    assert all(a == probe.addresses[0] for a in probe.addresses)
    assert model.recorded_cache.max_len == prompt_len + new


def test_cached_and_uncached_greedy_agree(model):
    prompt = np.random.default_rng(1).integers(0, 64, (2, 6))
    cached = model.generate(prompt, max_new_tokens=16).numpy()
    recomputed = model.generate(prompt, max_new_tokens=16, use_cache=False).numpy()
    np.testing.assert_array_equal(cached, recomputed)


def test_beam_search_with_cache_reorder_agrees_with_recompute(model):
    prompt = np.random.default_rng(2).integers(0, 64, (2, 5))
    options = dict(max_new_tokens=10, num_beams=3, length_penalty=0.8, early_stopping=True)
    cached = model.generate(prompt, **options).numpy()
    recomputed = model.generate(prompt, use_cache=False, **options).numpy()
    np.testing.assert_array_equal(cached, recomputed)


def test_left_padded_rows_generate_as_they_would_alone(model):
    rng = np.random.default_rng(3)
    prompts = [rng.integers(1, 64, n) for n in (3, 7, 5)]
    width = max(len(p) for p in prompts)
    ids = np.zeros((3, width), dtype=np.int64)
    mask = np.zeros((3, width), dtype=np.int64)
    for row, p in enumerate(prompts):
        ids[row, width - len(p) :] = p
        mask[row, width - len(p) :] = 1
    batched = model.generate(ids, attention_mask=mask, max_new_tokens=12).numpy()
    for row, p in enumerate(prompts):
        alone = model.generate(p[None, :], max_new_tokens=12).numpy()
        np.testing.assert_array_equal(batched[row, width:], alone[0, len(p) :])
