"""What the chat and completion routes share: sequences for the scheduler, waiting for them
(cancelling on client disconnect), server-sent events, logprobs and usage."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from axon_quant.runtime import SamplingParams

from ..engine import GGUFGenerator, QueueFullError, Scheduler, Sequence, TokenEvent
from ..errors import APIError
from ..schemas.sampling import SamplingFields

__all__ = ["Generation", "sse", "SSE_DONE"]

SSE_DONE = "data: [DONE]\n\n"


def sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def sampling_params(req: SamplingFields, index: int) -> SamplingParams:
    seed = None if req.seed is None else (req.seed + index) % 2**63
    return SamplingParams(temperature=req.temperature, top_p=req.top_p, seed=seed, greedy=req.temperature == 0)


class Generation:
    """The choices of one request (``prompts[i]`` for choice i), queued on ``scheduler``;
    ``prompt_tokens``: what usage reports (each distinct prompt once, as OpenAI counts).
    429 with Retry-After when the queue is full; 400 for a prompt that does not fit the context."""

    def __init__(
        self,
        scheduler: Scheduler,
        generator: GGUFGenerator,
        req: SamplingFields,
        prompts: list[list[int]],
        max_tokens: int | None,
        logprobs: int | None,
        *,
        prompt_tokens: int,
        retry_after_s: int,
        id_prefix: str,
    ):
        for prompt in prompts:
            if not prompt:
                raise APIError(400, "The prompt is empty (no tokens)", param="prompt")
            if len(prompt) >= generator.max_ctx:
                raise APIError(
                    400,
                    f"The prompt has {len(prompt)} tokens; the model's context holds {generator.max_ctx}",
                    param="messages" if id_prefix == "chatcmpl" else "prompt",
                    code="context_length_exceeded",
                )
            bad = [t for t in prompt if not 0 <= t < generator.vocab_size]
            if bad:
                raise APIError(400, f"Token id {bad[0]} is outside the vocabulary [0, {generator.vocab_size})")
        self.generator = generator
        self.id = f"{id_prefix}-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.prompt_tokens = prompt_tokens
        self.queue: asyncio.Queue[TokenEvent] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self.sequences = [
            Sequence(
                i,
                prompt,
                max_tokens if max_tokens is not None else generator.max_ctx - len(prompt),
                sampling_params(req, i),
                req.stop_strings,
                logprobs,
                loop,
                self.queue,
            )
            for i, prompt in enumerate(prompts)
        ]
        try:
            scheduler.submit(self.sequences)
        except QueueFullError as exc:
            raise APIError(
                429,
                f"The server is busy: {exc}; retry later",
                code="queue_full",
                headers={"Retry-After": str(retry_after_s)},
            ) from exc

    def cancel(self) -> None:
        for seq in self.sequences:
            seq.cancel()

    async def events(self, request: Request | None = None) -> AsyncIterator[TokenEvent]:
        """Every event until each choice has finished; with ``request``, a client that went away
        cancels the choices (checked every 0.25 s). Cancelling on exit, so an abandoned stream frees
        its slots at the scheduler's next step."""
        remaining = len(self.sequences)
        try:
            while remaining:
                try:
                    event = await asyncio.wait_for(self.queue.get(), 0.25)
                except TimeoutError:
                    if request is not None and await request.is_disconnected():
                        return
                    continue
                if event.finish_reason is not None:
                    remaining -= 1
                    if event.finish_reason == "error":
                        raise APIError(500, f"Generation failed: {event.error}", code="generation_failed")
                    if event.finish_reason == "cancelled":
                        raise APIError(503, "The server is shutting down", code="cancelled")
                yield event
        finally:
            self.cancel()

    def token_text(self, token: int) -> tuple[str, list[int]]:
        raw = self.generator.token_bytes(token)
        return raw.decode("utf-8", errors="replace"), list(raw)

    def usage(self, completion_tokens: int) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        }
