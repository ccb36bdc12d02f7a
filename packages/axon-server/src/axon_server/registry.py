"""The models a server holds, loaded once at start and shared by every request."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .config import ModelSpec, ServerConfig
from .engine import Embedder, GGUFGenerator, Scheduler
from .errors import APIError

__all__ = ["LoadedModel", "ModelRegistry"]


@dataclass
class LoadedModel:
    """``kind``: ``"generation"`` (``generator`` + ``scheduler``) or ``"embedding"`` (``embedder``)."""

    id: str
    path: Path
    kind: str
    created: int
    generator: GGUFGenerator | None = None
    scheduler: Scheduler | None = None
    embedder: Embedder | None = None


def _kind(path: Path) -> str:
    if path.is_file() and path.suffix == ".gguf":
        return "generation"
    if path.is_dir() and (path / "config.json").is_file():
        return "embedding"
    raise ValueError(f"{path}: not a .gguf file nor an HF folder with config.json")


class ModelRegistry:
    """Loads ``config.models`` (:meth:`load`), starts one scheduler per generation model, and finds
    models by id for the routes (404 in OpenAI's shape for an unknown id or the wrong kind)."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.models: dict[str, LoadedModel] = {}

    def load(self) -> None:
        for spec in self.config.models:
            self.add(spec)

    def add(self, spec: ModelSpec) -> LoadedModel:
        if spec.id in self.models:
            raise ValueError(f"two models are named {spec.id!r}; name them with NAME=PATH")
        kind = _kind(spec.path)
        entry = LoadedModel(spec.id, spec.path, kind, int(time.time()))
        if kind == "generation":
            c = self.config
            entry.generator = GGUFGenerator(spec.path, slots=c.slots, max_ctx=c.max_ctx, threads=c.threads)
            entry.scheduler = Scheduler(entry.generator, max_queue=c.max_queue)
            entry.scheduler.start()
        else:
            entry.embedder = Embedder(spec.path)
        self.models[spec.id] = entry
        return entry

    def close(self) -> None:
        for entry in self.models.values():
            if entry.scheduler is not None:
                entry.scheduler.stop()
            if entry.generator is not None:
                entry.generator.close()
        self.models.clear()

    def get(self, model_id: str, kind: str) -> LoadedModel:
        entry = self.models.get(model_id)
        if entry is None:
            raise APIError(404, f"The model '{model_id}' does not exist", param="model", code="model_not_found")
        if entry.kind != kind:
            raise APIError(
                400,
                f"The model '{model_id}' is a{'n' if entry.kind == 'embedding' else ''} {entry.kind} model; "
                f"this route needs a{'n' if kind == 'embedding' else ''} {kind} model",
                param="model",
                code="wrong_model_kind",
            )
        return entry
