"""FastAPI dependencies: the model registry, a database session, and who the caller is."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi import Path as PathParameter
from sqlalchemy import select
from sqlalchemy.orm import Session

from .db import ApiKey, Database, User
from .errors import APIError
from .registry import ModelRegistry
from .security import Principal, TokenError, digest
from .security.api_keys import KEY_PREFIX

__all__ = [
    "DB",
    "Caller",
    "Registry",
    "RowId",
    "Writer",
    "get_registry",
    "get_session",
    "require_admin",
    "require_auth",
]


def get_registry(request: Request) -> ModelRegistry:
    return request.app.state.registry


def get_session(request: Request) -> Iterator[Session]:
    database: Database = request.app.state.database
    with database.session() as session:
        yield session


def _unauthorized(message: str) -> APIError:
    return APIError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def require_auth(request: Request) -> Principal:
    """The caller of ``Authorization: Bearer TOKEN``: the server's key (``AXON_API_KEY``; an admin),
    a user's API key (``axk_...``), or a JWT access token. 401 otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Missing bearer token: send 'Authorization: Bearer YOUR_KEY'")
    key = request.app.state.config.api_key
    if key is not None and hmac.compare_digest(token.encode(), key.encode()):
        return Principal(None, "server-key", "admin", "server-key")
    database: Database = request.app.state.database
    if token.startswith(KEY_PREFIX):
        with database.session() as session:
            row = session.execute(
                select(User).join(ApiKey, ApiKey.user_id == User.id).where(ApiKey.digest == digest(token))
            ).scalar_one_or_none()
            if row is None:
                raise _unauthorized("Incorrect API key provided")
            return Principal(row.id, row.username, row.role, "api-key")
    try:
        claims = request.app.state.tokens.decode(token, "access")
    except TokenError as exc:
        raise _unauthorized(f"Incorrect API key or token: {exc}") from exc
    with database.session() as session:
        user = session.get(User, int(claims["sub"]))
        if user is None:  # deleted since the token was issued
            raise _unauthorized("The token's user no longer exists")
        return Principal(user.id, user.username, user.role, "jwt")


def require_writer(caller: Annotated[Principal, Depends(require_auth)]) -> Principal:
    if not caller.can_write:
        raise APIError(403, f"The role {caller.role!r} may not change anything", code="read_only")
    return caller


def require_admin(caller: Annotated[Principal, Depends(require_auth)]) -> Principal:
    if not caller.is_admin:
        raise APIError(403, "This needs the admin role", code="admin_only")
    return caller


#: Route parameters: the app's model registry, a database session, the caller (any role / not read-only).
Registry = Annotated[ModelRegistry, Depends(get_registry)]
DB = Annotated[Session, Depends(get_session)]
Caller = Annotated[Principal, Depends(require_auth)]
Writer = Annotated[Principal, Depends(require_writer)]

#: A row id in a route's path: a positive 64-bit integer (a larger one is 422, not a database overflow).
RowId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
