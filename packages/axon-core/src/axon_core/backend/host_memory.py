"""Keep freed heap memory in the process for the next allocation of the same size.

A training step frees and re-allocates the same multi-megabyte arrays (activations, im2col
columns, gradients) every iteration. glibc's malloc hands memory at the top of the heap back to
the kernel once it exceeds its trim threshold, and the next step faults every page in again; on
a virtual machine a page fault costs microseconds, and a LeNet step made ~3000 of them (12 ms
of a 40 ms step). Raising ``M_TOP_PAD`` keeps that much freed memory mapped. Set
``AXON_MALLOC_TOP_PAD`` (bytes; ``0`` = leave malloc alone) to change it; on a C library other
than glibc nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["DEFAULT_TOP_PAD", "retain_freed_memory"]

DEFAULT_TOP_PAD = 64 * 2**20
_M_TOP_PAD = -2  # from glibc's malloc.h
_applied: int | None = None


def retain_freed_memory() -> int:
    """Apply ``AXON_MALLOC_TOP_PAD`` (default 64 MiB) once per process; returns the bytes set (0: none)."""
    global _applied
    if _applied is None:
        raw = os.environ.get("AXON_MALLOC_TOP_PAD", str(DEFAULT_TOP_PAD))
        try:
            top_pad = int(raw)
        except ValueError:
            raise ValueError(f"AXON_MALLOC_TOP_PAD must be a number of bytes, got {raw!r}") from None
        _applied = 0
        libc_name = ctypes.util.find_library("c")
        if top_pad > 0 and libc_name:
            libc = ctypes.CDLL(libc_name)
            # mallopt is glibc's; musl and macOS lack it (or the option), and returns 1 on success.
            if (
                hasattr(libc, "gnu_get_libc_version")
                and hasattr(libc, "mallopt")
                and libc.mallopt(_M_TOP_PAD, min(top_pad, 2**31 - 1)) == 1
            ):
                _applied = top_pad
    return _applied
