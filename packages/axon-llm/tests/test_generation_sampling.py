"""Sampling: token frequencies against the filtered softmax computed here in float64 (chi-square).

Each test draws with a fixed seed, so it is deterministic; the threshold is the chi-square
distribution's 0.999 quantile for the test's degrees of freedom (Wilson-Hilferty), i.e. a correct
sampler would fail it for one seed in a thousand.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from axon_llm.errors import LLMError
from axon_llm.generation._sampling import multinomial, sample_without_replacement

_spec = importlib.util.spec_from_file_location("_generation_toys", Path(__file__).with_name("test_generation_toys.py"))
_toys = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_toys)
TableLM, random_table = _toys.TableLM, _toys.random_table

DRAWS = 20000


def chi_square_999(df: int) -> float:
    z = 3.090232  # the standard normal's 0.999 quantile
    return df * (1 - 2 / (9 * df) + z * np.sqrt(2 / (9 * df))) ** 3


def assert_matches(counts: np.ndarray, probs: np.ndarray) -> None:
    """Counts of zero-probability outcomes must be 0; the rest pass a chi-square test at 0.999."""
    assert counts[probs == 0].sum() == 0, "a filtered token was drawn"
    kept = probs > 0
    expected = probs[kept] * counts.sum()
    statistic = float((((counts[kept] - expected) ** 2) / expected).sum())
    assert statistic < chi_square_999(int(kept.sum()) - 1), statistic


def filtered_softmax(logits: np.ndarray, temperature=1.0, top_k=None, top_p=1.0) -> np.ndarray:
    """float64 reference: temperature, then top-k, then top-p (keep tokens while the mass above is < top_p)."""
    x = logits.astype(np.float64) / temperature
    order = np.argsort(-x, kind="stable")
    keep = np.zeros(len(x), dtype=bool)
    keep[order[: top_k or len(x)]] = True
    p = np.exp(x - x.max()) * keep
    p /= p.sum()
    mass = 0.0
    for token in order:
        if not keep[token]:
            continue
        if mass >= top_p:
            keep[token] = False
        mass += p[token]
    p = np.exp(x - x.max()) * keep
    return p / p.sum()


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"),
    [(1.0, 0, 1.0), (0.7, 6, 1.0), (1.3, 0, 0.8), (0.8, 8, 0.9)],
)
def test_first_token_frequencies_follow_the_filtered_softmax(temperature, top_k, top_p):
    vocab = 12
    table = random_table(vocab, seed=3, scale=1.0)
    model = TableLM(table)
    prompt = np.tile([[3, 5]], (DRAWS, 1))
    out = model.generate(
        prompt, max_new_tokens=1, do_sample=True, temperature=temperature, top_k=top_k, top_p=top_p, seed=11
    )
    counts = np.bincount(out.numpy()[:, -1], minlength=vocab)
    assert_matches(counts, filtered_softmax(table[3, 5], temperature, top_k or None, top_p))


def test_two_token_frequencies_through_the_cache():
    vocab = 5
    table = random_table(vocab, seed=4, scale=1.0)
    model = TableLM(table)
    out = model.generate(np.tile([[1, 2]], (DRAWS, 1)), max_new_tokens=2, do_sample=True, temperature=1.5, seed=5)
    pairs = out.numpy()[:, 2] * vocab + out.numpy()[:, 3]
    first = filtered_softmax(table[1, 2], 1.5)
    joint = np.array([first[a] * filtered_softmax(table[2, a], 1.5)[b] for a in range(vocab) for b in range(vocab)])
    assert_matches(np.bincount(pairs, minlength=vocab * vocab), joint)
    # The decode step fed one token per row after the two-token prompt.
    assert model.fed == [(DRAWS, 2), (DRAWS, 1)]


def test_default_top_k_is_50_when_sampling():
    vocab = 60
    table = np.zeros((vocab + 1, vocab, vocab), dtype=np.float32)
    table[vocab, 0] = np.linspace(0.0, 0.5, vocab)  # nearly flat: without top-k every token would appear
    out = TableLM(table).generate(np.zeros((DRAWS, 1), dtype=np.int64), max_new_tokens=1, do_sample=True, seed=2)
    counts = np.bincount(out.numpy()[:, -1], minlength=vocab)
    assert_matches(counts, filtered_softmax(table[vocab, 0], top_k=50))


def test_seeds_repeat_and_differ():
    model = TableLM(random_table(30, seed=6, scale=0.5))
    prompt = np.array([[1, 2], [3, 4]])
    run = lambda seed: model.generate(prompt, max_new_tokens=12, do_sample=True, seed=seed).numpy()  # noqa: E731
    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_num_return_sequences_samples_each_prompt_n_times():
    model = TableLM(random_table(30, seed=7, scale=0.3))
    prompt = np.array([[1, 2], [3, 4]])
    out = model.generate(prompt, max_new_tokens=6, do_sample=True, num_return_sequences=3, seed=1).numpy()
    assert out.shape == (6, 8)
    np.testing.assert_array_equal(out[:3, :2], np.tile([[1, 2]], (3, 1)))
    np.testing.assert_array_equal(out[3:, :2], np.tile([[3, 4]], (3, 1)))
    assert len({tuple(r) for r in out[:3, 2:]}) > 1


def test_multinomial_follows_the_probabilities_and_never_draws_zero():
    probs = np.array([[0.5, 0.0, 0.2, 0.3, 0.0]] * DRAWS, dtype=np.float32)
    drawn = multinomial(probs, np.random.default_rng(0))
    assert_matches(np.bincount(drawn, minlength=5), probs[0].astype(np.float64))
    with pytest.raises(LLMError, match="all zero"):
        multinomial(np.zeros((1, 3), dtype=np.float32), np.random.default_rng(0))


def test_sampling_without_replacement_follows_successive_draws():
    # P(first = i, second = j) = p_i * p_j / (1 - p_i): successive draws without replacement.
    p = np.array([0.4, 0.25, 0.2, 0.1, 0.05])
    drawn = sample_without_replacement(np.tile(p, (DRAWS, 1)), 2, np.random.default_rng(3))
    assert np.all(drawn[:, 0] != drawn[:, 1])
    exact = np.array([[p[i] * p[j] / (1 - p[i]) if i != j else 0.0 for j in range(5)] for i in range(5)]).ravel()
    assert_matches(np.bincount(drawn[:, 0] * 5 + drawn[:, 1], minlength=25), exact)
    with pytest.raises(LLMError, match="fewer than 3"):
        sample_without_replacement(np.array([[0.5, 0.5, 0.0]]), 3, np.random.default_rng(0))
