"""The CUDA backend: CuPy arrays, cuBLAS for matmul, our NVRTC-compiled kernels for fused ops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DeviceUnavailableError
from .base import Backend

if TYPE_CHECKING:
    from ..device import Device

__all__ = ["CudaBackend"]


def _import_cupy(device: "Device") -> Any:
    try:
        import cupy
    except ImportError as exc:
        raise DeviceUnavailableError(
            f"{device}: CuPy is not installed; install the CUDA extra: pip install 'axon-core[cuda]'"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when no driver or no GPU is present
        raise DeviceUnavailableError(f"{device}: no CUDA GPU is available on this machine ({exc})") from exc
    if device.index is not None and device.index >= count:
        raise DeviceUnavailableError(f"{device}: only {count} CUDA device(s) are present")
    return cupy


class CudaBackend(Backend):
    name = "cuda"
    host_memory = False

    def __init__(self, device: "Device") -> None:
        super().__init__(device)
        cupy = _import_cupy(device)
        self.xp = cupy
        self._cuda_device = cupy.cuda.Device(device.index or 0)
        self._pool = cupy.get_default_memory_pool()
        self._peak = 0

    def from_numpy(self, array: np.ndarray) -> Any:
        with self._cuda_device:
            result = self.xp.asarray(array)
        self._note_peak()
        return result

    def to_numpy(self, array: Any) -> np.ndarray:
        return self.xp.asnumpy(array)

    def synchronize(self) -> None:
        self._cuda_device.synchronize()

    def _note_peak(self) -> None:
        used = self._pool.used_bytes()
        if used > self._peak:
            self._peak = used

    def memory_stats(self) -> dict[str, int]:
        self._note_peak()
        return {
            "in_use": int(self._pool.used_bytes()),
            "cached": int(self._pool.free_bytes()),
            "peak": int(self._peak),
            "limit": int(self._pool.get_limit()),
        }

    def reset_peak_memory_stats(self) -> None:
        self._peak = int(self._pool.used_bytes())

    def set_memory_limit(self, limit_bytes: int | None) -> None:
        self._pool.set_limit(size=limit_bytes or 0)
