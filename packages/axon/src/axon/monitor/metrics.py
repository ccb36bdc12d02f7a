"""The metrics a training run reports, kept in memory (bounded) and served as JSON."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["History", "RunMetrics"]


def _finite_or_none(value: float | None) -> float | None:
    # JSON has no NaN/inf; a diverged loss is shown as a gap, not as invalid JSON.
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class History:
    """At most ``size`` records of a series of any length: the newest ``size // 2`` all kept, the
    older ones a uniform sample (TensorBoard's reservoir: each older record is kept with equal
    probability, from a seeded generator so a run's view is reproducible). ``records()`` is in
    logging order; ``seen`` counts every record ever added."""

    def __init__(self, size: int = 2000, seed: int = 0) -> None:
        if size < 2:
            raise ValueError(f"History: size must be at least 2, got {size}")
        self.recent: deque[dict[str, Any]] = deque(maxlen=size // 2)
        self.sample: list[dict[str, Any]] = []
        self.sample_size = size - size // 2
        self.seen = 0
        self._older = 0
        self._rng = random.Random(seed)

    def add(self, record: dict[str, Any]) -> None:
        self.seen += 1
        if len(self.recent) == self.recent.maxlen:
            self._keep_older(self.recent[0])
        self.recent.append(record)

    def _keep_older(self, record: dict[str, Any]) -> None:
        # Vitter's algorithm R, in TensorBoard's form: a kept record leaves from a random place and the
        # new one joins at the end, so the sample stays in logging order.
        self._older += 1
        if len(self.sample) < self.sample_size:
            self.sample.append(record)
            return
        slot = self._rng.randrange(self._older)
        if slot < self.sample_size:
            self.sample.pop(slot)
            self.sample.append(record)

    def records(self) -> list[dict[str, Any]]:
        return [*self.sample, *self.recent]

    def __len__(self) -> int:
        return len(self.sample) + len(self.recent)


@dataclass
class RunMetrics:
    """Everything the dashboard shows about one run. Thread-safe: the training loop writes,
    the HTTP server reads. Memory is bounded: ``history`` epochs and ``history`` steps at most
    (see :class:`History`); the best validation loss and the counts cover every record."""

    name: str
    param_count: int
    total_epochs: int | None = None
    batch_size: int | None = None
    status: str = "created"
    history: int = 2000
    started_at: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._epochs = History(self.history, seed=0)
        self._steps = History(self.history, seed=1)
        self._best: tuple[float, int] | None = None
        self._last_epoch_time: float | None = None

    @property
    def epochs(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._epochs.records()

    @property
    def steps(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._steps.records()

    def add_epoch(self, epoch: int, train_loss: float, val_loss: float | None, extras: dict[str, float]) -> None:
        record = {
            "epoch": int(epoch),
            "train_loss": _finite_or_none(train_loss),
            "val_loss": _finite_or_none(val_loss),
            "extras": {str(k): _finite_or_none(v) for k, v in extras.items()},
            "time": time.time(),
        }
        with self._lock:
            self._epochs.add(record)
            self._last_epoch_time = record["time"]
            candidate = (record["val_loss"], record["epoch"])
            if candidate[0] is not None and (self._best is None or candidate < self._best):
                self._best = candidate

    def add_step(self, step: int, loss: float, extras: dict[str, float]) -> None:
        record = {
            "step": int(step),
            "loss": _finite_or_none(loss),
            "extras": {str(k): _finite_or_none(v) for k, v in extras.items()},
            "time": time.time(),
        }
        with self._lock:
            self._steps.add(record)

    def set_status(self, status: str) -> None:
        with self._lock:
            self.status = str(status)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready dict: the run, its (bounded) history, best validation loss and ETA in seconds."""
        with self._lock:
            epochs = self._epochs.records()
            steps = self._steps.records()
            epochs_logged, steps_logged = self._epochs.seen, self._steps.seen
            status, best, last = self.status, self._best, self._last_epoch_time
        now = time.time()
        eta = None
        if self.total_epochs and last is not None:
            per_epoch = (last - self.started_at) / epochs_logged
            eta = max(0.0, per_epoch * (self.total_epochs - epochs_logged))
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
            "steps": steps,
            "epochs_logged": epochs_logged,
            "steps_logged": steps_logged,
        }
