"""JWT access and refresh tokens (HS256 through pyjwt). Access tokens are short-lived and carry the
role; refresh tokens carry a ``jti`` the database tracks, so each is used once (rotation)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

__all__ = ["TokenError", "TokenIssuer"]

_ALGORITHM = "HS256"


class TokenError(Exception):
    """A token that is malformed, forged, expired, or of the other kind."""


class TokenIssuer:
    """Signs with ``secret``; ``access_s`` / ``refresh_s``: lifetimes in seconds."""

    def __init__(self, secret: str, *, access_s: int = 900, refresh_s: int = 14 * 86400, issuer: str = "axon-server"):
        if len(secret) < 32:
            raise ValueError("the JWT secret must be at least 32 characters")
        self.secret, self.access_s, self.refresh_s, self.issuer = secret, access_s, refresh_s, issuer

    def _encode(self, claims: dict[str, Any], lifetime: int) -> str:
        now = int(time.time())
        return jwt.encode({**claims, "iss": self.issuer, "iat": now, "exp": now + lifetime}, self.secret, _ALGORITHM)

    def access(self, user_id: int, username: str, role: str) -> str:
        return self._encode({"sub": str(user_id), "name": username, "role": role, "typ": "access"}, self.access_s)

    def refresh(self, user_id: int) -> tuple[str, str, int]:
        """A refresh token, its ``jti`` and its expiry (unix seconds)."""
        jti = secrets.token_urlsafe(24)
        token = self._encode({"sub": str(user_id), "jti": jti, "typ": "refresh"}, self.refresh_s)
        return token, jti, int(time.time()) + self.refresh_s

    def decode(self, token: str, kind: str) -> dict[str, Any]:
        """The claims of a valid token of ``kind`` (``"access"`` or ``"refresh"``); TokenError otherwise."""
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[_ALGORITHM],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "typ", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid token: {exc}") from exc
        if claims.get("typ") != kind:
            raise TokenError(f"a {claims.get('typ')} token where a {kind} token is needed")
        return claims
