"""Passwords (argon2), JWT access and refresh tokens (pyjwt), API keys, the login rate limit."""

from __future__ import annotations

from .api_keys import digest, new_api_key
from .login_limit import LoginLimiter
from .passwords import hash_password, verify_password
from .principal import Principal
from .tokens import TokenError, TokenIssuer

__all__ = [
    "LoginLimiter",
    "Principal",
    "TokenError",
    "TokenIssuer",
    "digest",
    "hash_password",
    "new_api_key",
    "verify_password",
]
