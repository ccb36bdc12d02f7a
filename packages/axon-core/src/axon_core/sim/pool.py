"""The simulated device memory of cuda-sim: a caching pool with CuPy's bookkeeping.

Blocks are rounded up to 512 bytes like CuPy's pool; a freed block (its last array view died)
goes back to the pool's cache and is reused by the next allocation of that size, so ``in_use``,
``cached``, ``peak`` and ``limit`` behave as they do on the GPU.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import TYPE_CHECKING

import numpy as np

from ..errors import AxonError

if TYPE_CHECKING:
    from .streams import StreamOrder

__all__ = ["SimMemoryPool", "SimOutOfMemoryError"]

_ROUND = 512


class SimOutOfMemoryError(AxonError, MemoryError):
    """An allocation would take the pool past its limit."""


class SimMemoryPool:
    """Allocates host buffers that stand for device memory, with in-use/cached/peak/limit accounting.

    ``order``: the device's :class:`~axon_core.sim.streams.StreamOrder`, told of every block handed
    out (a fresh allocation, no accesses yet) and every block given back.
    """

    def __init__(self, device_name: str = "cuda-sim", order: "StreamOrder | None" = None) -> None:
        self._device_name = device_name
        self._order = order
        self._lock = threading.Lock()
        self._free: dict[int, list[np.ndarray]] = {}
        self._in_use = 0
        self._cached = 0
        self._peak = 0
        self._limit = 0

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A new uninitialised array of ``shape`` and ``dtype`` in pool memory."""
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = count * dtype.itemsize
        size = max(_ROUND, -(-nbytes // _ROUND) * _ROUND)
        with self._lock:
            blocks = self._free.get(size)
            if blocks:
                raw = blocks.pop()
                self._cached -= size
            else:
                if self._limit and self._in_use + size > self._limit:
                    self._release_cached_locked()
                if self._limit and self._in_use + size > self._limit:
                    raise SimOutOfMemoryError(
                        f"{self._device_name}: out of memory allocating {nbytes} bytes "
                        f"({self._in_use} in use, limit {self._limit})"
                    )
                raw = np.empty(size, np.uint8)
            self._in_use += size
            self._peak = max(self._peak, self._in_use)
        # The array is made over a ctypes view of the block, not over the block itself: NumPy
        # collapses the bases of views to the memory's owner, so the block would otherwise be
        # "freed" while a view of the array still uses it. The ctypes object stays the base of
        # every view and dies only with the last one.
        if self._order is not None:
            self._order.register(raw.ctypes.data, size)
        window = (ctypes.c_char * max(nbytes, 1)).from_address(raw.ctypes.data)
        array = np.frombuffer(window, dtype=dtype, count=count).reshape(shape)
        weakref.finalize(window, self._give_back, raw, size)
        return array

    def _give_back(self, raw: np.ndarray, size: int) -> None:
        if self._order is not None:
            self._order.forget(raw.ctypes.data)
        with self._lock:
            self._in_use -= size
            self._free.setdefault(size, []).append(raw)
            self._cached += size

    def _release_cached_locked(self) -> None:
        self._free.clear()
        self._cached = 0

    def free_all_blocks(self) -> None:
        """Give the cached (unused) blocks back to the host."""
        with self._lock:
            self._release_cached_locked()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"in_use": self._in_use, "cached": self._cached, "peak": self._peak, "limit": self._limit}

    def reset_peak(self) -> None:
        with self._lock:
            self._peak = self._in_use

    def set_limit(self, limit_bytes: int | None) -> None:
        with self._lock:
            self._limit = int(limit_bytes or 0)
