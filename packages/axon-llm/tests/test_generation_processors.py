"""Logits processors against references written here, row by row in plain Python / float64.

(The bit-for-bit oracle against transformers' classes is tests-integration/test_llm_generation.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from axon_llm.errors import LLMError
from axon_llm.generation import (
    LogitsProcessorList,
    MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)


def _random(batch=5, vocab=23, seq=15, seed=0, vocab_used=None):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab_used or vocab, (batch, seq))
    scores = (rng.standard_normal((batch, vocab)) * 3).astype(np.float32)
    return ids, scores


@pytest.mark.parametrize("penalty", [1.3, 0.6])
def test_repetition_penalty_matches_a_per_row_loop(penalty):
    ids, scores = _random(seed=1)
    got = RepetitionPenaltyLogitsProcessor(penalty)(ids, scores)
    expected = scores.copy()
    for b in range(ids.shape[0]):
        for token in set(ids[b].tolist()):
            s = scores[b, token]
            expected[b, token] = s * np.float32(penalty) if s < 0 else s / np.float32(penalty)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.float32


def test_repetition_penalty_skips_each_rows_ignored_prefix():
    ids, scores = _random(batch=3, seed=2)
    ignore = [0, 4, 15]
    got = RepetitionPenaltyLogitsProcessor(1.5, prompt_ignore_length=ignore)(ids, scores)
    for b, skip in enumerate(ignore):
        seen = set(ids[b, skip:].tolist())
        for token in range(scores.shape[1]):
            s = scores[b, token]
            want = (s * np.float32(1.5) if s < 0 else s / np.float32(1.5)) if token in seen else s
            assert got[b, token] == want
    cut = RepetitionPenaltyLogitsProcessor(1.5, prompt_ignore_length=4)(ids, scores)
    np.testing.assert_array_equal(cut, RepetitionPenaltyLogitsProcessor(1.5)(ids[:, 4:], scores))


def test_repetition_penalty_ignores_ids_past_the_vocab():
    scores = np.array([[1.0, -1.0, 2.0]], dtype=np.float32)
    got = RepetitionPenaltyLogitsProcessor(2.0)(np.array([[1, 7]]), scores)
    np.testing.assert_array_equal(got, [[1.0, -2.0, 2.0]])


def _banned_by_ngram_dict(row: list[int], n: int) -> set[int]:
    # The classic algorithm (fairseq; transformers' _get_ngrams): a dict from each (n-1)-gram to what followed it.
    seen: dict[tuple[int, ...], list[int]] = {}
    for i in range(len(row) - n + 1):
        seen.setdefault(tuple(row[i : i + n - 1]), []).append(row[i + n - 1])
    if len(row) + 1 < n:
        return set()
    return set(seen.get(tuple(row[len(row) + 1 - n :]), []))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_no_repeat_ngram_matches_the_dict_algorithm(n):
    # A small vocabulary repeats n-grams often, so many tokens get banned.
    ids, scores = _random(batch=8, vocab=11, seq=30, seed=n, vocab_used=4)
    got = NoRepeatNGramLogitsProcessor(n)(ids, scores)
    banned_total = 0
    for b in range(ids.shape[0]):
        banned = _banned_by_ngram_dict(ids[b].tolist(), n)
        banned_total += len(banned)
        for token in range(scores.shape[1]):
            assert got[b, token] == (-np.inf if token in banned else scores[b, token])
    assert banned_total > 0


def test_no_repeat_ngram_needs_a_complete_ngram():
    ids, scores = _random(batch=2, seq=2, seed=3)
    np.testing.assert_array_equal(NoRepeatNGramLogitsProcessor(3)(ids, scores), scores)


def test_min_length_and_min_new_tokens_suppress_eos_until_reached():
    ids, scores = _random(batch=2, seq=6, seed=4)
    eos = [3, 7]
    before = MinLengthLogitsProcessor(7, eos)(ids, scores)
    assert np.all(before[:, eos] == -np.inf)
    np.testing.assert_array_equal(np.delete(before, eos, axis=1), np.delete(scores, eos, axis=1))
    np.testing.assert_array_equal(MinLengthLogitsProcessor(6, eos)(ids, scores), scores)
    new_before = MinNewTokensLengthLogitsProcessor(4, 3, 5)(ids, scores)
    assert np.all(new_before[:, 5] == -np.inf) and np.all(np.delete(new_before, 5, axis=1) > -np.inf)
    np.testing.assert_array_equal(MinNewTokensLengthLogitsProcessor(3, 3, 5)(ids, scores), scores)


def test_temperature_divides():
    ids, scores = _random(seed=5)
    np.testing.assert_array_equal(TemperatureLogitsWarper(0.7)(ids, scores), scores / np.float32(0.7))


@pytest.mark.parametrize(("k", "keep"), [(1, 1), (5, 1), (5, 8), (23, 1), (40, 1)])
def test_top_k_keeps_the_k_largest(k, keep):
    ids, scores = _random(seed=6)
    got = TopKLogitsWarper(k, min_tokens_to_keep=keep)(ids, scores)
    kept = min(max(k, keep), scores.shape[1])
    for b in range(scores.shape[0]):
        order = sorted(range(scores.shape[1]), key=lambda t: -scores[b, t])
        for rank, token in enumerate(order):
            assert got[b, token] == (scores[b, token] if rank < kept else -np.inf)


def test_top_k_keeps_ties_with_the_kth():
    scores = np.array([[3.0, 1.0, 2.0, 2.0, 0.0]], dtype=np.float32)
    got = TopKLogitsWarper(2)(None, scores)
    np.testing.assert_array_equal(got, [[3.0, -np.inf, 2.0, 2.0, -np.inf]])


def _top_p_reference(row: np.ndarray, top_p: float, min_keep: int) -> set[int]:
    # float64: walk from the most probable token down, keeping tokens until the kept mass reaches top_p.
    p = np.exp(row.astype(np.float64) - row.max())
    p /= p.sum()
    order = sorted(range(len(row)), key=lambda t: -p[t])
    kept, mass = set(), 0.0
    for token in order:
        if mass >= top_p and len(kept) >= min_keep:
            break
        kept.add(token)
        mass += p[token]
    return kept


@pytest.mark.parametrize(("top_p", "keep"), [(0.9, 1), (0.5, 1), (0.05, 1), (0.3, 4), (1.0, 1)])
def test_top_p_keeps_the_nucleus(top_p, keep):
    ids, scores = _random(batch=16, seed=7)
    got = TopPLogitsWarper(top_p, min_tokens_to_keep=keep)(ids, scores)
    for b in range(scores.shape[0]):
        kept = _top_p_reference(scores[b], top_p, keep)
        for token in range(scores.shape[1]):
            assert got[b, token] == (scores[b, token] if token in kept else -np.inf)


def test_list_applies_in_order():
    ids, scores = _random(seed=8)
    chain = LogitsProcessorList([TemperatureLogitsWarper(0.5), TopKLogitsWarper(3)])
    np.testing.assert_array_equal(chain(ids, scores), TopKLogitsWarper(3)(ids, scores / np.float32(0.5)))


def test_processors_leave_their_inputs_alone():
    ids, scores = _random(seed=9, vocab_used=3)
    ids_copy, scores_copy = ids.copy(), scores.copy()
    for processor in (
        RepetitionPenaltyLogitsProcessor(1.2),
        NoRepeatNGramLogitsProcessor(2),
        MinLengthLogitsProcessor(100, 1),
        TopKLogitsWarper(3),
        TopPLogitsWarper(0.5),
    ):
        processor(ids, scores)
    np.testing.assert_array_equal(ids, ids_copy)
    np.testing.assert_array_equal(scores, scores_copy)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RepetitionPenaltyLogitsProcessor(0.0),
        lambda: RepetitionPenaltyLogitsProcessor(1),
        lambda: RepetitionPenaltyLogitsProcessor(1.2, prompt_ignore_length=-1),
        lambda: NoRepeatNGramLogitsProcessor(0),
        lambda: MinLengthLogitsProcessor(-1, 2),
        lambda: MinNewTokensLengthLogitsProcessor(2, -1, 2),
        lambda: TemperatureLogitsWarper(0.0),
        lambda: TopKLogitsWarper(0),
        lambda: TopPLogitsWarper(1.5),
        lambda: TopPLogitsWarper(0.5, min_tokens_to_keep=0),
    ],
)
def test_bad_arguments_raise(make):
    with pytest.raises(LLMError):
        make()


def test_per_row_ignore_lengths_must_match_the_batch():
    ids, scores = _random(batch=3, seed=10)
    with pytest.raises(LLMError, match="batch of 3"):
        RepetitionPenaltyLogitsProcessor(1.2, prompt_ignore_length=[0, 1])(ids, scores)
