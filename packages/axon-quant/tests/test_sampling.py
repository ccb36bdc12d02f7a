"""The sampler against HF transformers' logits processors, written out in torch from their definitions.

transformers is not installed; the reference below follows ``generation/logits_process.py``
(RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper,
MinPLogitsWarper with min_tokens_to_keep=1), applied in ``generate``'s order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from axon_quant.errors import QuantError
from axon_quant.runtime.sampling import Sampler, SamplingParams


def hf_probabilities(
    logits: np.ndarray,
    history: np.ndarray,
    *,
    repetition_penalty: float = 1.0,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    min_p: float = 0.0,
) -> np.ndarray:
    scores = torch.tensor(logits, dtype=torch.float32)[None]
    input_ids = torch.tensor(history, dtype=torch.int64)[None]
    if repetition_penalty != 1.0:
        score = torch.gather(scores, 1, input_ids)
        score = torch.where(score < 0, score * repetition_penalty, score / repetition_penalty)
        scores = scores.scatter(1, input_ids, score)
    if temperature != 1.0:
        scores = scores / temperature
    if top_k:
        k = min(max(top_k, 1), scores.size(-1))
        scores = scores.masked_fill(scores < torch.topk(scores, k)[0][..., -1, None], -float("inf"))
    if top_p < 1.0:
        sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        sorted_remove = cumulative_probs <= (1 - top_p)
        sorted_remove[..., -1:] = 0
        scores = scores.masked_fill(sorted_remove.scatter(1, sorted_indices, sorted_remove), -float("inf"))
    if min_p > 0.0:
        probs = torch.softmax(scores, dim=-1)
        remove = probs < min_p * probs.amax(dim=-1, keepdim=True)
        sorted_indices = torch.argsort(scores, descending=True, dim=-1)
        sorted_remove = torch.gather(remove, dim=-1, index=sorted_indices)
        sorted_remove[..., :1] = False
        scores = scores.masked_fill(sorted_remove.scatter(1, sorted_indices, sorted_remove), -float("inf"))
    return torch.softmax(scores, dim=-1)[0].double().numpy()


CASES = [
    # (vocab, logit scale, params)
    (1000, 1.0, dict(temperature=1.0)),
    (1000, 3.0, dict(temperature=0.7)),
    (1000, 3.0, dict(top_k=40)),
    (1000, 3.0, dict(top_k=1)),
    (1000, 1.0, dict(top_p=0.9)),
    (1000, 4.0, dict(top_p=0.5)),
    (1000, 4.0, dict(min_p=0.05)),
    (1000, 3.0, dict(repetition_penalty=1.3)),
    (1000, 3.0, dict(repetition_penalty=0.8, temperature=1.5)),
    (1000, 3.0, dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05, repetition_penalty=1.1)),
    (49152, 4.0, dict(temperature=0.9, top_p=0.95)),
    (49152, 4.0, dict(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05, repetition_penalty=1.1)),
]


@pytest.mark.parametrize("vocab, scale, params", CASES, ids=[str(c[2]) for c in CASES])
def test_processed_distribution_matches_hf(vocab: int, scale: float, params: dict) -> None:
    rng = np.random.default_rng(vocab + len(params))
    logits = (rng.standard_normal(vocab) * scale).astype(np.float32)
    history = rng.integers(0, vocab, 60).astype(np.int32)
    history[:5] = history[5]  # repeated ids are penalised once
    ours = Sampler(SamplingParams(**params), vocab).probabilities(logits, history)
    ref = hf_probabilities(logits, history.astype(np.int64), **params)
    np.testing.assert_array_equal(ours > 0, ref > 0)
    np.testing.assert_allclose(ours, ref, atol=2e-6, rtol=2e-5)
    assert abs(ours.sum() - 1.0) < 1e-9


def test_repeat_last_n_penalises_only_the_window() -> None:
    rng = np.random.default_rng(3)
    logits = (rng.standard_normal(500) * 3).astype(np.float32)
    history = rng.integers(0, 500, 100).astype(np.int64)
    ours = Sampler(SamplingParams(repetition_penalty=1.5, repeat_last_n=16), 500).probabilities(logits, history)
    np.testing.assert_allclose(ours, hf_probabilities(logits, history[-16:], repetition_penalty=1.5), atol=2e-6)


def test_greedy_is_argmax_after_the_penalty() -> None:
    rng = np.random.default_rng(4)
    logits = (rng.standard_normal(300) * 2).astype(np.float32)
    top = int(np.argmax(logits))
    assert Sampler(SamplingParams(temperature=0.0), 300).sample(logits, np.zeros(0, np.int32)) == top
    history = np.array([top], np.int32)
    penalised = hf_probabilities(logits, history, repetition_penalty=5.0)
    token = Sampler(SamplingParams(greedy=True, repetition_penalty=5.0), 300).sample(logits, history)
    assert token == int(np.argmax(penalised)) and token != top


def test_draws_follow_the_distribution() -> None:
    """40000 seeded draws: Pearson chi-square against the processed probabilities (7 degrees of
    freedom; 24.3 is the 0.999 quantile, so a correct sampler fails this with probability 1e-3
    for a random seed, and never for this fixed one)."""
    logits = np.log(np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])).astype(np.float32)
    sampler = Sampler(SamplingParams(temperature=1.0, seed=11), 8)
    history = np.zeros(0, np.int32)
    probs = sampler.probabilities(logits, history).copy()
    draws = np.array([sampler.sample(logits, history) for _ in range(40000)])
    counts = np.bincount(draws, minlength=8)
    expected = probs * draws.size
    assert ((counts - expected) ** 2 / expected).sum() < 24.3, counts


def test_same_seed_same_tokens_other_seed_other_tokens() -> None:
    rng = np.random.default_rng(5)
    logits = rng.standard_normal(2000).astype(np.float32)
    history = np.zeros(0, np.int32)

    def run(seed: int) -> list[int]:
        sampler = Sampler(SamplingParams(temperature=1.0, top_p=0.95, seed=seed), 2000)
        return [sampler.sample(logits, history) for _ in range(30)]

    assert run(7) == run(7)
    assert run(7) != run(8)


@pytest.mark.parametrize(
    "params",
    [
        dict(temperature=-1.0),
        dict(top_k=-2),
        dict(top_p=0.0),
        dict(top_p=1.5),
        dict(min_p=2.0),
        dict(repetition_penalty=0.0),
        dict(repeat_last_n=-1),
        dict(temperature=float("nan")),
    ],
)
def test_bad_params_are_refused(params: dict) -> None:
    with pytest.raises(QuantError):
        SamplingParams(**params)


def test_bad_logits_and_history_are_refused() -> None:
    sampler = Sampler(SamplingParams(repetition_penalty=1.2), 10)
    with pytest.raises(QuantError, match="float32"):
        sampler.sample(np.zeros(11, np.float32), np.zeros(0, np.int32))
    with pytest.raises(QuantError, match="outside the vocabulary"):
        sampler.sample(np.zeros(10, np.float32), np.array([3, 10], np.int32))
