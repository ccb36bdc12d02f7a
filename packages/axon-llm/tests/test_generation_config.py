"""GenerationConfig: transformers' defaults, validation with errors that name the field, updates."""

from __future__ import annotations

import pytest

from axon_llm.errors import LLMError, ModelLoadError
from axon_llm.generation import GenerationConfig

# transformers 5.x GenerationConfig._get_default_generation_params(), the fields we share.
TRANSFORMERS_DEFAULTS = {
    "min_length": 0,
    "do_sample": False,
    "early_stopping": False,
    "num_beams": 1,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "length_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "num_return_sequences": 1,
    "output_scores": False,
    "return_dict_in_generate": False,
    "use_cache": True,
}


def test_defaults_are_transformers_global_defaults():
    config = GenerationConfig()
    for name, value in TRANSFORMERS_DEFAULTS.items():
        assert getattr(config, name) == value, name
    assert config.max_new_tokens is None and config.max_length is None


BAD_VALUES = [
    ("max_new_tokens", 0),
    ("max_new_tokens", 2.5),
    ("min_new_tokens", -1),
    ("max_length", 0),
    ("num_beams", 0),
    ("top_k", -1),
    ("top_p", 1.5),
    ("top_p", -0.1),
    ("temperature", 0.0),
    ("temperature", -1.0),
    ("temperature", "hot"),
    ("repetition_penalty", 0.0),
    ("no_repeat_ngram_size", -2),
    ("early_stopping", "sometimes"),
    ("eos_token_id", -3),
    ("eos_token_id", []),
    ("eos_token_id", [2, -1]),
    ("pad_token_id", -1),
    ("stop_strings", ""),
    ("stop_strings", ["ok", ""]),
    ("do_sample", 1),
    ("seed", -5),
    ("num_return_sequences", 0),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_bad_values_raise_an_error_naming_the_field(name, value):
    with pytest.raises(LLMError, match=name):
        GenerationConfig(**{name: value})


def test_temperature_zero_points_to_greedy():
    with pytest.raises(LLMError, match="do_sample=False"):
        GenerationConfig(temperature=0.0)


def test_combinations_that_cannot_work():
    with pytest.raises(LLMError, match="num_return_sequences"):
        GenerationConfig(num_return_sequences=2)
    with pytest.raises(LLMError, match="cannot exceed num_beams"):
        GenerationConfig(num_beams=2, num_return_sequences=3)
    assert GenerationConfig(num_return_sequences=3, do_sample=True).num_return_sequences == 3


def test_update_applies_values_and_rejects_unknown_names():
    base = GenerationConfig(eos_token_id=2)
    updated = base.update(max_new_tokens=5, do_sample=True, temperature=0.5)
    assert (updated.max_new_tokens, updated.do_sample, updated.temperature, updated.eos_token_id) == (5, True, 0.5, 2)
    assert base.max_new_tokens is None
    # An explicit None unsets, as transformers' update: no eos, no top-k; non-optional fields get their default.
    unset = updated.update(eos_token_id=None, top_k=None, temperature=None)
    assert (unset.eos_token_id, unset.top_k, unset.temperature) == (None, None, 1.0)
    with pytest.raises(LLMError, match="max_tokens"):
        base.update(max_tokens=5)
    with pytest.raises(LLMError, match="top_p"):
        base.update(top_p=2.0)


def test_dict_round_trip_ignores_keys_we_do_not_have():
    config = GenerationConfig(max_new_tokens=7, eos_token_id=[1, 2], num_beams=3, early_stopping="never")
    assert GenerationConfig.from_dict(config.to_dict()) == config
    hf = {"bos_token_id": 1, "eos_token_id": 2, "transformers_version": "5.23.0", "_from_model_config": True}
    assert GenerationConfig.from_dict(hf) == GenerationConfig(bos_token_id=1, eos_token_id=2)


def test_eos_token_ids_is_always_a_list():
    assert GenerationConfig().eos_token_ids == []
    assert GenerationConfig(eos_token_id=3).eos_token_ids == [3]
    assert GenerationConfig(eos_token_id=[3, 4]).eos_token_ids == [3, 4]


def test_lengths_resolve_as_transformers():
    # max_new_tokens wins over max_length; without either, 20 new tokens capped by the model's positions.
    assert GenerationConfig(max_new_tokens=5, max_length=100).resolved_max_length(10) == 15
    assert GenerationConfig(max_length=12).resolved_max_length(10) == 12
    assert GenerationConfig().resolved_max_length(10) == 30
    assert GenerationConfig().resolved_max_length(10, max_position_embeddings=25) == 25
    assert GenerationConfig(min_new_tokens=3).resolved_min_length(10) == 13
    assert GenerationConfig(min_length=4).resolved_min_length(10) == 4


def test_from_pretrained_reads_generation_config_json(tmp_path):
    # The keys transformers writes for a Llama-3-Instruct-style model.
    (tmp_path / "generation_config.json").write_text(
        '{"bos_token_id": 128000, "do_sample": true, "eos_token_id": [128001, 128009], "temperature": 0.6,'
        ' "top_p": 0.9, "transformers_version": "4.40.0"}'
    )
    config = GenerationConfig.from_pretrained(tmp_path)
    assert (config.do_sample, config.eos_token_ids, config.temperature, config.top_p) == (
        True,
        [128001, 128009],
        0.6,
        0.9,
    )
    with pytest.raises(ModelLoadError, match="no generation config"):
        GenerationConfig.from_pretrained(tmp_path / "missing")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match="not an object"):
        GenerationConfig.from_pretrained(tmp_path / "bad.json")
