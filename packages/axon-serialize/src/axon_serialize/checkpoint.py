"""``Checkpoint``: model, optimizer and scheduler state, training progress and RNG states in one
atomic, checksummed file (the axon container)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from .arrays import to_tensor
from .container import read_container, write_container
from .errors import SerializationError, short_repr
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
    def from_dict(cls, state: dict[str, Any], where: str = "TrainingState") -> "TrainingState":
        """The state saved by :meth:`to_dict`; unknown keys are ignored, missing ones take their
        defaults, and a field of the wrong type is a SerializationError naming it."""
        if not isinstance(state, dict):
            raise SerializationError(f"{where}: training state is a {type(state).__name__}, not a dict")
        checks = {
            "epoch": (_is_count, "a non-negative int"),
            "step": (_is_count, "a non-negative int"),
            "loss_history": (_is_numbers, "a list of numbers"),
            "best_metric": (lambda v: v is None or _is_number(v), "a number or null"),
            "metric_histories": (
                lambda v: isinstance(v, dict) and all(isinstance(k, str) and _is_numbers(h) for k, h in v.items()),
                "a dict of lists of numbers",
            ),
        }
        for name, (valid, expected) in checks.items():
            if name in state and not valid(state[name]):
                raise SerializationError(f"{where}: training.{name} is {short_repr(state[name])}, expected {expected}")
        return cls(**{name: state[name] for name in checks if name in state})


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _is_numbers(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) in (int, float) for v in value)


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

    def save(self, path: str | os.PathLike[str], key: bytes | None = None) -> None:
        """Write atomically (temp file, fsync, rename) with a SHA-256 over the whole file, or with
        ``key`` an HMAC-SHA256 (then :meth:`load` needs the same key)."""
        tensors: dict[str, Any] = {}
        tree = {
            "model": encode_tree(self.model, tensors, "model"),
            "optimizer": encode_tree(self.optimizer, tensors, "optimizer"),
            "scheduler": encode_tree(self.scheduler, tensors, "scheduler"),
            "training": encode_tree(self.training.to_dict(), tensors, "training"),
            "rng": encode_tree(self.rng, tensors, "rng"),
            "extra": encode_tree(self.extra, tensors, "extra"),
        }
        write_container(path, tensors, tree, metadata={"kind": "checkpoint"}, key=key)

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: Any = None, key: bytes | None = None) -> "Checkpoint":
        """Read and verify a checkpoint; a damaged file raises :class:`SerializationError`. A file
        saved with ``key`` needs it here; with ``key``, an unkeyed file is refused."""
        arrays, tree, metadata = read_container(path, key=key)
        if metadata.get("kind") != "checkpoint" or not isinstance(tree, dict):
            raise SerializationError(f"{path}: an axon file, but not a checkpoint (kind={metadata.get('kind')!r})")
        tensors = {name: to_tensor(array, device) for name, array in arrays.items()}
        parts = {
            part: decode_tree(tree.get(part), tensors, str(path))
            for part in ("model", "optimizer", "scheduler", "training", "rng", "extra")
        }
        if not isinstance(parts["model"], dict) or not isinstance(parts["training"], dict):
            raise SerializationError(f"{path}: checkpoint lacks model or training state")
        for name in ("optimizer", "scheduler", "rng", "extra"):
            if parts[name] is not None and not isinstance(parts[name], dict):
                raise SerializationError(f"{path}: checkpoint {name} is {short_repr(parts[name])}, not a dict")
        return cls(
            model=parts["model"],
            optimizer=parts["optimizer"],
            scheduler=parts["scheduler"],
            training=TrainingState.from_dict(parts["training"], str(path)),
            rng=parts["rng"] or {},
            extra=parts["extra"] or {},
        )
