"""Beam search against exhaustive search over every continuation, scored here in float64.

With ``early_stopping="never"``, a positive length penalty and enough beams to hold every prefix,
transformers' beam search is exact: it must return the best continuations by
``sum(log p) / new_length ** length_penalty`` (a continuation ends at eos or at max_new_tokens).
(The token-for-token oracle against transformers' ``generate`` is in tests-integration.)
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest

from axon_llm.generation import GenerateBeamDecoderOnlyOutput

_spec = importlib.util.spec_from_file_location("_generation_toys", Path(__file__).with_name("test_generation_toys.py"))
_toys = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_toys)
TableLM, random_table, sequence_log_prob = _toys.TableLM, _toys.random_table, _toys.sequence_log_prob

VOCAB, EOS, MAX_NEW = 4, 0, 3


def exhaustive_ranking(table, prompt, length_penalty):
    """Every finished continuation with its score, best first."""
    finals = []
    for length in range(1, MAX_NEW + 1):
        for tokens in itertools.product(range(VOCAB), repeat=length):
            if EOS in tokens[:-1] or (length < MAX_NEW and tokens[-1] != EOS):
                continue
            score = sequence_log_prob(table, prompt, list(tokens)) / length**length_penalty
            finals.append((score, list(tokens)))
    return sorted(finals, key=lambda f: -f[0])


@pytest.mark.parametrize("length_penalty", [0.5, 1.0, 2.0])
def test_beam_search_finds_the_exhaustive_optimum(length_penalty):
    table = random_table(VOCAB, seed=10, scale=1.5)
    model = TableLM(table)
    prompts = [[1, 2], [3, 1]]
    out = model.generate(
        np.array(prompts),
        num_beams=16,
        num_return_sequences=4,
        max_new_tokens=MAX_NEW,
        early_stopping="never",
        length_penalty=length_penalty,
        eos_token_id=EOS,
        pad_token_id=VOCAB - 1,
        output_scores=True,
        return_dict_in_generate=True,
    )
    assert isinstance(out, GenerateBeamDecoderOnlyOutput)
    sequences = out.sequences.numpy()
    for b, prompt in enumerate(prompts):
        ranking = exhaustive_ranking(table, prompt, length_penalty)[:4]
        for r, (score, tokens) in enumerate(ranking):
            row = sequences[b * 4 + r]
            np.testing.assert_array_equal(row[:2], prompt)
            new = row[2 : 2 + len(tokens)]
            np.testing.assert_array_equal(new, tokens)
            assert np.all(row[2 + len(tokens) :] == VOCAB - 1)  # shorter hypotheses padded with pad_token_id
            assert abs(out.sequences_scores[b * 4 + r] - score) < 1e-4


def test_beam_search_reorders_the_cache_within_each_prompt():
    model = TableLM(random_table(8, seed=11))
    model.generate(np.array([[1, 2], [3, 4]]), num_beams=3, max_new_tokens=5)
    reorders = model.caches[0].reorders
    assert len(reorders) == 5
    for index in reorders:
        # Rows 0-2 are the first prompt's beams, 3-5 the second's: a beam only continues its own prompt's.
        assert np.all(index[:3] < 3) and np.all((index[3:] >= 3) & (index[3:] < 6))
    # After the prompt, every step fed one token per beam.
    assert model.fed == [(6, 2)] + [(6, 1)] * 4


def test_beam_scores_per_step_are_log_probabilities():
    table = random_table(6, seed=12)
    model = TableLM(table)
    out = model.generate(
        np.array([[1, 2]]), num_beams=2, max_new_tokens=2, output_scores=True, return_dict_in_generate=True
    )
    first = out.scores[0]
    assert first.shape == (2, 6)
    logits = table[1, 2].astype(np.float64)
    expected = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
    np.testing.assert_allclose(first[0], expected, atol=1e-6)
