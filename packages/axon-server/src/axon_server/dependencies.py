"""FastAPI dependencies: the model registry and the bearer-token check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from .errors import APIError
from .registry import ModelRegistry

__all__ = ["Registry", "get_registry", "require_auth"]


def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


#: A route parameter that receives the app's :class:`ModelRegistry`.
Registry = Annotated[ModelRegistry, Depends(get_registry)]


def require_auth(request: Request) -> None:
    """``Authorization: Bearer KEY`` where KEY is the server's API key (401 otherwise)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise APIError(
            401,
            "Missing bearer token: send 'Authorization: Bearer YOUR_KEY'",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = request.app.state.config.api_key
    if key is None or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise APIError(
            401, "Incorrect API key provided", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"}
        )
