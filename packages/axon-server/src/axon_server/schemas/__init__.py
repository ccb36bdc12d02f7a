"""Request bodies of the OpenAI-compatible routes (pydantic, unknown fields refused)."""

from __future__ import annotations

from .chat import ChatCompletionRequest, ChatMessage
from .completions import CompletionRequest
from .embeddings import EmbeddingRequest

__all__ = ["ChatCompletionRequest", "ChatMessage", "CompletionRequest", "EmbeddingRequest"]
