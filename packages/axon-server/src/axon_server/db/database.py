"""Opening the database and bringing its schema to :data:`SCHEMA_VERSION`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import create_engine, event, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from .tables import ApiKey, Artifact, Job, RefreshToken, SchemaVersion, Setting, User

__all__ = ["SCHEMA_VERSION", "Database"]


def _v1(conn: Connection) -> None:
    for table in (SchemaVersion, Setting, User, ApiKey, RefreshToken):
        table.__table__.create(conn, checkfirst=True)


def _v2(conn: Connection) -> None:
    Artifact.__table__.create(conn, checkfirst=True)


def _v3(conn: Connection) -> None:
    Job.__table__.create(conn, checkfirst=True)


#: Migration ``i`` brings the schema from version ``i`` to ``i + 1``; append, never edit.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3]
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """``url``: an SQLAlchemy URL (``sqlite:///path/axon.db`` by default; PostgreSQL by URL).
    :meth:`migrate` creates or upgrades the schema; :meth:`session` is a unit of work."""

    def __init__(self, url: str):
        self.url = url
        sqlite = url.startswith("sqlite")
        self.engine = create_engine(url, connect_args={"check_same_thread": False} if sqlite else {})
        if sqlite:

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_connection, _record) -> None:  # foreign keys are off by default in SQLite
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.close()

        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def version(self) -> int:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("schema_version"):
                return 0
            return max(conn.execute(select(SchemaVersion.version)).scalars(), default=0)

    def migrate(self) -> int:
        """Apply the migrations past the stored version, each with its version row in one
        transaction; returns the version reached. A database newer than this code is refused."""
        current = self.version()
        if current > SCHEMA_VERSION:
            raise RuntimeError(f"the database is at schema version {current}; this server knows {SCHEMA_VERSION}")
        for version in range(current, SCHEMA_VERSION):
            with self.engine.begin() as conn:
                MIGRATIONS[version](conn)
                conn.execute(SchemaVersion.__table__.insert().values(version=version + 1, applied_at=datetime.now(UTC)))
        return SCHEMA_VERSION

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
