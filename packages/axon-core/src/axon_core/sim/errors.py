"""Errors of the cuda-sim executor: each names the kernel, the block and, where known, the thread."""

from __future__ import annotations

from ..errors import AxonError

__all__ = [
    "SimError",
    "SimLaunchError",
    "SimDeadlockError",
    "SimMemoryError",
    "SimTimeoutError",
    "SimTrapError",
    "SimRaceError",
]


class SimError(AxonError, RuntimeError):
    """A kernel failed under cuda-sim. ``block`` and ``thread`` are (x, y, z) indices or None."""

    def __init__(
        self,
        message: str,
        *,
        kernel: str,
        block: tuple[int, int, int] | None = None,
        thread: tuple[int, int, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.kernel = kernel
        self.block = block
        self.thread = thread


class SimLaunchError(SimError, ValueError):
    """A launch configuration or argument list the GPU would reject (block too large, wrong arg type)."""


class SimDeadlockError(SimError):
    """Threads of a block wait at a barrier or warp op that the others never reach."""


class SimMemoryError(SimError):
    """An out-of-bounds or invalid memory access (a fault, or a guard/canary hit in debug mode)."""


class SimTimeoutError(SimError):
    """The launch ran past its time limit (an endless loop in a kernel)."""


class SimTrapError(SimError):
    """A device ``assert`` failed or the kernel called ``__trap()``."""


class SimRaceError(SimError):
    """Two operations on different streams (or a stream and the host) touch one allocation, at
    least one of them writing, and nothing orders them: on a GPU the result would depend on timing.
    ``kernel`` names the operation being issued; the message names both and the allocation."""
