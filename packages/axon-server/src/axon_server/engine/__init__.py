"""The models behind the routes: GGUF generation through a continuous-batching scheduler, BERT embeddings."""

from __future__ import annotations

from .embedder import Embedder
from .generator import GGUFGenerator
from .scheduler import QueueFullError, Scheduler, Sequence, TokenEvent

__all__ = ["Embedder", "GGUFGenerator", "QueueFullError", "Scheduler", "Sequence", "TokenEvent"]
