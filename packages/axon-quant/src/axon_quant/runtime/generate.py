"""Text generation: prompt in, tokens out one at a time, streamed as text.

``generate`` runs the prompt through :meth:`Model.prefill`, then picks a token, streams its text,
and runs it through :meth:`Model.decode`, until an end-of-generation token (EOS, EOT, ... as the
tokenizer's ``is_eog`` says; not emitted), a stop string (not emitted), ``max_tokens`` or a full
context. Text is produced by the tokenizer's incremental detokenizer, so a character split over
several tokens comes out whole; text that might be the start of a stop string is held back until
it is known not to be.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import QuantError
from ..tokenizer import GGUFTokenizer, IncrementalDetokenizer
from .model import Model
from .sampling import Sampler, SamplingParams
from .stop_strings import StopStrings

__all__ = ["GenerationResult", "generate"]

GREEDY = SamplingParams(greedy=True)


@dataclass(frozen=True)
class GenerationResult:
    """``tokens``: the generated ids (not the end-of-generation token); ``text``: what was emitted;
    ``stop_reason``: ``"eog"``, ``"stop"`` (a stop string), ``"length"`` (max_tokens) or
    ``"context"`` (the KV cache is full); ``prompt_tokens``; ``prompt_s`` / ``decode_s``: seconds
    in the prompt pass and in the decode steps (sampling included)."""

    tokens: list[int]
    text: str
    stop_reason: str
    prompt_tokens: int
    prompt_s: float
    decode_s: float


def generate(
    model: Model,
    tokenizer: GGUFTokenizer,
    prompt: str | Sequence[int],
    *,
    max_tokens: int = 128,
    sampling: SamplingParams = GREEDY,
    stop: Sequence[str] = (),
    on_text: Callable[[str], object] | None = None,
    parse_special: bool = False,
) -> GenerationResult:
    """Generate up to ``max_tokens`` tokens after ``prompt`` (text, encoded with the tokenizer's
    BOS rule and ``parse_special``; or token ids as they are), from an empty context.

    ``on_text`` is called with each piece of text as soon as it is final (streaming). Sampling
    follows ``sampling`` (greedy by default); the repetition penalty sees prompt and output.
    """
    if max_tokens < 0:
        raise QuantError(f"max_tokens must be >= 0, got {max_tokens}")
    ids = (
        tokenizer.encode(prompt, add_special=True, parse_special=parse_special)
        if isinstance(prompt, str)
        else [int(t) for t in prompt]
    )
    if not ids:
        raise QuantError("the prompt is empty (no tokens)")
    if len(ids) >= model.max_ctx:
        raise QuantError(
            f"the prompt has {len(ids)} tokens; the context holds {model.max_ctx} (load with a larger ctx)"
        )
    sampler = Sampler(sampling, model.config.vocab_size)
    history = np.zeros(model.max_ctx, dtype=np.int32)
    history[: len(ids)] = ids
    length = len(ids)
    detokenizer, stops = IncrementalDetokenizer(tokenizer), StopStrings(stop)
    emitted: list[str] = []

    def emit(text: str) -> None:
        if text:
            emitted.append(text)
            if on_text is not None:
                on_text(text)

    model.reset()
    start = time.perf_counter()
    logits = model.prefill(history[:length])
    prompt_s = time.perf_counter() - start
    tokens: list[int] = []
    reason = "length"
    start = time.perf_counter()
    for step in range(max_tokens):
        token = sampler.sample(logits, history[:length])
        if tokenizer.is_eog(token):
            reason = "eog"
            break
        tokens.append(token)
        history[length] = token
        length += 1
        text, stopped = stops.feed(detokenizer.push(token))
        emit(text)
        if stopped:
            reason = "stop"
            break
        if step + 1 == max_tokens:
            break
        if model.position >= model.max_ctx:
            reason = "context"
            break
        logits = model.decode(token)
    decode_s = time.perf_counter() - start
    if reason != "stop":
        text, _ = stops.feed(detokenizer.flush())
        emit(text + stops.held)
    return GenerationResult(tokens, "".join(emitted), reason, len(ids), prompt_s, decode_s)
