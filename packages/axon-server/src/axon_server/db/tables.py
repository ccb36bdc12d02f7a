"""The tables (SQLAlchemy ORM). Passwords are argon2 hashes; API keys and refresh tokens are kept
as SHA-256 digests, never in the clear."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiKey",
    "Artifact",
    "Base",
    "JOB_STATUSES",
    "Job",
    "RefreshToken",
    "ROLES",
    "SchemaVersion",
    "Setting",
    "User",
]

#: admin: everything, users included; user: their own resources; read-only: reads and inference.
ROLES = ("admin", "user", "read-only")

#: A job's life: queued -> running -> one of the last three (a restart puts a running job back in the queue).
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    __tablename__ = "schema_version"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime)


class Setting(Base):
    """Server-wide values that must outlive a restart (the JWT signing secret)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class RefreshToken(Base):
    """One row per issued refresh token (``jti``); rotated on use, so a replayed one is refused."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[int] = mapped_column(Integer, default=0)


class Artifact(Base):
    """An uploaded model or dataset file: ``kind`` ``"model"`` / ``"dataset"``, versions counted per
    (owner, kind, name). ``stored_as``: the file's name under the data folder (the server's own
    random name; the client's ``filename`` is only metadata)."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("owner_id", "kind", "name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(128))
    stored_as: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Job(Base):
    """A training job: ``axon train`` of a stored config in a worker process. ``folder`` is the
    job's own folder under the data folder (config, files, log, metrics, checkpoints). ``attempts``
    counts worker starts; ``resume_from`` is the checkpoint the next start continues from (set when
    a restart interrupted the job). ``reason`` says why a job failed or was cancelled, or how it
    was resumed."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=True)
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    config_file: Mapped[str] = mapped_column(String(32))
    checkpoint_dir: Mapped[str] = mapped_column(String(128))
    folder: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    resume_from: Mapped[str | None] = mapped_column(String(256), nullable=True)
    cancel_requested: Mapped[int] = mapped_column(Integer, default=0)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
