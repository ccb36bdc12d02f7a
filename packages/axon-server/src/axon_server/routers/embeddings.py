"""``POST /v1/embeddings``: sentence embeddings of a BERT-family model."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from ..dependencies import Registry, require_auth
from ..errors import APIError
from ..schemas import EmbeddingRequest

router = APIRouter(prefix="/v1", tags=["inference"], dependencies=[Depends(require_auth)])


@router.post("/embeddings")
async def embeddings(body: EmbeddingRequest, request: Request, registry: Registry) -> dict[str, Any]:
    config = request.app.state.config
    texts = body.texts()
    if not texts:
        raise APIError(400, "input is an empty list", param="input")
    if len(texts) > config.max_embedding_inputs:
        raise APIError(400, f"input has {len(texts)} strings; at most {config.max_embedding_inputs}", param="input")
    entry = registry.get(body.model, "embedding")
    vectors, tokens = await run_in_threadpool(entry.embedder.embed, texts)
    data = []
    for i, vector in enumerate(vectors):
        value: Any = (
            base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
            if body.encoding_format == "base64"
            else vector.tolist()
        )
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {
        "object": "list",
        "data": data,
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
