"""SentencePiece-style merges by score, as llama.cpp's llm_tokenizer_spm_session.

The text (spaces already escaped to U+2581) starts as one symbol per character. Any adjacent pair
whose concatenation is a vocabulary token may merge; the pair whose token has the highest score
merges first, the leftmost on ties. A symbol left that is no token is emitted as its UTF-8 bytes
(``<0xXX>`` tokens).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

__all__ = ["spm_tokenize"]


def spm_tokenize(
    text: str,
    token_to_id: dict[str, int],
    scores: list[float],
    byte_token: Callable[[int], int],
    out: list[int],
) -> None:
    """Append the ids of ``text`` to ``out``; ``byte_token(b)`` is the id of byte ``b``'s token."""
    n = len(text)
    if n == 0:
        return
    symbols = list(text)
    nxt = list(range(1, n)) + [-1]
    prv = list(range(-1, n - 1))
    heap: list[tuple[float, int, int, int]] = []

    def push(left: int, right: int) -> None:
        merged = symbols[left] + symbols[right]
        token = token_to_id.get(merged)
        if token is not None:
            heapq.heappush(heap, (-scores[token], left, right, len(merged)))

    for i in range(n - 1):
        push(i, i + 1)
    while heap:
        _, left, right, size = heapq.heappop(heap)
        # Symbols only grow, so a pair whose lengths no longer add up is stale.
        if not symbols[left] or not symbols[right] or len(symbols[left]) + len(symbols[right]) != size:
            continue
        symbols[left] += symbols[right]
        symbols[right] = ""
        nxt[left] = nxt[right]
        if nxt[right] >= 0:
            prv[nxt[right]] = left
        if prv[left] >= 0:
            push(prv[left], left)
        if nxt[left] >= 0:
            push(left, nxt[left])
    i = 0
    while i != -1:
        symbol = symbols[i]
        token = token_to_id.get(symbol)
        if token is not None:
            out.append(token)
        else:
            out.extend(byte_token(b) for b in symbol.encode("utf-8"))
        i = nxt[i]
