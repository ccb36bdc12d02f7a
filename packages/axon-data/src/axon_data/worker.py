"""The loop a DataLoader worker process runs, and what a worker knows about itself.

Messages main → worker (on the worker's index queue): ``("fetch", send_idx, index)``,
``("skip", send_idx, index)`` (fetch and drop: replays a resumed epoch), ``("reset", token, None)``
(a new epoch for persistent workers) and ``None`` (exit). Worker → main (on its result pipe):
``(send_idx, kind, payload)`` with kind ``data``, ``error``, ``done`` (iterable dataset ran dry),
``skipped`` or ``reset``. Results are pickled in the worker as they are sent, so a batch that
cannot be pickled turns into an error the main process sees rather than a hang.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import axon_tensor

from .fetch import make_fetcher

__all__ = ["WorkerInfo", "get_worker_info", "ExceptionWrapper"]

# How often an idle worker checks that its parent is still alive.
_PARENT_POLL_S = 0.2


@dataclass(frozen=True)
class WorkerInfo:
    """``id`` (0..num_workers-1), ``num_workers``, ``seed`` (base_seed + id) and this worker's ``dataset`` copy."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker, its :class:`WorkerInfo`; ``None`` in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its traceback text."""

    def __init__(self, exc_info: tuple[Any, BaseException, Any], where: str) -> None:
        exc_type = exc_info[0]
        try:
            pickle.loads(pickle.dumps(exc_type))
        except Exception:
            exc_type = RuntimeError
        self.exc_type = exc_type
        self.message = f"Caught {exc_info[0].__name__} {where}.\nOriginal " + "".join(
            traceback.format_exception(*exc_info)
        )

    def reraise(self) -> None:
        try:
            error = self.exc_type(self.message)
        except Exception:
            error = RuntimeError(self.message)
        raise error


def seed_worker_rngs(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and axon's default generator."""
    random.seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(1)[0])
    axon_tensor.manual_seed(seed)


def worker_loop(
    dataset: Any,
    is_iterable: bool,
    auto_collation: bool,
    collate_fn: Callable[[Any], Any],
    drop_last: bool,
    index_queue: Any,
    result_conn: Any,
    worker_id: int,
    num_workers: int,
    seed: int,
    worker_init_fn: Callable[[int], None] | None,
) -> None:
    global _worker_info
    parent_pid = os.getppid()
    where = f"in DataLoader worker process {worker_id}"
    seed_worker_rngs(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error: ExceptionWrapper | None = None
    fetcher = None
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
        fetcher = make_fetcher(dataset, is_iterable, auto_collation, collate_fn, drop_last)
    except Exception:
        init_error = ExceptionWrapper(sys.exc_info(), where)  # type: ignore[arg-type]
    exhausted = False

    def send(message: tuple[int, str, Any]) -> None:
        try:
            result_conn.send(message)
        except (BrokenPipeError, EOFError, OSError):
            raise
        except Exception:
            result_conn.send((message[0], "error", ExceptionWrapper(sys.exc_info(), where + " while sending a batch")))  # type: ignore[arg-type]

    try:
        while True:
            try:
                message = index_queue.get(timeout=_PARENT_POLL_S)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    return
                continue
            if message is None:
                return
            kind, send_idx, index = message
            if kind == "reset":
                try:
                    fetcher = make_fetcher(dataset, is_iterable, auto_collation, collate_fn, drop_last)
                    exhausted = False
                except Exception:
                    init_error = ExceptionWrapper(sys.exc_info(), where)  # type: ignore[arg-type]
                send((send_idx, "reset", None))
                continue
            if init_error is not None:
                send((send_idx, "error", init_error))
                continue
            if exhausted:
                send((send_idx, "done", None))
                continue
            try:
                batch = fetcher.fetch(index)  # type: ignore[union-attr]
            except StopIteration:
                exhausted = True
                send((send_idx, "done", None))
                continue
            except Exception:
                send((send_idx, "error", ExceptionWrapper(sys.exc_info(), where)))  # type: ignore[arg-type]
                continue
            send((send_idx, "skipped", None) if kind == "skip" else (send_idx, "data", batch))
            del batch
    except (BrokenPipeError, EOFError, OSError, KeyboardInterrupt):
        # The main process went away or is shutting us down: exit quietly.
        return
