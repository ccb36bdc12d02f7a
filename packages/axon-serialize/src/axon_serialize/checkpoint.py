"""``Checkpoint``: model, optimizer and scheduler state, training progress and RNG states in one
atomic, checksummed file (the axon container)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from .arrays import to_tensor
from .container import read_container, write_container
from .errors import SerializationError
from .tree import decode_tree, encode_tree

__all__ = ["TrainingState", "Checkpoint"]


@dataclass
class TrainingState:
    """Where training stands: epoch and step counters, loss history, best metric and named
    metric histories (``{"val_accuracy": [0.81, 0.86, ...]}``)."""

    epoch: int = 0
    step: int = 0
    loss_history: list[float] = field(default_factory=list)
    best_metric: float | None = None
    metric_histories: dict[str, list[float]] = field(default_factory=dict)

    def record(self, name: str, value: float) -> None:
        """Append ``value`` to the history of metric ``name``."""
        self.metric_histories.setdefault(name, []).append(float(value))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "TrainingState":
        known = {
            k: state[k] for k in ("epoch", "step", "loss_history", "best_metric", "metric_histories") if k in state
        }
        return cls(**known)


@dataclass
class Checkpoint:
    """Everything needed to resume a run exactly.

    ``model`` and ``optimizer`` hold state dicts (any nesting of dicts, lists, numbers and
    tensors); ``rng`` holds generator states (e.g. ``{"default": axon.default_generator.get_state(),
    "loader": loader.state_dict()}``); ``extra`` is free-form. Tensors come back on ``device``.
    """

    model: dict[str, Any]
    optimizer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    training: TrainingState = field(default_factory=TrainingState)
    rng: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temp file, fsync, rename) with a SHA-256 over the whole file."""
        tensors: dict[str, Any] = {}
        tree = {
            "model": encode_tree(self.model, tensors, "model"),
            "optimizer": encode_tree(self.optimizer, tensors, "optimizer"),
            "scheduler": encode_tree(self.scheduler, tensors, "scheduler"),
            "training": encode_tree(self.training.to_dict(), tensors, "training"),
            "rng": encode_tree(self.rng, tensors, "rng"),
            "extra": encode_tree(self.extra, tensors, "extra"),
        }
        write_container(path, tensors, tree, metadata={"kind": "checkpoint"})

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: Any = None) -> "Checkpoint":
        """Read and verify a checkpoint; a damaged file raises :class:`SerializationError`."""
        arrays, tree, metadata = read_container(path)
        if metadata.get("kind") != "checkpoint" or not isinstance(tree, dict):
            raise SerializationError(f"{path}: an axon file, but not a checkpoint (kind={metadata.get('kind')!r})")
        tensors = {name: to_tensor(array, device) for name, array in arrays.items()}
        parts = {
            key: decode_tree(tree.get(key), tensors, str(path))
            for key in ("model", "optimizer", "scheduler", "training", "rng", "extra")
        }
        if not isinstance(parts["model"], dict) or not isinstance(parts["training"], dict):
            raise SerializationError(f"{path}: checkpoint lacks model or training state")
        return cls(
            model=parts["model"],
            optimizer=parts["optimizer"],
            scheduler=parts["scheduler"],
            training=TrainingState.from_dict(parts["training"]),
            rng=parts["rng"] or {},
            extra=parts["extra"] or {},
        )
