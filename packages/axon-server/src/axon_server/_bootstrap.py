"""First-start work on the database: the schema, the JWT secret (made once, kept in the database
so tokens outlive a restart) and, on an empty user table, the admin named by ``AXON_ADMIN_USER`` /
``AXON_ADMIN_PASSWORD``."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

from sqlalchemy import func, select

from .db import Database, Setting, User
from .security import hash_password

__all__ = ["prepare_database"]


def prepare_database(database: Database) -> str:
    """Migrate ``database``; returns the JWT signing secret."""
    database.migrate()
    with database.session() as session:
        row = session.get(Setting, "jwt_secret")
        if row is None:
            row = Setting(key="jwt_secret", value=secrets.token_urlsafe(48))
            session.add(row)
        name, password = os.environ.get("AXON_ADMIN_USER"), os.environ.get("AXON_ADMIN_PASSWORD")
        if name and password and session.execute(select(func.count(User.id))).scalar_one() == 0:
            session.add(
                User(username=name, password_hash=hash_password(password), role="admin", created_at=datetime.now(UTC))
            )
        return row.value
