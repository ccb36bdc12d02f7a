"""API keys: ``axk_`` + 43 url-safe characters (256 random bits); stored as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["KEY_PREFIX", "digest", "new_api_key"]

KEY_PREFIX = "axk_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the database keeps of a key or refresh token (hex SHA-256; the secret is random, so no salt)."""
    return hashlib.sha256(secret.encode()).hexdigest()
