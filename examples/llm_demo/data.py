"""Batches of token windows for training and evaluation, and the unigram baseline.

Training reads the stream as windows of ``seq_len`` tokens: each epoch starts them at a random
offset and visits them in a random order, both drawn from ``(seed, epoch)`` alone, so where the
sampler stands is two integers (epoch, cursor) — the data position a checkpoint stores. The model
sees ``seq_len`` tokens and is scored on the last ``seq_len - 1`` of them (HF's shifted loss).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["WindowSampler", "evaluation_windows", "unigram_baseline"]


class WindowSampler:
    """``next_batch()`` -> int64 ``[batch, seq_len]`` windows of ``tokens``, epoch after epoch."""

    def __init__(self, tokens: np.ndarray, seq_len: int, batch: int, seed: int) -> None:
        if seq_len < 2:
            raise ValueError(f"WindowSampler: seq_len must be at least 2, got {seq_len}")
        if batch < 1:
            raise ValueError(f"WindowSampler: batch must be positive, got {batch}")
        if len(tokens) < 2 * seq_len + batch * seq_len:
            raise ValueError(
                f"WindowSampler: {len(tokens)} tokens are too few for batches of {batch} windows of {seq_len}"
            )
        self.tokens, self.seq_len, self.batch, self.seed = tokens, seq_len, batch, seed
        self.epoch, self.cursor = 0, 0
        self._starts = self._epoch_starts(0)

    def _epoch_starts(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        offset = int(rng.integers(0, self.seq_len))
        count = (len(self.tokens) - offset) // self.seq_len
        return offset + self.seq_len * rng.permutation(count)

    @property
    def windows_per_epoch(self) -> int:
        return len(self._starts)

    def next_batch(self) -> np.ndarray:
        """The next ``batch`` windows; an epoch's last windows that do not fill a batch are skipped."""
        if self.cursor + self.batch > len(self._starts):
            self.epoch, self.cursor = self.epoch + 1, 0
            self._starts = self._epoch_starts(self.epoch)
        starts = self._starts[self.cursor : self.cursor + self.batch]
        self.cursor += self.batch
        return np.stack([self.tokens[s : s + self.seq_len] for s in starts]).astype(np.int64)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["seed"]) != self.seed:
            raise ValueError(f"WindowSampler: the checkpoint's data seed {state['seed']} is not this run's {self.seed}")
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
        self._starts = self._epoch_starts(self.epoch)
        if self.cursor > len(self._starts):
            raise ValueError(
                f"WindowSampler: cursor {self.cursor} is past epoch {self.epoch}'s {len(self._starts)} windows"
            )


def evaluation_windows(tokens: np.ndarray, seq_len: int, max_windows: int) -> np.ndarray:
    """int64 ``[n, seq_len]``: up to ``max_windows`` consecutive windows from the stream's start."""
    count = min(max_windows, len(tokens) // seq_len)
    if count == 0:
        raise ValueError(f"evaluation_windows: {len(tokens)} validation tokens do not fill one window of {seq_len}")
    return tokens[: count * seq_len].reshape(count, seq_len).astype(np.int64)


def unigram_baseline(train_tokens: np.ndarray, windows: np.ndarray, vocab_size: int) -> float:
    """Perplexity on the targets of ``windows`` (``[:, 1:]``, the tokens the model is scored on)
    of the token frequencies of the training stream, add-one smoothed: the best a model that
    ignores context can do, and the bar a language model must get under."""
    counts = np.bincount(train_tokens, minlength=vocab_size).astype(np.float64) + 1.0
    log_p = np.log(counts / counts.sum())
    return math.exp(-float(log_p[windows[:, 1:]].mean()))
