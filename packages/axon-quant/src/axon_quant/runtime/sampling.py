"""Choosing the next token from logits: greedy, or sampling after repetition penalty, temperature,
top-k, top-p and min-p, with a seeded NumPy Generator.

The processors are HF transformers' (``generation/logits_process.py``), applied in the order its
``generate`` applies them:

1. repetition penalty (``RepetitionPenaltyLogitsProcessor``): for every distinct token id in the
   context (prompt and generated; only the last ``repeat_last_n`` when that is > 0, llama.cpp's
   ``penalty_last_n``), ``logit / penalty`` if ``logit > 0`` else ``logit * penalty``. llama.cpp's
   ``repeat_penalty`` is the same formula; its default window is 64 tokens, HF's the whole context.
2. temperature: ``logits / T``; ``T == 0`` means greedy (argmax after the penalty, as HF's greedy
   search with a repetition penalty).
3. top-k: drop every logit below the k-th largest (ties with it stay).
4. top-p: sort ascending, drop the tokens whose cumulative probability is ``<= 1 - top_p`` (the
   largest always stays).
5. min-p: drop tokens whose probability is below ``min_p`` times the largest one's.

Then softmax over what is left and one draw. Everything runs in Numba on scratch buffers of an
:class:`~axon_quant.runtime.arena.Arena`, so a step allocates no array. Where HF's top-p would
split exactly tied probabilities at the cut by sort order, we keep all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import QuantError
from ._ops import argmax
from .arena import Arena

__all__ = ["Sampler", "SamplingParams"]


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. ``temperature == 0`` (or ``greedy``) picks the argmax; ``top_k == 0``,
    ``top_p == 1``, ``min_p == 0`` and ``repetition_penalty == 1`` turn those steps off;
    ``repeat_last_n == 0`` penalises the whole context; ``seed`` seeds ``np.random.default_rng``."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    repeat_last_n: int = 0
    seed: int | None = None
    greedy: bool = False

    def __post_init__(self) -> None:
        checks = [
            (
                math.isfinite(self.temperature) and self.temperature >= 0,
                f"temperature must be >= 0, got {self.temperature}",
            ),
            (isinstance(self.top_k, int) and self.top_k >= 0, f"top_k must be an int >= 0, got {self.top_k!r}"),
            (0 < self.top_p <= 1, f"top_p must be in (0, 1], got {self.top_p}"),
            (0 <= self.min_p <= 1, f"min_p must be in [0, 1], got {self.min_p}"),
            (
                math.isfinite(self.repetition_penalty) and self.repetition_penalty > 0,
                f"repetition_penalty must be > 0, got {self.repetition_penalty}",
            ),
            (
                isinstance(self.repeat_last_n, int) and self.repeat_last_n >= 0,
                f"repeat_last_n must be an int >= 0, got {self.repeat_last_n!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise QuantError(message)

    @property
    def is_greedy(self) -> bool:
        return self.greedy or self.temperature == 0


@njit(cache=True)
def _penalize(work, history, penalty, seen):
    """HF's repetition penalty on ``work`` [vocab] for each distinct id of ``history``; ``seen`` is
    zeroed scratch [vocab] uint8, left zeroed. False (and nothing changed) if an id is outside
    the vocabulary."""
    vocab = work.shape[0]
    for t in history:
        if t < 0 or t >= vocab:
            return False
    for t in history:
        if not seen[t]:
            seen[t] = 1
            work[t] = work[t] / penalty if work[t] > 0 else work[t] * penalty
    for t in history:
        seen[t] = 0
    return True


@njit(cache=True)
def _kth_largest(a, n, k):
    """The ``k``-th largest of ``a[:n]`` (1-based), reordering ``a`` (Hoare selection)."""
    target = n - k  # index in ascending order
    lo, hi = 0, n - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if target <= j:
            hi = j
        elif target >= i:
            lo = i
        else:
            break
    return a[target]


@njit(cache=True)
def _process(logits, history, penalty, temperature, top_k, top_p, min_p, work, scratch, seen):
    """Apply the processors to ``logits`` [vocab] float32 and leave the sampling distribution in
    ``work`` [vocab] float64 (zeros for removed tokens). False if ``history`` holds an id outside
    the vocabulary."""
    vocab = logits.shape[0]
    for i in range(vocab):
        work[i] = logits[i]
    if penalty != 1.0 and not _penalize(work, history, penalty, seen):
        return False
    if temperature != 1.0:
        for i in range(vocab):
            work[i] /= temperature
    if 0 < top_k < vocab:
        for i in range(vocab):
            scratch[i] = work[i]
        threshold = _kth_largest(scratch, vocab, top_k)
        for i in range(vocab):
            if work[i] < threshold:
                work[i] = -np.inf
    if top_p < 1.0:
        best = work.max()
        total = 0.0
        for i in range(vocab):
            total += math.exp(work[i] - best)
        # Tokens below (1 - top_p) / vocab together hold less than 1 - top_p and come first in
        # ascending order, so HF drops them all; only the rest needs sorting.
        floor = (1.0 - top_p) / vocab
        dropped, kept = 0.0, 0
        for i in range(vocab):
            p = math.exp(work[i] - best) / total
            if p < floor:
                dropped += p
            else:
                scratch[kept] = p
                kept += 1
        candidates = scratch[:kept]
        candidates.sort()
        cumulative, cut = dropped, candidates[kept - 1]
        for j in range(kept):
            cumulative += candidates[j]
            if cumulative > 1.0 - top_p:
                cut = candidates[j]
                break
        for i in range(vocab):
            if math.exp(work[i] - best) / total < cut:
                work[i] = -np.inf
    if min_p > 0.0:
        limit = work.max() + math.log(min_p)
        for i in range(vocab):
            if work[i] < limit:
                work[i] = -np.inf
    best = work.max()
    total = 0.0
    for i in range(vocab):
        work[i] = math.exp(work[i] - best)
        total += work[i]
    for i in range(vocab):
        work[i] /= total
    return True


@njit(cache=True)
def _draw(probs, u):
    """The first index where the running sum of ``probs`` passes ``u`` in [0, 1)."""
    cumulative, last = 0.0, 0
    for i in range(probs.shape[0]):
        if probs[i] > 0.0:
            cumulative += probs[i]
            last = i
            if cumulative > u:
                return i
    return last  # u beyond the sum's rounding: the last token that has any probability


class Sampler:
    """Picks tokens for a vocabulary of ``vocab_size`` under ``params``; its scratch lives in an arena.

    :meth:`probabilities` is the processed distribution (what :meth:`sample` draws from);
    :meth:`sample` picks one id. ``history``: the context's token ids (int32 or int64, 1-d), which
    the repetition penalty reads; ids must be in the vocabulary.
    """

    def __init__(self, params: SamplingParams, vocab_size: int):
        self.params, self.vocab_size = params, int(vocab_size)
        self.arena = Arena(
            [
                ("work", (vocab_size,), np.float64),
                ("scratch", (vocab_size,), np.float64),
                ("seen", (vocab_size,), np.uint8),
            ]
        )
        self.arena["seen"][:] = 0
        self._shape = (self.vocab_size,)
        self.rng = np.random.default_rng(params.seed)

    def _window(self, history: np.ndarray) -> np.ndarray:
        n = self.params.repeat_last_n
        return history[-n:] if n and history.shape[0] > n else history

    def _run(
        self, logits: np.ndarray, history: np.ndarray, temperature: float, top_k: int, top_p: float, min_p: float
    ) -> np.ndarray:
        if logits.shape != self._shape or logits.dtype != np.float32:
            raise QuantError(f"logits must be float32 [{self.vocab_size}], got {logits.dtype} {list(logits.shape)}")
        if history.ndim != 1:
            raise QuantError(f"history must be a 1-d array of token ids, got shape {list(history.shape)}")
        a = self.arena
        if not _process(
            logits,
            self._window(history),
            self.params.repetition_penalty,
            temperature,
            top_k,
            top_p,
            min_p,
            a["work"],
            a["scratch"],
            a["seen"],
        ):
            raise QuantError(f"history holds a token id outside the vocabulary [0, {self.vocab_size})")
        return a["work"]

    def probabilities(self, logits: np.ndarray, history: np.ndarray) -> np.ndarray:
        """The distribution a sampling step draws from, [vocab] float64 (an arena view); for greedy
        params, one-hot at the token :meth:`sample` picks."""
        p = self.params
        if p.is_greedy:
            token = self.sample(logits, history)
            work = self.arena["work"]
            work[:] = 0.0
            work[token] = 1.0
            return work
        return self._run(logits, history, p.temperature, p.top_k, p.top_p, p.min_p)

    def sample(self, logits: np.ndarray, history: np.ndarray) -> int:
        """The next token id for ``logits`` [vocab] float32."""
        p = self.params
        if p.is_greedy:
            if p.repetition_penalty == 1.0:
                if logits.shape != self._shape:
                    raise QuantError(f"logits must be [{self.vocab_size}], got {list(logits.shape)}")
                return argmax(logits)
            return argmax(self._run(logits, history, 1.0, 0, 1.0, 0.0))
        return _draw(self._run(logits, history, p.temperature, p.top_k, p.top_p, p.min_p), self.rng.random())
