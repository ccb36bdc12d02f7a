"""Batched matrix products on the host, split over the batch across BLAS's threads.

OpenBLAS threads each GEMM call on its own, so ``np.matmul`` over ``[*, m, k] @ [*, k, n]``
hands work to its threads and waits for them once per matrix. With many small matrices
(attention scores: one ``[Sq, Sk]`` product per batch and head) those hand-offs dominate, and
on a machine whose cores are shared a hand-off to a descheduled thread costs milliseconds: a
product that takes 35 ms single-threaded took 0.3 to 3 s. Here the batch is cut into one slice
per BLAS thread, each slice runs single-threaded BLAS in its own Python thread (NumPy releases
the GIL), and the threads meet once per product, as PyTorch's ``parallel_for`` over the batch.

A stack ``[*, m, k]`` times one matrix ``[k, n]`` is folded into a single ``[rows, k] @ [k, n]``
call instead, which BLAS threads well on its own.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["matmul"]

# float32, float64, complex64, complex128: the dtypes NumPy hands to BLAS.
_BLAS_CHARS = "fdFD"
# Below this many multiply-adds one call beats the cost of waking the threads (tens of µs).
_MIN_SPLIT_WORK = 1 << 21


class _Threads:
    """The BLAS libraries NumPy loaded, found once, and a pool with one worker per BLAS thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held while BLAS is single-threaded for a split product
        self.find_lock = threading.Lock()
        self.controller: Any = None
        self.blas: list[Any] = []
        self.pool: ThreadPoolExecutor | None = None
        self.workers = 0
        self.ready = False

    def _find(self) -> None:
        if not self.ready:
            with self.find_lock:
                if not self.ready:
                    from threadpoolctl import ThreadpoolController

                    self.controller = ThreadpoolController()
                    self.blas = list(self.controller.select(user_api="blas").lib_controllers)
                    self.ready = True

    def count(self) -> int:
        """BLAS's thread count, read live (threadpoolctl or OPENBLAS_NUM_THREADS may set it)."""
        self._find()
        return max((lib.num_threads for lib in self.blas), default=1)

    def single_threaded(self) -> Any:
        """A context in which BLAS runs one thread per call (restored on exit)."""
        self._find()
        return self.controller.limit(limits=1, user_api="blas")

    def executor(self, workers: int) -> ThreadPoolExecutor:
        if self.pool is None or self.workers < workers:
            if self.pool is not None:
                self.pool.shutdown(wait=False)
            self.pool, self.workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="axon-matmul"), workers
        return self.pool


_threads = _Threads()


def _reset_after_fork() -> None:
    # A forked child (a DataLoader worker, say) inherits the pool without its threads and maybe a
    # held lock: start afresh there.
    global _threads
    _threads = _Threads()


os.register_at_fork(after_in_child=_reset_after_fork)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)`` (same result, shapes, broadcasting and errors), faster for stacks."""
    if (
        a.ndim < 2
        or b.ndim < 2
        or (a.ndim == 2 and b.ndim == 2)
        or a.dtype != b.dtype
        or a.dtype.char not in _BLAS_CHARS
    ):
        return np.matmul(a, b)
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.shape[-2] != k:
        return np.matmul(a, b)  # NumPy's ValueError
    if b.ndim == 2:
        rows = math.prod(a.shape[:-1])
        return np.matmul(a.reshape(rows, k), b).reshape(*a.shape[:-1], n)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    threads = _threads.count()
    if threads < 2 or math.prod(batch) * m * n * k < _MIN_SPLIT_WORK or min(m, n, k) == 0:
        return np.matmul(a, b)
    lead = len(batch)
    a = a.reshape((1,) * (lead + 2 - a.ndim) + a.shape)
    b = b.reshape((1,) * (lead + 2 - b.ndim) + b.shape)
    axis = max(range(lead), key=lambda i: batch[i])
    parts = min(threads, batch[axis])
    if parts < 2:
        return np.matmul(a, b)
    out = np.empty(batch + (m, n), dtype=a.dtype)
    bounds = [batch[axis] * i // parts for i in range(parts + 1)]

    def product(part: int) -> None:
        index = (slice(None),) * axis + (slice(bounds[part], bounds[part + 1]),)
        np.matmul(a[index] if a.shape[axis] > 1 else a, b[index] if b.shape[axis] > 1 else b, out=out[index])

    # One product at a time: the BLAS thread count is process-wide, so a second caller must not
    # restore it while the first is still running single-threaded slices.
    with _threads.lock, _threads.single_threaded():
        pending = [_threads.executor(parts - 1).submit(product, part) for part in range(1, parts)]
        try:
            product(0)
        finally:  # never leave slices running once BLAS's thread count is restored
            for future in pending:
                future.result()
    return out
