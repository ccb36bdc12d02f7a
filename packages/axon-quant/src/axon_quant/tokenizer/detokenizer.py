"""Streaming detokenization: text out as tokens arrive, never half a UTF-8 character."""

from __future__ import annotations

import codecs

from .gguf_tokenizer import GGUFTokenizer

__all__ = ["IncrementalDetokenizer"]


class IncrementalDetokenizer:
    """Feed ids one at a time; each ``push`` returns the text completed by that token.

    A character whose UTF-8 bytes span several tokens (an emoji split into byte tokens) comes out
    whole with the token that completes it; bytes that can never form a character come out as
    U+FFFD. The pieces are ``token_to_piece``'s (no leading-space strip, no space clean-up), so the
    concatenated output equals ``b"".join(token_to_piece(t, not skip_special))`` decoded as UTF-8.
    """

    def __init__(self, tokenizer: GGUFTokenizer, skip_special: bool = True):
        self._tokenizer = tokenizer
        self._special = not skip_special
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        """The text that ``token_id`` completes (``""`` while a character is still partial)."""
        return self._decoder.decode(self._tokenizer.token_to_piece(token_id, self._special))

    def flush(self) -> str:
        """Whatever is still held: an unfinished character at the end becomes U+FFFD."""
        return self._decoder.decode(b"", final=True)

    @property
    def pending(self) -> bytes:
        """The bytes of an unfinished character held back so far."""
        return self._decoder.getstate()[0]
