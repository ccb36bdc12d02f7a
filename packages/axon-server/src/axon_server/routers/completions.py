"""``POST /v1/completions``: OpenAI's (legacy) text completions; a prompt is encoded as
``python -m axon_quant generate --prompt`` encodes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from ..dependencies import Registry, require_auth
from ..errors import APIError, error_body
from ..schemas import CompletionRequest
from ._generation import SSE_DONE, Generation, sse

router = APIRouter(prefix="/v1", tags=["inference"], dependencies=[Depends(require_auth)])


class _Logprobs:
    """OpenAI's completion logprobs of one choice: tokens, token_logprobs, top_logprobs, text_offset."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.token_logprobs: list[float] = []
        self.top_logprobs: list[dict[str, float]] = []
        self.text_offset: list[int] = []
        self.offset = 0

    def add(self, gen: Generation, token: int, logprob: float, top: tuple[tuple[int, float], ...]) -> None:
        text, _ = gen.token_text(token)
        self.tokens.append(text)
        self.token_logprobs.append(logprob)
        self.top_logprobs.append({gen.token_text(t)[0]: lp for t, lp in top})
        self.text_offset.append(self.offset)
        self.offset += len(text)

    def as_dict(self) -> dict[str, list]:
        return {
            "tokens": self.tokens,
            "token_logprobs": self.token_logprobs,
            "top_logprobs": self.top_logprobs,
            "text_offset": self.text_offset,
        }


@router.post("/completions", response_model=None)
async def completions(
    body: CompletionRequest, request: Request, registry: Registry
) -> dict[str, Any] | StreamingResponse:
    config = request.app.state.config
    entry = registry.get(body.model, "generation")
    prompts = [entry.generator.encode_text(p) if isinstance(p, str) else p for p in body.prompts()]
    if not prompts:
        raise APIError(400, "The prompt list is empty", param="prompt")
    if len(prompts) * body.n > config.max_n:
        raise APIError(
            400, f"{len(prompts)} prompts x n={body.n} choices; this server allows at most {config.max_n}", param="n"
        )
    gen = Generation(
        entry.scheduler,
        entry.generator,
        body,
        [p for p in prompts for _ in range(body.n)],
        body.max_tokens,
        body.logprobs,
        prompt_tokens=sum(len(p) for p in prompts),
        retry_after_s=config.retry_after_s,
        id_prefix="cmpl",
    )
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(_stream(gen, body.model, include_usage), media_type="text/event-stream")
    count = len(gen.sequences)
    texts, finish = [""] * count, [None] * count
    logprobs = [_Logprobs() for _ in range(count)]
    completion_tokens = 0
    async for event in gen.events(request):
        texts[event.index] += event.text
        if event.token is not None and event.logprob is not None:
            logprobs[event.index].add(gen, event.token, event.logprob, event.top)
        if event.finish_reason is not None:
            finish[event.index] = event.finish_reason
            completion_tokens += event.completion_tokens
    choices = [
        {
            "index": i,
            "text": texts[i],
            "logprobs": logprobs[i].as_dict() if body.logprobs is not None else None,
            "finish_reason": finish[i],
        }
        for i in range(count)
    ]
    return {
        "id": gen.id,
        "object": "text_completion",
        "created": gen.created,
        "model": body.model,
        "choices": choices,
        "usage": gen.usage(completion_tokens),
    }


async def _stream(gen: Generation, model: str, include_usage: bool) -> AsyncIterator[str]:
    head = {"id": gen.id, "object": "text_completion", "created": gen.created, "model": model}
    completion_tokens = 0
    try:
        async for event in gen.events():
            logprobs = None
            if event.token is not None and event.logprob is not None:
                one = _Logprobs()
                one.add(gen, event.token, event.logprob, event.top)
                logprobs = one.as_dict()
            if event.finish_reason is not None:
                completion_tokens += event.completion_tokens
            if event.text or logprobs is not None or event.finish_reason is not None:
                choice = {
                    "index": event.index,
                    "text": event.text,
                    "logprobs": logprobs,
                    "finish_reason": event.finish_reason,
                }
                yield sse({**head, "choices": [choice]})
    except APIError as exc:
        yield sse(error_body(exc.status, exc.message, exc.param, exc.code))
        return
    if include_usage:
        yield sse({**head, "choices": [], "usage": gen.usage(completion_tokens)})
    yield SSE_DONE
