"""``/auth``: log in (password -> JWT access + refresh), refresh (rotating), log out, who am I,
and the caller's own API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from ..db import ApiKey, RefreshToken, User
from ..dependencies import DB, Caller, RowId
from ..errors import APIError
from ..schemas import ApiKeyCreate, LoginRequest, RefreshRequest
from ..security import TokenError, digest, new_api_key, verify_password

router = APIRouter(prefix="/auth", tags=["auth"])


def _issue(request: Request, db: DB, user: User) -> dict[str, Any]:
    tokens = request.app.state.tokens
    refresh, jti, expires = tokens.refresh(user.id)
    db.add(RefreshToken(jti=jti, user_id=user.id, expires_at=datetime.fromtimestamp(expires, UTC), revoked=0))
    return {
        "access_token": tokens.access(user.id, user.username, user.role),
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": tokens.access_s,
    }


@router.post("/login")
def login(body: LoginRequest, request: Request, db: DB) -> dict[str, Any]:
    """429 with Retry-After once too many attempts failed for this username or address."""
    limiter = request.app.state.login_limiter
    address = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(body.username, address)
    if wait:
        raise APIError(
            429, "Too many failed logins; retry later", code="login_rate_limited", headers={"Retry-After": str(wait)}
        )
    user = db.execute(select(User).where(User.username == body.username)).scalar_one_or_none()
    if not verify_password(user.password_hash if user else None, body.password):
        limiter.failed(body.username, address)
        raise APIError(401, "Incorrect username or password", code="invalid_credentials")
    limiter.succeeded(body.username)
    return _issue(request, db, user)


def _claimed_refresh(request: Request, db: DB, token: str) -> RefreshToken:
    try:
        claims = request.app.state.tokens.decode(token, "refresh")
    except TokenError as exc:
        raise APIError(401, f"Invalid refresh token: {exc}", code="invalid_token") from exc
    row = db.get(RefreshToken, claims.get("jti", ""))
    if row is None or row.revoked or row.user_id != int(claims["sub"]):
        raise APIError(401, "The refresh token was used or revoked already", code="invalid_token")
    return row


@router.post("/refresh")
def refresh(body: RefreshRequest, request: Request, db: DB) -> dict[str, Any]:
    """A new access + refresh pair; the refresh token given is spent."""
    row = _claimed_refresh(request, db, body.refresh_token)
    row.revoked = 1
    user = db.get(User, row.user_id)
    if user is None:
        raise APIError(401, "The token's user no longer exists", code="invalid_token")
    return _issue(request, db, user)


@router.post("/logout")
def logout(body: RefreshRequest, request: Request, db: DB) -> dict[str, bool]:
    _claimed_refresh(request, db, body.refresh_token).revoked = 1
    return {"revoked": True}


@router.get("/me")
def me(caller: Caller) -> dict[str, Any]:
    return {"id": caller.user_id, "username": caller.username, "role": caller.role, "via": caller.via}


def _key_card(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "created_at": key.created_at.isoformat()}


def _user_of(caller: Caller) -> int:
    if caller.user_id is None:
        raise APIError(400, "The server key belongs to no user; log in as a user to manage API keys")
    return caller.user_id


@router.post("/keys", status_code=201)
def create_key(body: ApiKeyCreate, caller: Caller, db: DB) -> dict[str, Any]:
    """A new API key acting as the caller; the key itself is in this answer only."""
    secret = new_api_key()
    key = ApiKey(
        user_id=_user_of(caller),
        name=body.name,
        prefix=secret[:10],
        digest=digest(secret),
        created_at=datetime.now(UTC),
    )
    db.add(key)
    db.flush()
    return {**_key_card(key), "key": secret}


@router.get("/keys")
def list_keys(caller: Caller, db: DB) -> dict[str, Any]:
    rows = db.execute(select(ApiKey).where(ApiKey.user_id == _user_of(caller)).order_by(ApiKey.id)).scalars()
    return {"data": [_key_card(k) for k in rows]}


@router.delete("/keys/{key_id}")
def delete_key(key_id: RowId, caller: Caller, db: DB) -> dict[str, Any]:
    """404 for a key that is not the caller's (another user's key is not revealed to exist)."""
    key = db.get(ApiKey, key_id)
    if key is None or key.user_id != _user_of(caller):
        raise APIError(404, f"No API key {key_id}", code="not_found")
    db.delete(key)
    return {"id": key_id, "deleted": True}
