"""cuda-sim: run our CUDA C kernels on the CPU.

The source string NVRTC compiles is compiled by g++ with a prelude of CUDA built-ins
(``prelude.h``) and run by a fiber runtime (``runtime.h``): one fiber per CUDA thread, one worker
OS thread per core taking whole blocks. ``module(source)`` compiles and caches; a kernel is
launched like ``cuLaunchKernel``: ``module(source).get_function(name)(grid, block, args, shared_mem)``.
Streams and events, and the checker of their ordering, are :mod:`.streams`.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from .errors import (
    SimDeadlockError,
    SimError,
    SimLaunchError,
    SimMemoryError,
    SimRaceError,
    SimTimeoutError,
    SimTrapError,
)
from .launcher import DEFAULT_MAX_DYNAMIC_SHARED, SimKernel, SimModule, launch_options
from .pool import SimMemoryPool, SimOutOfMemoryError
from .streams import SimEvent, SimOp, SimStream, StreamOrder

__all__ = [
    "DEFAULT_MAX_DYNAMIC_SHARED",
    "SimDeadlockError",
    "SimError",
    "SimEvent",
    "SimKernel",
    "SimLaunchError",
    "SimMemoryError",
    "SimMemoryPool",
    "SimModule",
    "SimOp",
    "SimOutOfMemoryError",
    "SimRaceError",
    "SimStream",
    "SimTimeoutError",
    "SimTrapError",
    "StreamOrder",
    "launch_options",
    "module",
]

_modules: dict[tuple[str, tuple[str, ...]], SimModule] = {}
_modules_lock = threading.Lock()


def module(source: str, options: Sequence[str] = (), *, name: str = "kernel") -> SimModule:
    """The compiled :class:`SimModule` of ``source`` (built once per process, cached on disk)."""
    key = (source, tuple(options))
    with _modules_lock:
        compiled = _modules.get(key)
        if compiled is None:
            compiled = SimModule(source, options, name=name)
            _modules[key] = compiled
        return compiled
