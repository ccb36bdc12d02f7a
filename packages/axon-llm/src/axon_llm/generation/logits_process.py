"""Logits processors and warpers: each maps ``(input_ids [batch, seq] int64, scores [batch, vocab] float32)``
to new scores ``[batch, vocab]``, with the semantics of the transformers class of the same name.

Processors (repetition penalty, no-repeat n-gram, minimum lengths) apply to every decoding method;
warpers (temperature, top-k, top-p) only when sampling. A filtered token gets ``-inf``. Inputs are
NumPy arrays (one generation step's scores live on the host; they are ``batch x vocab`` floats).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import LLMError
from ._math import softmax

__all__ = [
    "LogitsProcessor",
    "LogitsProcessorList",
    "MinLengthLogitsProcessor",
    "MinNewTokensLengthLogitsProcessor",
    "NoRepeatNGramLogitsProcessor",
    "RepetitionPenaltyLogitsProcessor",
    "TemperatureLogitsWarper",
    "TopKLogitsWarper",
    "TopPLogitsWarper",
]


class LogitsProcessor:
    """Base of every processor: ``processor(input_ids, scores) -> scores``; it never changes its inputs."""

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} is a LogitsProcessor base; subclass it and define __call__")


class LogitsProcessorList(list):
    """A list of processors applied in order."""

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        for processor in self:
            scores = processor(input_ids, scores)
        return scores


def _eos_mask(vocab_size: int, eos_token_id: int | Sequence[int]) -> np.ndarray:
    ids = np.atleast_1d(np.asarray(eos_token_id, dtype=np.int64))
    return np.isin(np.arange(vocab_size), ids)


class MinLengthLogitsProcessor(LogitsProcessor):
    """End-of-sequence ids get ``-inf`` while the row (prompt included) is shorter than ``min_length``."""

    def __init__(self, min_length: int, eos_token_id: int | Sequence[int]) -> None:
        if not isinstance(min_length, int) or min_length < 0:
            raise LLMError(f"MinLengthLogitsProcessor: min_length must be an int >= 0, got {min_length!r}")
        self.min_length = min_length
        self.eos_token_id = eos_token_id

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if input_ids.shape[-1] < self.min_length:
            return np.where(_eos_mask(scores.shape[-1], self.eos_token_id), np.float32(-np.inf), scores)
        return scores.copy()


class MinNewTokensLengthLogitsProcessor(LogitsProcessor):
    """End-of-sequence ids get ``-inf`` until ``min_new_tokens`` tokens follow the ``prompt_length_to_skip`` prompt."""

    def __init__(self, prompt_length_to_skip: int, min_new_tokens: int, eos_token_id: int | Sequence[int]) -> None:
        for name, value in (("prompt_length_to_skip", prompt_length_to_skip), ("min_new_tokens", min_new_tokens)):
            if not isinstance(value, int) or value < 0:
                raise LLMError(f"MinNewTokensLengthLogitsProcessor: {name} must be an int >= 0, got {value!r}")
        self.prompt_length_to_skip = prompt_length_to_skip
        self.min_new_tokens = min_new_tokens
        self.eos_token_id = eos_token_id

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if input_ids.shape[-1] - self.prompt_length_to_skip < self.min_new_tokens:
            return np.where(_eos_mask(scores.shape[-1], self.eos_token_id), np.float32(-np.inf), scores)
        return scores.copy()


class RepetitionPenaltyLogitsProcessor(LogitsProcessor):
    """Every token already in the row gets its score divided by ``penalty`` (multiplied where negative).

    ``prompt_ignore_length`` (an int, or one int per row such as the left-padding length) leaves that
    many leading positions out. Each token is penalised once, however often it occurs.
    """

    def __init__(self, penalty: float, prompt_ignore_length: int | Sequence[int] | np.ndarray | None = None) -> None:
        if not isinstance(penalty, float) or not penalty > 0:
            raise LLMError(f"RepetitionPenaltyLogitsProcessor: penalty must be a float > 0, got {penalty!r}")
        if isinstance(prompt_ignore_length, int) and prompt_ignore_length < 0:
            raise LLMError(f"RepetitionPenaltyLogitsProcessor: prompt_ignore_length {prompt_ignore_length} < 0")
        if prompt_ignore_length is not None and not isinstance(prompt_ignore_length, int):
            prompt_ignore_length = np.asarray(prompt_ignore_length, dtype=np.int64)
            if prompt_ignore_length.ndim != 1:
                raise LLMError("RepetitionPenaltyLogitsProcessor: prompt_ignore_length must be an int or 1-d")
        self.penalty = penalty
        self.prompt_ignore_length = prompt_ignore_length

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        batch, vocab = scores.shape
        # Ids past the scores' vocab (a larger embedding) and ignored positions go to a spare column.
        ids = np.minimum(input_ids, vocab)
        if isinstance(self.prompt_ignore_length, int):
            ids = ids[:, self.prompt_ignore_length :]
        elif self.prompt_ignore_length is not None:
            if self.prompt_ignore_length.shape[0] != batch:
                raise LLMError(
                    f"RepetitionPenaltyLogitsProcessor: {self.prompt_ignore_length.shape[0]} prompt_ignore_length "
                    f"values for a batch of {batch}"
                )
            ignored = np.arange(ids.shape[1])[None, :] < self.prompt_ignore_length[:, None]
            ids = np.where(ignored, vocab, ids)
        seen = np.zeros((batch, vocab + 1), dtype=bool)
        seen[np.arange(batch)[:, None], ids] = True
        penalized = np.where(scores < 0, scores * self.penalty, scores / self.penalty)
        return np.where(seen[:, :vocab], penalized, scores).astype(scores.dtype, copy=False)


class NoRepeatNGramLogitsProcessor(LogitsProcessor):
    """Bans every token that would complete an n-gram (``ngram_size`` tokens) already present in the row."""

    def __init__(self, ngram_size: int) -> None:
        if not isinstance(ngram_size, int) or ngram_size <= 0:
            raise LLMError(f"NoRepeatNGramLogitsProcessor: ngram_size must be an int > 0, got {ngram_size!r}")
        self.ngram_size = ngram_size

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        n = self.ngram_size
        batch, cur_len = input_ids.shape
        if cur_len < n:
            return scores
        prefix = input_ids[:, cur_len + 1 - n :]
        windows = sliding_window_view(input_ids, n, axis=1)
        # A window whose first n-1 tokens equal the current suffix bans its last token.
        matches = (windows[..., :-1] == prefix[:, None, :]).all(axis=-1)
        vocab = scores.shape[-1]
        banned = np.zeros((batch, vocab + 1), dtype=bool)
        banned[np.arange(batch)[:, None], np.where(matches, np.minimum(windows[..., -1], vocab), vocab)] = True
        return np.where(banned[:, :vocab], np.float32(-np.inf), scores).astype(scores.dtype, copy=False)


class TemperatureLogitsWarper(LogitsProcessor):
    """``scores / temperature``: below 1 sharpens the distribution, above 1 flattens it."""

    def __init__(self, temperature: float) -> None:
        if not isinstance(temperature, float) or not temperature > 0:
            hint = " (for greedy decoding use do_sample=False)" if temperature == 0 else ""
            raise LLMError(f"TemperatureLogitsWarper: temperature must be a float > 0, got {temperature!r}{hint}")
        self.temperature = temperature

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return scores / self.temperature


class TopKLogitsWarper(LogitsProcessor):
    """Keeps the ``top_k`` highest scores of each row (ties with the k-th included); the rest get ``filter_value``."""

    def __init__(self, top_k: int, filter_value: float = -np.inf, min_tokens_to_keep: int = 1) -> None:
        if not isinstance(top_k, int) or top_k <= 0:
            raise LLMError(f"TopKLogitsWarper: top_k must be an int > 0, got {top_k!r}")
        self.top_k = max(top_k, min_tokens_to_keep)
        self.filter_value = filter_value

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        vocab = scores.shape[-1]
        k = min(self.top_k, vocab)
        kth = np.partition(scores, vocab - k, axis=-1)[..., vocab - k, None]
        return np.where(scores < kth, scores.dtype.type(self.filter_value), scores)


class TopPLogitsWarper(LogitsProcessor):
    """Nucleus filtering: keeps the smallest set of most probable tokens whose probabilities sum to ``top_p``."""

    def __init__(self, top_p: float, filter_value: float = -np.inf, min_tokens_to_keep: int = 1) -> None:
        top_p = float(top_p)
        if not 0.0 <= top_p <= 1.0:
            raise LLMError(f"TopPLogitsWarper: top_p must be in [0, 1], got {top_p!r}")
        if not isinstance(min_tokens_to_keep, int) or min_tokens_to_keep < 1:
            raise LLMError(f"TopPLogitsWarper: min_tokens_to_keep must be an int >= 1, got {min_tokens_to_keep!r}")
        self.top_p = top_p
        self.filter_value = filter_value
        self.min_tokens_to_keep = min_tokens_to_keep

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        order = np.argsort(scores, axis=-1, kind="stable")
        sorted_scores = np.take_along_axis(scores, order, axis=-1)
        # Ascending order: drop the low tail whose mass is at most 1 - top_p. The running sum is
        # accumulated in float64 and rounded to float32 per entry, as torch's CPU cumsum does.
        cumulative = np.cumsum(softmax(sorted_scores).astype(np.float64), axis=-1).astype(np.float32)
        remove_sorted = cumulative <= np.float32(1 - self.top_p)
        remove_sorted[..., -self.min_tokens_to_keep :] = False
        remove = np.empty_like(remove_sorted)
        np.put_along_axis(remove, order, remove_sorted, axis=-1)
        return np.where(remove, scores.dtype.type(self.filter_value), scores)
