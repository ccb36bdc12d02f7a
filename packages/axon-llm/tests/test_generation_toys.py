"""``TableLM``: a causal LM whose next-token logits are a lookup table, for testing the generation logic.

The logits after token ``t`` (preceded by ``p``; ``p = V`` at the start) are ``table[p, t]``, so every
sequence's probability is known in closed form and a float64 reference (exhaustive search, the
filtered softmax) can be computed from the table alone. It honours the cache protocol generation
uses (``new_cache``, ``cache.seq_len``, ``cache.reorder``) and records what each forward was fed.
The tests here check the toy itself against the table.
"""

from __future__ import annotations

import numpy as np

import axon_tensor
from axon_llm.generation import GenerationMixin


class TableCache:
    """The last token of every row (all a bigram-context model needs) and the positions seen."""

    def __init__(self, batch: int) -> None:
        self.last = np.full(batch, -1, dtype=np.int64)
        self.seq_len = 0
        self.reorders: list[np.ndarray] = []

    def reorder(self, index: np.ndarray) -> None:
        index = np.asarray(index, dtype=np.int64)
        self.reorders.append(index.copy())
        self.last = self.last[index]


class TableLM(GenerationMixin):
    """``logits[b, s] = table[prev(b, s), ids[b, s]]`` with ``table [V + 1, V, V]`` float32."""

    def __init__(self, table: np.ndarray, eos_token_id: int | None = None) -> None:
        self.table = np.asarray(table, dtype=np.float32)
        self.vocab = self.table.shape[-1]
        self.fed: list[tuple[int, int]] = []
        self.caches: list[TableCache] = []

        class _Config:
            pass

        self.config = _Config()
        self.config.eos_token_id = eos_token_id

    def new_cache(self, batch: int, max_len: int) -> TableCache:
        cache = TableCache(batch)
        self.caches.append(cache)
        return cache

    def __call__(self, input_ids, attention_mask=None, position_ids=None, cache=None):
        ids = input_ids.numpy()
        batch, seq = ids.shape
        self.fed.append((batch, seq))
        start = np.full(batch, self.vocab, dtype=np.int64)
        if cache is not None and cache.seq_len > 0:
            start = cache.last
        prev = np.concatenate([start[:, None], ids[:, :-1]], axis=1)
        logits = self.table[prev, ids]
        if cache is not None:
            cache.last = ids[:, -1].copy()
            cache.seq_len += seq
        return axon_tensor.tensor(logits)


def random_table(vocab: int, seed: int, scale: float = 2.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((vocab + 1, vocab, vocab)) * scale).astype(np.float32)


def sequence_log_prob(table: np.ndarray, prompt: list[int], continuation: list[int]) -> float:
    """float64 sum of log-softmax(table) over the tokens of ``continuation`` after ``prompt``."""
    vocab = table.shape[-1]
    tokens = list(prompt)
    total = 0.0
    for token in continuation:
        prev = tokens[-2] if len(tokens) > 1 else vocab
        logits = table[prev, tokens[-1]].astype(np.float64)
        shifted = logits - logits.max()
        total += shifted[token] - np.log(np.exp(shifted).sum())
        tokens.append(token)
    return total


def test_table_lm_logits_are_the_table_with_and_without_cache():
    table = random_table(5, seed=0)
    model = TableLM(table)
    ids = np.array([[1, 3, 2, 4]])
    full = model(axon_tensor.tensor(ids)).numpy()
    expected = np.stack([table[5, 1], table[1, 3], table[3, 2], table[2, 4]])[None]
    np.testing.assert_array_equal(full, expected)
    cache = model.new_cache(1, 8)
    first = model(axon_tensor.tensor(ids[:, :2]), cache=cache).numpy()
    second = model(axon_tensor.tensor(ids[:, 2:]), cache=cache).numpy()
    np.testing.assert_array_equal(np.concatenate([first, second], axis=1), expected)
    assert cache.seq_len == 4


def test_table_lm_reorder_moves_rows():
    model = TableLM(random_table(4, seed=1))
    cache = model.new_cache(3, 8)
    model(axon_tensor.tensor(np.array([[0], [1], [2]])), cache=cache)
    cache.reorder(np.array([2, 2, 0]))
    np.testing.assert_array_equal(cache.last, [2, 2, 0])


def test_sequence_log_prob_matches_the_softmax_by_hand():
    table = random_table(3, seed=2)
    logits = table[3, 1].astype(np.float64)
    expected = logits[2] - np.log(np.exp(logits).sum())
    assert abs(sequence_log_prob(table, [1], [2]) - expected) < 1e-12
