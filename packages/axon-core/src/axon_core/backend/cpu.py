"""The CPU backend: NumPy arrays in host memory."""

from __future__ import annotations

import numpy as np

from .base import Array, Backend
from .host_matmul import matmul

__all__ = ["CpuBackend"]


class CpuBackend(Backend):
    name = "cpu"
    xp = np
    host_memory = True
    # Below 64 MiB of scores, batched BLAS products over the whole score tensor beat the
    # blockwise flash loop (tools/bench/bench_attention.py); above, linear memory matters more.
    flash_attention_min_score_bytes = 64 * 2**20

    def matmul(self, a: Array, b: Array) -> Array:
        return matmul(a, b)

    def from_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    def to_numpy(self, array: np.ndarray) -> np.ndarray:
        return array
