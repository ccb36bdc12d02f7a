"""Request bodies of the routes (pydantic, unknown fields refused)."""

from __future__ import annotations

from .auth import ApiKeyCreate, LoginRequest, RefreshRequest, UserCreate
from .chat import ChatCompletionRequest, ChatMessage
from .completions import CompletionRequest
from .embeddings import EmbeddingRequest
from .jobs import JobCreate

__all__ = [
    "ApiKeyCreate",
    "LoginRequest",
    "RefreshRequest",
    "UserCreate",
    "ChatCompletionRequest",
    "ChatMessage",
    "CompletionRequest",
    "EmbeddingRequest",
    "JobCreate",
]
