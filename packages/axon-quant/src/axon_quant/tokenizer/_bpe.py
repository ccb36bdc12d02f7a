"""Rank-based BPE merges within one pre-tokenized word, as llama.cpp's llm_tokenizer_bpe_session.

The word arrives byte-encoded (every UTF-8 byte one GPT-2 stand-in character). Adjacent symbols
merge lowest merge rank first, the leftmost pair on ties, until no adjacent pair has a rank.
"""

from __future__ import annotations

import heapq

__all__ = ["merge_word"]


def merge_word(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """The symbols ``word`` ends as after every possible merge (a word of n characters: n-1 merges
    at most, O(n log n) with a heap of candidate pairs)."""
    n = len(word)
    if n < 2:
        return [word] if n else []
    symbols = list(word)
    nxt = list(range(1, n)) + [-1]
    prv = list(range(-1, n - 1))
    heap: list[tuple[int, int, str]] = []
    for i in range(n - 1):
        rank = ranks.get((symbols[i], symbols[i + 1]))
        if rank is not None:
            heap.append((rank, i, symbols[i] + symbols[i + 1]))
    heapq.heapify(heap)
    while heap:
        _, left, merged = heapq.heappop(heap)
        right = nxt[left]
        # A pair popped after one of its symbols changed is stale: its text no longer matches.
        if right < 0 or not symbols[left] or symbols[left] + symbols[right] != merged:
            continue
        symbols[left] = merged
        symbols[right] = ""
        nxt[left] = nxt[right]
        if nxt[right] >= 0:
            prv[nxt[right]] = left
        before = prv[left]
        if before >= 0:
            rank = ranks.get((symbols[before], merged))
            if rank is not None:
                heapq.heappush(heap, (rank, before, symbols[before] + merged))
        after = nxt[left]
        if after >= 0:
            rank = ranks.get((merged, symbols[after]))
            if rank is not None:
                heapq.heappush(heap, (rank, left, merged + symbols[after]))
    return [s for s in symbols if s]
