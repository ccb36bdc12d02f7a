"""The CPU backend: NumPy arrays in host memory."""

from __future__ import annotations

import numpy as np

from .base import Backend

__all__ = ["CpuBackend"]


class CpuBackend(Backend):
    name = "cpu"
    xp = np
    host_memory = True

    def from_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    def to_numpy(self, array: np.ndarray) -> np.ndarray:
        return array
