"""The backend protocol.

A backend owns how arrays of one device are made, moved and computed on. Plain array math
(add, mul, sum, matmul, indexing) goes through ``backend.xp``, which is NumPy on the CPU and
CuPy on CUDA; their APIs agree, so axon-tensor writes each op once. The fused ops below are the
ones where a hand-written CUDA kernel pays; the CPU backend implements them in NumPy and the
CUDA backend launches our kernels. Shapes are documented per op; unless stated, ops take and
return arrays of the backend's ``xp`` and work over the last dimension.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..device import Device

__all__ = ["Backend"]

Array = Any


class Backend(ABC):
    """Base class of every backend. Subclasses set ``xp`` and implement the fused ops."""

    name: str = "abstract"
    xp: Any = np
    #: True when arrays of this backend are NumPy arrays living in host memory.
    host_memory: bool = True

    def __init__(self, device: "Device") -> None:
        self.device = device

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.device})"

    # -- moving data -------------------------------------------------------------------------
    @abstractmethod
    def from_numpy(self, array: np.ndarray) -> Array:
        """Copy (or, on the CPU, share) a host array onto this device."""

    @abstractmethod
    def to_numpy(self, array: Array) -> np.ndarray:
        """A host NumPy array with the values of ``array`` (shares memory when on the host)."""

    def synchronize(self) -> None:
        """Wait until every queued op of this device has finished."""

    def memory_stats(self) -> dict[str, int]:
        """Bytes ``in_use``, ``cached`` and ``peak`` of this device's pool (zeros on the CPU)."""
        return {"in_use": 0, "cached": 0, "peak": 0, "limit": 0}

    def reset_peak_memory_stats(self) -> None:
        """Start measuring ``peak`` again from the current ``in_use``."""

    def set_memory_limit(self, limit_bytes: int | None) -> None:
        """Cap the pool at ``limit_bytes`` (None lifts the cap)."""
