"""Guarded copies of array arguments for debug launches.

Each argument's bytes are copied into their own mapping, placed so that the data ends right before
64 KiB of PROT_NONE pages and starts after another 64 KiB: an access up to that far past either end
faults, and the fault address names the argument. Alignment keeps up to 63 bytes of slack at each
end; those bytes hold a canary that is checked after the launch, so small overruns that stay inside
the slack are caught as well (writes only). Arguments whose memory overlaps share one mapping, so
aliasing (an output that is also an input) behaves as it does on the device.
"""

from __future__ import annotations

import ctypes
import mmap
from dataclasses import dataclass

import numpy as np

__all__ = ["GuardedArguments", "array_span"]

_PAGE = mmap.PAGESIZE
# PROT_NONE bytes on each side of an argument: an index off by up to this much faults for sure
# (beyond it, the access may land in some other mapping and go unseen). Costs address space only.
_GUARD = 64 * 1024
_ALIGN = 64
_CANARY = 0xA5
_PROT_NONE, _PROT_RW = 0, mmap.PROT_READ | mmap.PROT_WRITE
_MAP_FLAGS = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


def array_span(array: np.ndarray) -> tuple[int, int]:
    """``[low, high)`` host addresses of the bytes ``array``'s elements occupy."""
    start = array.ctypes.data
    if array.size == 0:
        return start, start
    low = high = 0
    for extent, stride in zip(array.shape, array.strides):
        reach = (extent - 1) * stride
        if reach < 0:
            low += reach
        else:
            high += reach
    return start + low, start + high + array.itemsize


@dataclass
class _Region:
    low: int  # span of the original memory
    high: int
    base: int  # the mapping
    length: int
    data: int  # where the span's bytes live inside the mapping
    members: list[int]  # argument indices
    writeable: bool


class GuardedArguments:
    """Copies ``arrays`` (argument index -> array) into guarded mappings for one launch.

    ``pointer(i)`` is the device pointer to pass for argument ``i``; ``describe(address)`` names
    the argument near a faulting address; ``check()`` lists overwritten canaries; ``finish()``
    copies results back and unmaps.
    """

    def __init__(self, arrays: dict[int, np.ndarray]) -> None:
        self._arrays = arrays
        spans = sorted((array_span(a) + (i,) for i, a in arrays.items()), key=lambda s: s[0])
        self._regions: list[_Region] = []
        for low, high, index in spans:
            last = self._regions[-1] if self._regions else None
            if last is not None and low < last.high and high > low:
                last.high = max(last.high, high)
                last.members.append(index)
            else:
                self._regions.append(_Region(low, high, 0, 0, 0, [index], True))
        try:
            for region in self._regions:
                self._map(region)
        except BaseException:
            self._unmap()
            raise

    def _map(self, region: _Region) -> None:
        size = region.high - region.low
        offset = region.low % _ALIGN
        body = -(-(size + offset + _ALIGN) // _PAGE) * _PAGE
        length = body + 2 * _GUARD
        base = _libc.mmap(None, length, _PROT_RW, _MAP_FLAGS, -1, 0)
        if base in (None, ctypes.c_void_p(-1).value):
            raise MemoryError(f"cuda-sim debug: could not map {length} bytes for a guarded argument")
        region.base, region.length = base, length
        end = base + _GUARD + body
        region.data = ((end - size - offset) // _ALIGN) * _ALIGN + offset
        ctypes.memset(base + _GUARD, _CANARY, body)
        if size:
            ctypes.memmove(region.data, region.low, size)
        _libc.mprotect(base, _GUARD, _PROT_NONE)
        _libc.mprotect(end, _GUARD, _PROT_NONE)
        region.writeable = all(self._arrays[i].flags.writeable for i in region.members)

    def pointer(self, index: int) -> int:
        for region in self._regions:
            if index in region.members:
                return region.data + (self._arrays[index].ctypes.data - region.low)
        raise KeyError(index)

    def describe(self, address: int) -> str | None:
        """'3 bytes past the end of argument 2 (float32 [33], 132 bytes)' for the nearest argument, or None."""
        best: tuple[int, str] | None = None
        for region in self._regions:
            size = region.high - region.low
            index = region.members[0]
            array = self._arrays[index]
            what = f"argument {index} ({array.dtype} {list(array.shape)}, {size} bytes)"
            if address >= region.data + size:
                distance, text = address - (region.data + size), f"bytes past the end of {what}"
            elif address < region.data:
                distance, text = region.data - address, f"bytes before the start of {what}"
            else:
                distance, text = 0, f"inside {what}"
            if best is None or distance < best[0]:
                best = (distance, text if text.startswith("inside") else f"{distance} {text}")
        # Farther than a megabyte from every argument, the address is nobody's neighbour.
        return best[1] if best is not None and best[0] < (1 << 20) else None

    def check(self) -> list[str]:
        """Descriptions of canary bytes the kernel overwrote, for every argument."""
        problems: list[str] = []
        for region in self._regions:
            problems.extend(self._check_canaries(region))
        return problems

    def finish(self, copy_back: bool = True) -> list[str]:
        """Copy results back (when ``copy_back``) and unmap. Returns writes into read-only arguments."""
        problems: list[str] = []
        try:
            for region in self._regions:
                size = region.high - region.low
                if not copy_back or size == 0:
                    continue
                result = ctypes.string_at(region.data, size)
                if result == ctypes.string_at(region.low, size):
                    continue
                if not region.writeable:
                    index = region.members[0]
                    problems.append(
                        f"the kernel wrote into read-only argument {index} "
                        f"({self._arrays[index].dtype} {list(self._arrays[index].shape)})"
                    )
                    continue
                ctypes.memmove(region.low, region.data, size)
        finally:
            self._unmap()
        return problems

    def _check_canaries(self, region: _Region) -> list[str]:
        size = region.high - region.low
        start, end = region.base + _GUARD, region.length - _GUARD + region.base
        before = ctypes.string_at(start, region.data - start)
        after = ctypes.string_at(region.data + size, end - region.data - size)
        found = []
        index = region.members[0]
        array = self._arrays[index]
        what = f"argument {index} ({array.dtype} {list(array.shape)}, {size} bytes)"
        bad_after = [k for k, b in enumerate(after) if b != _CANARY]
        if bad_after:
            found.append(f"out-of-bounds write {bad_after[0]} bytes past the end of {what}")
        bad_before = [len(before) - k for k, b in enumerate(before) if b != _CANARY]
        if bad_before:
            found.append(f"out-of-bounds write {bad_before[0]} bytes before the start of {what}")
        return found

    def _unmap(self) -> None:
        for region in self._regions:
            if region.base:
                _libc.munmap(region.base, region.length)
                region.base = 0
