"""Cut text at special tokens before it is tokenized, as llama.cpp's ``tokenizer_st_partition``.

Each special token, longest first, is searched in every piece of raw text still left, left to
right; a match becomes the token's id and the text on either side new raw pieces. User-defined
tokens are always matched; control and unknown tokens only with ``parse_special``.

The raw pieces are kept as sorted ``[start, end)`` spans of the text, and each token's occurrences
are found in the whole text at once (C-speed ``str.find``) and assigned to the span holding them,
so a long text with many pieces costs one pass per token that occurs, not one per piece.
"""

from __future__ import annotations

from bisect import bisect_right

from ._vocab import CONTROL, LSTRIP, RSTRIP, UNKNOWN, Vocab

__all__ = ["partition"]

_ASCII_SPACE = " \t\n\v\f\r"  # C isspace(): what LSTRIP/RSTRIP remove


def _occurrences(text: str, special: str) -> list[int]:
    """Every start of ``special`` in ``text``, overlapping ones included."""
    found = []
    at = text.find(special)
    while at >= 0:
        found.append(at)
        at = text.find(special, at + 1)
    return found


def partition(text: str, vocab: Vocab, parse_special: bool) -> list[str | int]:
    """``text`` as raw pieces (str) and special token ids (int), in order."""
    if not text:
        return []
    starts, ends = [0], [len(text)]  # the raw spans, sorted and disjoint
    placed: list[tuple[int, int]] = []  # (position, token id) of every match
    hidden = CONTROL | UNKNOWN
    # The 4-character substrings of the text: a token whose first four characters are not among
    # them cannot occur, and this test is a set lookup instead of a scan of the whole text.
    grams = {text[i : i + 4] for i in range(len(text) - 3)}
    for token_id in vocab.special_tokens:
        attr = vocab.attrs[token_id]
        if not parse_special and attr & hidden:
            continue
        special = vocab.tokens[token_id]
        if (len(special) >= 4 and special[:4] not in grams) or special not in text:
            continue
        size = len(special)
        for at in _occurrences(text, special):
            span = bisect_right(starts, at) - 1
            # An occurrence inside an earlier match, or overlapping this token's previous match
            # (already cut off its span), or running past its span's end is not a match.
            if span < 0 or at + size > ends[span]:
                continue
            start, end = starts[span], ends[span]
            left_end = at
            if attr & LSTRIP:
                while left_end > start and text[left_end - 1] in _ASCII_SPACE:
                    left_end -= 1
            right_start = at + size
            if attr & RSTRIP:
                while right_start < end and text[right_start] in _ASCII_SPACE:
                    right_start += 1
            placed.append((at, token_id))
            del starts[span], ends[span]
            if right_start < end:
                starts.insert(span, right_start)
                ends.insert(span, end)
            if left_end > start:
                starts.insert(span, start)
                ends.insert(span, left_end)
    if not placed:
        return [text[starts[0] : ends[0]]] if starts else []
    pieces: list[tuple[int, str | int]] = [(s, text[s:e]) for s, e in zip(starts, ends)]
    pieces += placed
    pieces.sort(key=lambda item: item[0])
    return [piece for _, piece in pieces]
