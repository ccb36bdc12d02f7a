"""Streamers: ``generate(..., streamer=s)`` hands them each step's tokens; they turn tokens into text deltas.

As transformers' ``TextStreamer`` / ``TextIteratorStreamer`` (``put(ids)`` per step, ``end()`` once), with
one difference in when text comes out: a delta is every complete character decoded so far, not
every complete word. A character split across tokens (a byte-level BPE emits UTF-8 one byte at a
time for rare characters) decodes to U+FFFD until its last byte arrives; such a tail is held back
and comes out once it decodes, so the deltas never contain half a character, and their
concatenation is the decoded text of all the tokens. ``end()`` flushes whatever is left (a truly
invalid byte sequence then comes out as U+FFFD, as ``decode`` gives it).

Decoding re-runs over the tokens since the last newline (a newline flushes the cache, as
transformers does), so a delta costs the length of the current line, not of the whole text.
"""

from __future__ import annotations

from queue import Queue
from typing import Any

import numpy as np

from ..errors import LLMError
from .stopping import TokenDecoder

__all__ = ["BaseStreamer", "TextIteratorStreamer", "TextStreamer"]

REPLACEMENT_CHARACTER = "\ufffd"


class BaseStreamer:
    """What ``generate`` calls: ``put(ids)`` with the prompt and then each step's new token, ``end()`` once."""

    def put(self, value: Any) -> None:
        raise TypeError(f"{type(self).__name__} is a streamer base; subclass it and define put/end")

    def end(self) -> None:
        raise TypeError(f"{type(self).__name__} is a streamer base; subclass it and define put/end")


class TextStreamer(BaseStreamer):
    """Decodes tokens as they come and prints each complete-text delta to stdout.

    ``skip_prompt`` drops the first ``put`` (the prompt); ``decode_kwargs`` go to ``tokenizer.decode``.
    Subclasses override :meth:`on_finalized_text` to send the deltas elsewhere.
    """

    def __init__(self, tokenizer: TokenDecoder, skip_prompt: bool = False, **decode_kwargs: Any) -> None:
        if not hasattr(tokenizer, "decode"):
            raise LLMError(f"{type(self).__name__}: the tokenizer ({type(tokenizer).__name__}) has no decode(ids)")
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self.token_cache: list[int] = []
        self.print_len = 0
        self.next_tokens_are_prompt = True

    def put(self, value: Any) -> None:
        """Take the ids of one step (``[n]`` or ``[1, n]``) and emit the text they complete."""
        ids = np.asarray(value)
        if ids.ndim > 1:
            if ids.shape[0] > 1:
                raise LLMError(f"{type(self).__name__} streams one sequence; got a batch of {ids.shape[0]}")
            ids = ids[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.next_tokens_are_prompt = False
        self.token_cache.extend(int(i) for i in ids.reshape(-1))
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        complete = len(text.rstrip(REPLACEMENT_CHARACTER))
        printable = text[self.print_len : complete]
        if complete == len(text) and text.endswith("\n"):
            self.token_cache = []
            self.print_len = 0
        else:
            self.print_len = max(self.print_len, complete)
        self.on_finalized_text(printable)

    def end(self) -> None:
        """Flush the rest of the text and signal the end of the stream."""
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs) if self.token_cache else ""
        printable = text[self.print_len :]
        self.token_cache = []
        self.print_len = 0
        self.next_tokens_are_prompt = True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        """Print ``text``; a newline after the last delta."""
        print(text, flush=True, end="" if not stream_end else None)


class TextIteratorStreamer(TextStreamer):
    """Puts each delta in a queue and iterates over them (``for delta in streamer``) until the stream ends.

    Use it with ``generate`` running in another thread, as transformers'; ``timeout`` (seconds) bounds each
    wait for a delta (``queue.Empty`` when it passes). Empty deltas are not queued.
    """

    def __init__(
        self, tokenizer: TokenDecoder, skip_prompt: bool = False, timeout: float | None = None, **decode_kwargs: Any
    ) -> None:
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: Queue[str | None] = Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self) -> TextIteratorStreamer:
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration
        return value
