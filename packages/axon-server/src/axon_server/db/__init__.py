"""The server's database: SQLAlchemy over SQLite by default (any SQLAlchemy URL), a versioned schema."""

from __future__ import annotations

from .database import SCHEMA_VERSION, Database
from .tables import ApiKey, Artifact, Base, RefreshToken, Setting, User

__all__ = ["SCHEMA_VERSION", "ApiKey", "Artifact", "Base", "Database", "RefreshToken", "Setting", "User"]
