"""The FastAPI application: routers, OpenAI-shaped errors, and a lifespan that loads the models once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ._body_limit import BodyLimit
from ._bootstrap import prepare_database
from .config import ServerConfig
from .db import Database
from .errors import install_error_handlers
from .jobs import JobRunner
from .registry import ModelRegistry
from .routers import auth, chat, completions, embeddings, files, health, jobs, metrics, models, users
from .security import LoginLimiter, TokenIssuer
from .storage import reclaim_debris

__all__ = ["create_app"]


def create_app(config: ServerConfig) -> FastAPI:
    """The server for ``config``; when the app starts (uvicorn, or entering a ``TestClient``) its
    database is created or migrated, the job runner starts (resuming jobs a stop cut off) and its
    models load, once; all stop when it stops. CORS is off (no CORS middleware)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        Path(config.data_dir).mkdir(parents=True, exist_ok=True)
        database = Database(config.db_url)
        registry = ModelRegistry(config)
        runner = JobRunner(
            database, Path(config.data_dir) / "jobs", max_workers=config.max_jobs, max_attempts=config.job_attempts
        )
        try:
            secret = prepare_database(database)
            reclaim_debris(Path(config.data_dir))
            app.state.database = database
            runner.start()
            app.state.jobs = runner
            app.state.tokens = TokenIssuer(secret, access_s=config.access_token_s, refresh_s=config.refresh_token_s)
            app.state.login_limiter = LoginLimiter(config.login_max_failures, config.login_window_s)
            registry.load()
            app.state.registry = registry
            yield
        finally:
            runner.stop()
            registry.close()
            database.close()

    app = FastAPI(title="axon-server", version="0.1.0", lifespan=lifespan)
    app.state.config = config
    app.state.request_counts = metrics.RequestCounts()
    install_error_handlers(app)
    for module in (health, metrics, auth, users, models, chat, completions, embeddings, jobs):
        app.include_router(module.router)
    app.include_router(files.models)
    app.include_router(files.datasets)
    app.add_middleware(metrics.RequestMetrics)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes, exempt=files.UPLOAD_PREFIXES)
    return app
