"""Beam search bookkeeping, a NumPy port of transformers 5.x ``GenerationMixin._beam_search`` and its helpers
(``_get_top_k_continuations``, ``_get_running_beams_for_next_iteration``, ``_update_finished_beams``,
``_check_early_stop_heuristic``, ``_beam_search_has_unfinished_sequences``).

Shapes: ``batch`` prompts, ``num_beams`` running hypotheses each, rows padded to ``max_length``.
Scores are float32 sums of log-probabilities, as transformers keeps them; ``-1e9`` marks a slot
that must not be chosen. The model side (forward passes, the cache) stays with the caller: after
each :meth:`BeamSearch.step` it feeds :meth:`last_tokens` and reorders its cache rows by
:meth:`cache_index`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._sampling import sample_without_replacement

__all__ = ["BeamSearch"]

NEG = np.float32(-1.0e9)


def _topk_indices(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest entries of each row, largest first (ties: the lower index first)."""
    return np.argsort(-values, axis=-1, kind="stable")[..., :k]


def _gather_beams(values: np.ndarray, beam_index: np.ndarray) -> np.ndarray:
    """``values [batch, beams, ...]`` at ``beam_index [batch, k]`` along the beam axis -> ``[batch, k, ...]``."""
    index = beam_index.reshape(beam_index.shape + (1,) * (values.ndim - 2))
    return np.take_along_axis(values, index, axis=1)


class BeamSearch:
    """The state of a beam search over ``prompt [batch * num_beams, prompt_len]`` (each prompt repeated)."""

    def __init__(
        self,
        prompt: np.ndarray,
        num_beams: int,
        max_length: int,
        length_penalty: float,
        early_stopping: bool | str,
        eos_token_ids: list[int],
        pad_token_id: int | None,
    ) -> None:
        rows, prompt_len = prompt.shape
        self.batch = rows // num_beams
        self.num_beams = num_beams
        self.max_length = max_length
        self.prompt_len = prompt_len
        self.cur_len = prompt_len
        self.length_penalty = length_penalty
        self.early_stopping = early_stopping
        # Keep (eos count + 1) * num_beams candidates so num_beams of them can go on after any eos.
        self.beams_to_keep = max(2, 1 + len(eos_token_ids)) * num_beams
        self.top_num_beam_mask = np.arange(self.beams_to_keep) < num_beams
        # transformers: `pad_token_id or eos_token_id[0] if eos_token_id is not None else -1`.
        self.fill_value = (pad_token_id or eos_token_ids[0]) if eos_token_ids else -1

        batch = self.batch
        self.running_sequences = np.full((batch, num_beams, max_length), self.fill_value, dtype=np.int64)
        self.running_sequences[:, :, :prompt_len] = prompt.reshape(batch, num_beams, prompt_len)
        self.sequences = self.running_sequences.copy()
        # Only the first beam starts live, so the first step does not pick the same token num_beams times.
        self.running_beam_scores = np.zeros((batch, num_beams), dtype=np.float32)
        self.running_beam_scores[:, 1:] = NEG
        self.beam_scores = np.full((batch, num_beams), NEG, dtype=np.float32)
        self.is_sent_finished = np.zeros((batch, num_beams), dtype=bool)
        self.is_early_stop_heuristic_unsatisfied = np.ones((batch, 1), dtype=bool)
        self.next_token_hits_stopping_criteria = np.zeros((batch, num_beams), dtype=bool)
        self.running_beam_indices = np.full((batch, num_beams, max_length - prompt_len), -1, dtype=np.int32)
        self.beam_indices = self.running_beam_indices.copy()

    def flat_running_sequences(self) -> np.ndarray:
        """The running hypotheses ``[batch * num_beams, cur_len]`` (what the logits processors see)."""
        return self.running_sequences[:, :, : self.cur_len].reshape(self.batch * self.num_beams, self.cur_len)

    def last_tokens(self) -> np.ndarray:
        """The token each running hypothesis feeds to the model next, ``[batch * num_beams, 1]``."""
        return self.running_sequences[:, :, self.cur_len - 1].reshape(-1, 1)

    def cache_index(self) -> np.ndarray:
        """For each running hypothesis, the flat row (``batch * num_beams``) it continues: the cache's reorder."""
        return self.running_beam_indices[:, :, self.cur_len - 1 - self.prompt_len].reshape(-1).astype(np.int64)

    def step(
        self,
        log_probs: np.ndarray,
        stopping: Callable[[np.ndarray], np.ndarray],
        rng: np.random.Generator | None = None,
    ) -> bool:
        """Advance by one token given processed ``log_probs [batch * num_beams, vocab]``; True while unfinished.

        ``stopping`` maps candidate rows ``[n, cur_len + 1]`` to done flags ``[n]``; ``rng`` (beam
        sampling) draws the candidates without replacement instead of taking the top ones.
        """
        batch, num_beams, cur_len = self.batch, self.num_beams, self.cur_len
        vocab = log_probs.shape[-1]
        accumulated = log_probs.reshape(batch, num_beams, vocab) + self.running_beam_scores[:, :, None]
        accumulated = accumulated.reshape(batch, num_beams * vocab)

        topk_log_probs, topk_sequences, topk_beam_indices = self._top_k_continuations(accumulated, vocab, rng)
        candidates = topk_sequences[:, :, : cur_len + 1].reshape(batch * self.beams_to_keep, cur_len + 1)
        hits = stopping(candidates).reshape(batch, self.beams_to_keep)
        self.next_token_hits_stopping_criteria = hits
        self._running_beams_for_next_iteration(topk_log_probs, topk_sequences, topk_beam_indices, hits)
        self._update_finished_beams(topk_sequences, topk_log_probs, topk_beam_indices, hits)

        self.cur_len = cur_len + 1
        self._check_early_stop_heuristic()
        return self._has_unfinished_sequences()

    def _top_k_continuations(
        self, accumulated: np.ndarray, vocab: int, rng: np.random.Generator | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if rng is not None:
            from ._math import softmax

            topk_indices = sample_without_replacement(softmax(accumulated), self.beams_to_keep, rng)
        else:
            topk_indices = _topk_indices(accumulated, self.beams_to_keep)
        topk_log_probs = np.take_along_axis(accumulated, topk_indices, axis=1)
        topk_current_beam = topk_indices // vocab
        topk_beam_indices = _gather_beams(self.running_beam_indices, topk_current_beam)
        topk_sequences = _gather_beams(self.running_sequences, topk_current_beam)
        topk_sequences[:, :, self.cur_len] = topk_indices % vocab
        batch_offset = np.arange(self.batch)[:, None] * self.num_beams
        topk_beam_indices[:, :, self.cur_len - self.prompt_len] = topk_current_beam + batch_offset
        return topk_log_probs, topk_sequences, topk_beam_indices

    def _running_beams_for_next_iteration(
        self,
        topk_log_probs: np.ndarray,
        topk_sequences: np.ndarray,
        topk_beam_indices: np.ndarray,
        hits: np.ndarray,
    ) -> None:
        # A candidate that just finished cannot go on: push its score out of reach.
        running_log_probs = topk_log_probs + hits.astype(np.float32) * NEG
        next_index = _topk_indices(running_log_probs, self.num_beams)
        self.running_sequences = _gather_beams(topk_sequences, next_index)
        self.running_beam_scores = _gather_beams(running_log_probs, next_index)
        self.running_beam_indices = _gather_beams(topk_beam_indices, next_index)

    def _update_finished_beams(
        self,
        topk_sequences: np.ndarray,
        topk_log_probs: np.ndarray,
        topk_beam_indices: np.ndarray,
        hits: np.ndarray,
    ) -> None:
        # Only the top num_beams candidates may become finished hypotheses; the rest are spares.
        just_finished = hits & self.top_num_beam_mask[None, :]
        scores = topk_log_probs / np.float32((self.cur_len + 1 - self.prompt_len) ** self.length_penalty)
        beams_are_full = self.is_sent_finished.all(axis=-1, keepdims=True) & (self.early_stopping is True)
        scores = scores + beams_are_full.astype(np.float32) * NEG
        scores = scores + (~self.is_early_stop_heuristic_unsatisfied).astype(np.float32) * NEG
        scores = scores + (~just_finished).astype(np.float32) * NEG

        merged_sequences = np.concatenate([self.sequences, topk_sequences], axis=1)
        merged_scores = np.concatenate([self.beam_scores, scores], axis=1)
        merged_beam_indices = np.concatenate([self.beam_indices, topk_beam_indices], axis=1)
        merged_finished = np.concatenate([self.is_sent_finished, just_finished], axis=1)
        keep = _topk_indices(merged_scores, self.num_beams)
        self.sequences = _gather_beams(merged_sequences, keep)
        self.beam_scores = _gather_beams(merged_scores, keep)
        self.beam_indices = _gather_beams(merged_beam_indices, keep)
        self.is_sent_finished = _gather_beams(merged_finished, keep)

    def _check_early_stop_heuristic(self) -> None:
        # Could the best running beam still beat the worst finished one? (transformers' heuristics
        # per early_stopping value; with "never" and a positive length penalty, at max_length.)
        if self.early_stopping == "never" and self.length_penalty > 0.0:
            best_length = self.max_length - self.prompt_len
        else:
            best_length = self.cur_len - self.prompt_len
        best_running = self.running_beam_scores[:, :1] / np.float32(best_length**self.length_penalty)
        worst_finished = np.where(
            self.is_sent_finished, self.beam_scores.min(axis=1, keepdims=True), np.float32(-1.0e9)
        )
        self.is_early_stop_heuristic_unsatisfied = self.is_early_stop_heuristic_unsatisfied & np.any(
            best_running > worst_finished, axis=-1, keepdims=True
        )

    def _has_unfinished_sequences(self) -> bool:
        improvement_possible = bool(self.is_early_stop_heuristic_unsatisfied.any())
        exists_open_beam = not (bool(self.is_sent_finished.all()) and self.early_stopping is True)
        valid_continuations = not bool(self.next_token_hits_stopping_criteria.all())
        return improvement_possible and exists_open_beam and valid_continuations

    def finalize(self, num_return_sequences: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best ``num_return_sequences`` hypotheses of each prompt: ``sequences [batch * n, prompt + new]``
        (shorter ones padded with the fill value), their length-penalised scores ``[batch * n]`` and
        ``beam_indices [batch * n, new]`` (the flat row each token came from; -1 past a row's end)."""
        n = num_return_sequences
        sequences = self.sequences[:, :n].reshape(self.batch * n, self.max_length)
        scores = self.beam_scores[:, :n].reshape(-1)
        beam_indices = self.beam_indices[:, :n].reshape(self.batch * n, -1)
        generated = int((beam_indices != -1).sum(axis=1).max())
        return sequences[:, : self.prompt_len + generated], scores, beam_indices[:, :generated]
