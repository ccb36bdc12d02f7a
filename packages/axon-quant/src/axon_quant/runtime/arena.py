"""A static arena: named buffers planned once from a model's shapes, carved out of one allocation.

The runtime asks for every activation, scratch row and the KV cache up front; :class:`Arena`
lays them out 64-byte aligned (a cache line, so no two buffers share one) in a single
``np.empty`` and hands out views. Nothing is allocated after planning, so the decode loop's
memory is fixed at load time and its size is known before the first token. The device runtime
plans its arena the same way in one device allocation (``allocate``: the backend's ``empty``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..errors import QuantError

__all__ = ["Arena"]

_ALIGN = 64


def _address(array: Any) -> int:
    """Where ``array``'s data starts: a NumPy array's pointer, or a CuPy array's device pointer."""
    return array.ctypes.data if isinstance(array, np.ndarray) else int(array.data.ptr)


def _physical_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


class Arena:
    """One allocation holding named buffers.

    ``plan``: ``(name, shape, dtype)`` triples. ``arena[name]`` is a C-contiguous view of that
    shape and dtype; ``nbytes`` the whole allocation in bytes; ``offsets[name]`` each buffer's
    byte offset. QuantError if a name repeats, a dimension is negative, or the plan needs more
    than this machine's physical memory (an oversized plan comes from a header field such as a
    context length, and must fail before it is allocated).

    ``allocate(nbytes)`` makes the one flat uint8 allocation (default ``np.empty``; a device
    backend's ``empty`` puts the arena on the device, still bounded by the host's memory here,
    and by the device's pool when it allocates).
    """

    def __init__(
        self,
        plan: Iterable[tuple[str, tuple[int, ...], np.typing.DTypeLike]],
        *,
        allocate: Callable[[int], Any] | None = None,
    ):
        layout: list[tuple[str, tuple[int, ...], np.dtype, int]] = []
        offset = 0
        for name, shape, dtype in plan:
            shape, dtype = tuple(int(d) for d in shape), np.dtype(dtype)
            if any(d < 0 for d in shape):
                raise QuantError(f"arena buffer {name!r}: negative dimension in shape {list(shape)}")
            if any(entry[0] == name for entry in layout):
                raise QuantError(f"arena buffer {name!r} is planned twice")
            layout.append((name, shape, dtype, offset))
            offset += -(-int(np.prod(shape, dtype=np.int64)) * dtype.itemsize // _ALIGN) * _ALIGN
        limit = _physical_memory_bytes()
        if limit is not None and offset > limit:
            raise QuantError(
                f"the arena needs {offset / 2**30:.1f} GiB, more than this machine's "
                f"{limit / 2**30:.1f} GiB of memory (lower the context length or batch)"
            )
        self.nbytes = offset
        # Over-allocate one alignment unit so the first buffer can start on a cache line.
        size = offset + _ALIGN
        self._memory = np.empty(size, dtype=np.uint8) if allocate is None else allocate(size)
        start = -_address(self._memory) % _ALIGN
        self.offsets: dict[str, int] = {}
        self._views: dict[str, np.ndarray] = {}
        for name, shape, dtype, at in layout:
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            self._views[name] = self._memory[start + at : start + at + size].view(dtype).reshape(shape)
            self.offsets[name] = at

    def __getitem__(self, name: str) -> np.ndarray:
        return self._views[name]

    def __contains__(self, name: str) -> bool:
        return name in self._views

    def names(self) -> list[str]:
        return list(self._views)

    def owns(self, array: np.ndarray) -> bool:
        """Whether ``array`` is memory of this arena (a buffer or a view into one)."""
        base, lo = _address(self._memory), _address(array)
        return base <= lo and lo + array.nbytes <= base + self._memory.nbytes

    def __repr__(self) -> str:
        return f"Arena({len(self._views)} buffers, {self.nbytes / 2**20:.1f} MiB)"
