"""Stopping criteria: max length, eos per row, and stop strings with transformers' documented matching rule."""

from __future__ import annotations

import numpy as np
import pytest

from axon_llm.errors import LLMError
from axon_llm.generation import EosTokenCriteria, MaxLengthCriteria, StoppingCriteriaList, StopStringCriteria


class PieceTokenizer:
    """Token ``i`` is the string ``pieces[i]``; decoding concatenates."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.index = {p: i for i, p in enumerate(pieces)}

    def ids(self, pieces: list[str]) -> list[int]:
        return [self.index[p] for p in pieces]

    def decode(self, ids, skip_special_tokens=True):
        return "".join(self.pieces[i] for i in ids)


class ByteTokenizer:
    """Token ``i`` is the byte ``i``; decoding is UTF-8 with U+FFFD for incomplete characters."""

    def decode(self, ids, skip_special_tokens=True):
        return bytes(ids).decode("utf-8", errors="replace")


PIECES = ["st", "op", "stop", "opera", "sto", "pper", "las", "topper", "s", "to", "pped", "at", "tion", "x", " "]

# transformers' StopStringCriteria docstring: these end on "stop" ...
MATCHING = [["st", "op"], ["stop"], ["st", "opera"], ["sto", "pper"], ["las", "topper"], ["s", "to", "pped"]]
# ... and these do not (the stop string does not reach into the last token).
NOT_MATCHING = [["stop", "at"], ["st", "op", "at"], ["st", "opera", "tion"]]


@pytest.mark.parametrize("pieces", MATCHING)
def test_stop_string_matches_the_documented_cases(pieces):
    tokenizer = PieceTokenizer(PIECES)
    criterion = StopStringCriteria(tokenizer, "stop")
    row = tokenizer.ids(["x", " "] + pieces)
    assert criterion(np.array([row])).tolist() == [True]


@pytest.mark.parametrize("pieces", NOT_MATCHING)
def test_stop_string_needs_the_last_token(pieces):
    tokenizer = PieceTokenizer(PIECES)
    criterion = StopStringCriteria(tokenizer, ["stop"])
    assert criterion(np.array([tokenizer.ids(["x"] + pieces)])).tolist() == [False]


def test_stop_string_per_row_and_several_strings():
    tokenizer = PieceTokenizer(PIECES)
    criterion = StopStringCriteria(tokenizer, ["stop", "xat"])
    rows = np.array(
        [
            tokenizer.ids(["x", "x", "st", "op"]),
            tokenizer.ids(["x", "x", "x", "at"]),
            tokenizer.ids(["x", "st", "op", "x"]),
        ]
    )
    assert criterion(rows).tolist() == [True, True, False]


def test_stop_string_far_back_in_a_long_row_does_not_match():
    tokenizer = PieceTokenizer(PIECES)
    criterion = StopStringCriteria(tokenizer, "stop")
    row = tokenizer.ids(["stop"] + ["x"] * 500)
    assert criterion(np.array([row])).tolist() == [False]
    assert criterion(np.array([row + tokenizer.ids(["sto", "pped"])])).tolist() == [True]


def test_stop_string_completed_by_the_last_byte_of_a_character():
    tokenizer = ByteTokenizer()
    criterion = StopStringCriteria(tokenizer, "né")
    data = list("ab né".encode())
    assert criterion(np.array([data])).tolist() == [True]
    # One byte short of the "é": no match yet.
    assert criterion(np.array([data[:-1]])).tolist() == [False]


def test_stop_string_needs_a_decoder():
    with pytest.raises(LLMError, match="decode"):
        StopStringCriteria(object(), "stop")
    with pytest.raises(LLMError, match="non-empty"):
        StopStringCriteria(ByteTokenizer(), [""])


def test_max_length_and_eos_per_row():
    ids = np.array([[5, 1, 2], [5, 3, 4], [5, 9, 7]])
    assert MaxLengthCriteria(3)(ids).tolist() == [True, True, True]
    assert MaxLengthCriteria(4)(ids).tolist() == [False, False, False]
    assert EosTokenCriteria(4)(ids).tolist() == [False, True, False]
    assert EosTokenCriteria([2, 7])(ids).tolist() == [True, False, True]
    combined = StoppingCriteriaList([MaxLengthCriteria(4), EosTokenCriteria(2)])
    assert combined(ids).tolist() == [True, False, False]
