"""What a server runs with: the models it serves and its limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ModelSpec", "ServerConfig"]


@dataclass(frozen=True)
class ModelSpec:
    """One model to serve: ``id`` (the name clients pass as ``model``) and ``path`` (a GGUF file
    for generation, or a BERT-family HF folder for embeddings)."""

    id: str
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """``PATH`` or ``NAME=PATH``; without a name the id is the file's stem or the folder's name."""
        name, sep, path = text.partition("=")
        if not sep:
            name, path = "", text
        p = Path(path)
        return cls(name or (p.stem if p.suffix == ".gguf" else p.name), p)


@dataclass(frozen=True)
class ServerConfig:
    """``models``: what to load at start (once, shared by every request). ``api_key``: the bearer
    token accepted (default: ``AXON_API_KEY`` from the environment). ``slots``: sequences a
    generation model decodes at once per step; ``max_queue``: requests waiting for a slot before
    new ones get 429. ``max_ctx``: KV-cache positions per slot. ``threads``: kernel threads.
    ``max_body_bytes``: larger JSON bodies get 413. ``max_n`` / ``max_embedding_inputs``: caps.
    ``data_dir``: the database (SQLite by default) and stored files; ``database_url``: another
    SQLAlchemy URL (PostgreSQL). Token lifetimes in seconds; ``login_max_failures`` failed logins
    per username or address within ``login_window_s`` seconds lock further attempts (429).
    ``max_jobs``: training jobs run at once (each a worker process); ``job_attempts``: worker
    starts a job gets across server restarts before it is marked failed."""

    models: tuple[ModelSpec, ...] = ()
    api_key: str | None = field(default_factory=lambda: os.environ.get("AXON_API_KEY") or None)
    slots: int = 4
    max_queue: int = 64
    max_ctx: int = 2048
    threads: int | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_n: int = 8
    max_embedding_inputs: int = 256
    retry_after_s: int = 1
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("AXON_SERVER_DATA", "axon-server-data")))
    database_url: str | None = None
    access_token_s: int = 900
    refresh_token_s: int = 14 * 86400
    login_max_failures: int = 5
    login_window_s: float = 60.0
    max_upload_bytes: int = 2 * 1024**3
    max_jobs: int = 1
    job_attempts: int = 3

    @property
    def db_url(self) -> str:
        """``database_url``, or SQLite at ``data_dir/axon.db``."""
        return self.database_url or f"sqlite:///{Path(self.data_dir).resolve() / 'axon.db'}"
