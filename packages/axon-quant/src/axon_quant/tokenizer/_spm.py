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
    lookup = token_to_id.get
    heappush, heappop = heapq.heappush, heapq.heappop
    symbols = list(text)
    nxt = list(range(1, n)) + [-1]
    prv = list(range(-1, n - 1))
    # (-score, left, right, merged length): the best score first, then the leftmost pair.
    heap: list[tuple[float, int, int, int]] = []
    for i in range(n - 1):
        token = lookup(symbols[i] + symbols[i + 1])
        if token is not None:
            heap.append((-scores[token], i, i + 1, 2))
    heapq.heapify(heap)
    while heap:
        _, left, right, size = heappop(heap)
        merged_left, merged_right = symbols[left], symbols[right]
        # Symbols only grow, so a pair whose lengths no longer add up is stale.
        if not merged_left or not merged_right or len(merged_left) + len(merged_right) != size:
            continue
        merged = symbols[left] = merged_left + merged_right
        symbols[right] = ""
        after = nxt[left] = nxt[right]
        if after >= 0:
            prv[after] = left
            pair = merged + symbols[after]
            token = lookup(pair)
            if token is not None:
                heappush(heap, (-scores[token], left, after, len(pair)))
        before = prv[left]
        if before >= 0:
            pair = symbols[before] + merged
            token = lookup(pair)
            if token is not None:
                heappush(heap, (-scores[token], before, left, len(pair)))
    i = 0
    while i != -1:
        symbol = symbols[i]
        token = lookup(symbol)
        if token is not None:
            out.append(token)
        else:
            out.extend(byte_token(b) for b in symbol.encode("utf-8"))
        i = nxt[i]
