"""Fused dequantize-matmul kernels: ``quant_matmul(x, w)`` is ``x @ dequantize(w).T`` computed
from the block bytes, threaded across output rows (Numba, imported at the first call); on a GPU
backend (``device=``) axon-core's ``quant_matmul`` CUDA kernels run it."""

from __future__ import annotations

from .device import DEVICE_FORMATS, device_quant_matmul, to_device
from .matmul import KERNEL_FORMATS, THREADS_ENV, default_threads, quant_matmul
from .plan import MatmulPlan

__all__ = [
    "DEVICE_FORMATS",
    "KERNEL_FORMATS",
    "MatmulPlan",
    "THREADS_ENV",
    "default_threads",
    "device_quant_matmul",
    "quant_matmul",
    "to_device",
]
