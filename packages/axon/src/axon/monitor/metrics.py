"""The metrics a training run reports, kept in memory and served as JSON."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunMetrics"]


def _finite_or_none(value: float | None) -> float | None:
    # JSON has no NaN/inf; a diverged loss is shown as a gap, not as invalid JSON.
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass
class RunMetrics:
    """Everything the dashboard shows about one run. Thread-safe: the training loop writes,
    the HTTP server reads."""

    name: str
    param_count: int
    total_epochs: int | None = None
    batch_size: int | None = None
    status: str = "created"
    epochs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_epoch(self, epoch: int, train_loss: float, val_loss: float | None, extras: dict[str, float]) -> None:
        record = {
            "epoch": int(epoch),
            "train_loss": _finite_or_none(train_loss),
            "val_loss": _finite_or_none(val_loss),
            "extras": {str(k): _finite_or_none(v) for k, v in extras.items()},
            "time": time.time(),
        }
        with self._lock:
            self.epochs.append(record)

    def add_step(self, step: int, loss: float, extras: dict[str, float]) -> None:
        record = {
            "step": int(step),
            "loss": _finite_or_none(loss),
            "extras": {str(k): _finite_or_none(v) for k, v in extras.items()},
            "time": time.time(),
        }
        with self._lock:
            self.steps.append(record)

    def set_status(self, status: str) -> None:
        with self._lock:
            self.status = str(status)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready dict: the run, its history, best validation loss and ETA in seconds."""
        with self._lock:
            epochs = list(self.epochs)
            steps = list(self.steps)
            status = self.status
        now = time.time()
        val = [(e["val_loss"], e["epoch"]) for e in epochs if e["val_loss"] is not None]
        best = min(val) if val else None
        eta = None
        if self.total_epochs and epochs:
            per_epoch = (epochs[-1]["time"] - self.started_at) / len(epochs)
            eta = max(0.0, per_epoch * (self.total_epochs - len(epochs)))
        return {
            "name": self.name,
            "param_count": self.param_count,
            "total_epochs": self.total_epochs,
            "batch_size": self.batch_size,
            "status": status,
            "started_at": self.started_at,
            "elapsed_seconds": now - self.started_at,
            "eta_seconds": eta,
            "best_val_loss": None if best is None else best[0],
            "best_epoch": None if best is None else best[1],
            "epochs": epochs,
            "steps": steps[-2000:],
        }
