"""The FastAPI application: routers, OpenAI-shaped errors, and a lifespan that loads the models once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ._body_limit import BodyLimit
from .config import ServerConfig
from .errors import install_error_handlers
from .registry import ModelRegistry
from .routers import chat, completions, embeddings, health, models

__all__ = ["create_app"]


def create_app(config: ServerConfig) -> FastAPI:
    """The server for ``config``; its models load when the app starts (uvicorn, or entering a
    ``TestClient``) and close when it stops. CORS is off (no CORS middleware)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = ModelRegistry(config)
        try:
            registry.load()
            app.state.registry = registry
            yield
        finally:
            registry.close()

    app = FastAPI(title="axon-server", version="0.1.0", lifespan=lifespan)
    app.state.config = config
    install_error_handlers(app)
    for module in (health, models, chat, completions, embeddings):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    return app
