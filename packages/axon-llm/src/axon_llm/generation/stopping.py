"""Stopping criteria: each maps ``input_ids [batch, seq]`` (the rows so far, prompt included) to a bool
``[batch]`` saying which rows are done, with transformers' semantics (``MaxLengthCriteria``,
``EosTokenCriteria``, ``StopStringCriteria``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..errors import LLMError

__all__ = [
    "EosTokenCriteria",
    "MaxLengthCriteria",
    "StopStringCriteria",
    "StoppingCriteria",
    "StoppingCriteriaList",
    "TokenDecoder",
]


class TokenDecoder(Protocol):
    """What stop strings and streamers need of a tokenizer: ``decode(ids) -> str``."""

    def decode(self, ids: Sequence[int], **kwargs: Any) -> str: ...


class StoppingCriteria:
    """Base of every criterion: ``criterion(input_ids) -> done [batch] bool``."""

    def __call__(self, input_ids: np.ndarray) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} is a StoppingCriteria base; subclass it and define __call__")


class StoppingCriteriaList(list):
    """Rows are done when any criterion says so."""

    def __call__(self, input_ids: np.ndarray) -> np.ndarray:
        done = np.zeros(input_ids.shape[0], dtype=bool)
        for criterion in self:
            done |= criterion(input_ids)
        return done


class MaxLengthCriteria(StoppingCriteria):
    """Every row is done once it holds ``max_length`` tokens (prompt included)."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def __call__(self, input_ids: np.ndarray) -> np.ndarray:
        return np.full(input_ids.shape[0], input_ids.shape[1] >= self.max_length, dtype=bool)


class EosTokenCriteria(StoppingCriteria):
    """A row is done when its last token is one of ``eos_token_id``."""

    def __init__(self, eos_token_id: int | Sequence[int]) -> None:
        self.eos_token_id = np.atleast_1d(np.asarray(eos_token_id, dtype=np.int64))

    def __call__(self, input_ids: np.ndarray) -> np.ndarray:
        return np.isin(input_ids[:, -1], self.eos_token_id)


class StopStringCriteria(StoppingCriteria):
    """A row is done when its decoded text has a stop string that ends inside the text of its last token.

    As transformers': the stop string may span several tokens and may overhang either end of them
    (``["st", "opera"]`` stops on ``"stop"``), but it must reach into the last token, so a stop string
    that dropping the last token would leave intact does not match (it matched a step earlier). The
    check decodes only the tail of a row that can hold the longest stop string, so its cost does not
    grow with the sequence.
    """

    def __init__(self, tokenizer: TokenDecoder, stop_strings: str | Sequence[str]) -> None:
        if not hasattr(tokenizer, "decode"):
            raise LLMError(f"StopStringCriteria: the tokenizer ({type(tokenizer).__name__}) has no decode(ids)")
        strings = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings)
        if not strings or not all(isinstance(s, str) and s for s in strings):
            raise LLMError(f"StopStringCriteria: stop_strings must be non-empty strings, got {stop_strings!r}")
        self.tokenizer = tokenizer
        self.stop_strings = strings
        self.longest = max(len(s) for s in strings)

    def _decode(self, ids: np.ndarray) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)

    def _row_done(self, row: np.ndarray) -> bool:
        # Grow the tail until the text before the last token can hold the longest stop string.
        span = 1
        while True:
            span = min(2 * span, row.shape[0])
            before = self._decode(row[-span:-1])
            if len(before) >= self.longest or span == row.shape[0]:
                break
        text = self._decode(row[-span:])
        # Text the last token changed or added starts where `text` and `before` stop agreeing.
        common = 0
        for a, b in zip(before, text):
            if a != b:
                break
            common += 1
        for stop in self.stop_strings:
            start = text.find(stop, max(0, common - len(stop) + 1))
            if start >= 0:
                return True
        return False

    def __call__(self, input_ids: np.ndarray) -> np.ndarray:
        return np.array([self._row_done(row) for row in input_ids], dtype=bool)
