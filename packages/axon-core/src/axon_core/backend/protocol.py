"""The backend protocol.

A backend owns how arrays of one device are made, moved and computed on. Plain array math
(add, mul, sum, matmul, indexing) goes through ``backend.xp``, which is NumPy on the CPU and
CuPy on CUDA; their APIs agree, so axon-tensor writes each op once. The fused ops are the ones
where a hand-written CUDA kernel pays: each family has a reference written against ``self.xp``
in ``backend/reference/<family>.py`` (mixed in here, so every backend has every op) and a kernel
override in ``backend/cuda/<family>.py``; the CPU backend overrides one where a faster host path
pays. Code above axon-core calls these methods and never asks which device it is on: whether an
op runs fused is the backend's decision. Arrays in, arrays out; floats are computed in the
input's precision except float16/bfloat16, which accumulate in float32 and return the input
dtype. Input checks are in :mod:`.checks`, window geometry in :mod:`.geometry`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from .reference import (
    ActivationsReference,
    AttentionReference,
    CrossEntropyReference,
    EmbeddingReference,
    Im2colReference,
    NormsReference,
    OptimReference,
    PoolingReference,
    RnnReference,
    SoftmaxReference,
    StridedCopyReference,
)

if TYPE_CHECKING:
    from ..device import Device

__all__ = ["Backend"]

Array = Any


class Backend(
    SoftmaxReference,
    ActivationsReference,
    NormsReference,
    CrossEntropyReference,
    EmbeddingReference,
    OptimReference,
    StridedCopyReference,
    Im2colReference,
    PoolingReference,
    RnnReference,
    AttentionReference,
    ABC,
):
    """Base class of every backend. Subclasses set ``xp`` and implement moving data."""

    name: str = "abstract"
    xp: Any = np
    #: True when arrays of this backend are NumPy arrays living in host memory.
    host_memory: bool = True
    #: Attention without mask or dropout takes the flash path once its score tensor
    #: (batch·heads·Sq·Sk·itemsize) would reach this many bytes; below, the plain path.
    flash_attention_min_score_bytes: int = 0

    def __init__(self, device: "Device") -> None:
        self.device = device

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.device})"

    def matmul(self, a: Array, b: Array) -> Array:
        """``xp.matmul(a, b)``; the CPU backend splits stacks of small products across threads."""
        return self.xp.matmul(a, b)

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
