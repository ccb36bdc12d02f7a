"""The server's database: SQLAlchemy over SQLite by default (any SQLAlchemy URL), a versioned schema."""

from __future__ import annotations

from .database import SCHEMA_VERSION, Database
from .tables import JOB_STATUSES, ApiKey, Artifact, Base, Job, RefreshToken, Setting, User

__all__ = [
    "JOB_STATUSES",
    "SCHEMA_VERSION",
    "ApiKey",
    "Artifact",
    "Base",
    "Database",
    "Job",
    "RefreshToken",
    "Setting",
    "User",
]
