"""``POST /v1/chat/completions``: OpenAI's chat completions over a GGUF model's chat template."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from ..dependencies import Registry, require_auth
from ..errors import APIError, error_body
from ..schemas import ChatCompletionRequest
from ._generation import SSE_DONE, Generation, sse

router = APIRouter(prefix="/v1", tags=["inference"], dependencies=[Depends(require_auth)])


def _logprob_entry(gen: Generation, token: int, logprob: float, top: tuple[tuple[int, float], ...]) -> dict:
    text, raw = gen.token_text(token)
    alternatives = []
    for t, lp in top:
        alt_text, alt_raw = gen.token_text(t)
        alternatives.append({"token": alt_text, "logprob": lp, "bytes": alt_raw})
    return {"token": text, "logprob": logprob, "bytes": raw, "top_logprobs": alternatives}


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, registry: Registry
) -> dict[str, Any] | StreamingResponse:
    config = request.app.state.config
    if body.n > config.max_n:
        raise APIError(400, f"n is {body.n}; this server allows at most {config.max_n}", param="n")
    entry = registry.get(body.model, "generation")
    messages = [{"role": m.role, "content": m.text()} for m in body.messages]
    try:
        prompt = entry.generator.encode_chat(messages)
    except Exception as exc:  # the chat template refused the messages
        raise APIError(400, f"The chat template failed: {exc}", param="messages") from exc
    logprobs = (body.top_logprobs or 0) if body.logprobs else None
    gen = Generation(
        entry.scheduler,
        entry.generator,
        body,
        [prompt] * body.n,
        body.max_completion_tokens or body.max_tokens,
        logprobs,
        prompt_tokens=len(prompt),
        retry_after_s=config.retry_after_s,
        id_prefix="chatcmpl",
    )
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(_stream(gen, body.model, include_usage), media_type="text/event-stream")
    texts = [""] * body.n
    entries: list[list[dict]] = [[] for _ in range(body.n)]
    finish: list[str | None] = [None] * body.n
    completion_tokens = 0
    async for event in gen.events(request):
        texts[event.index] += event.text
        if event.token is not None and event.logprob is not None:
            entries[event.index].append(_logprob_entry(gen, event.token, event.logprob, event.top))
        if event.finish_reason is not None:
            finish[event.index] = event.finish_reason
            completion_tokens += event.completion_tokens
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": texts[i]},
            "logprobs": {"content": entries[i]} if logprobs is not None else None,
            "finish_reason": finish[i],
        }
        for i in range(body.n)
    ]
    return {
        "id": gen.id,
        "object": "chat.completion",
        "created": gen.created,
        "model": body.model,
        "choices": choices,
        "usage": gen.usage(completion_tokens),
    }


async def _stream(gen: Generation, model: str, include_usage: bool) -> AsyncIterator[str]:
    head = {"id": gen.id, "object": "chat.completion.chunk", "created": gen.created, "model": model}

    def chunk(index: int, delta: dict, finish: str | None = None, logprobs: dict | None = None) -> str:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return sse({**head, "choices": [choice], **({"usage": None} if include_usage else {})})

    for seq in gen.sequences:
        yield chunk(seq.index, {"role": "assistant", "content": ""})
    completion_tokens = 0
    try:
        async for event in gen.events():
            logprobs = None
            if event.token is not None and event.logprob is not None:
                logprobs = {"content": [_logprob_entry(gen, event.token, event.logprob, event.top)]}
            if event.text or logprobs is not None:
                yield chunk(event.index, {"content": event.text}, logprobs=logprobs)
            if event.finish_reason is not None:
                completion_tokens += event.completion_tokens
                yield chunk(event.index, {}, event.finish_reason)
    except APIError as exc:  # the status line is sent already: the error goes in the stream
        yield sse(error_body(exc.status, exc.message, exc.param, exc.code))
        return
    if include_usage:
        yield sse({**head, "choices": [], "usage": gen.usage(completion_tokens)})
    yield SSE_DONE
