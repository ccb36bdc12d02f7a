"""Fused dequantize-matmul kernels: ``quant_matmul(x, w)`` is ``x @ dequantize(w).T`` computed
from the block bytes, threaded across output rows (Numba, imported at the first call)."""

from __future__ import annotations

from .matmul import KERNEL_FORMATS, THREADS_ENV, default_threads, quant_matmul

__all__ = ["KERNEL_FORMATS", "THREADS_ENV", "default_threads", "quant_matmul"]
