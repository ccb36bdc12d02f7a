"""Backends: one protocol, a CPU backend on NumPy and a CUDA backend on CuPy.

Code above axon-core never branches on the device; it asks the device's backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import DeviceUnavailableError
from .protocol import Backend

if TYPE_CHECKING:
    from ..device import Device

__all__ = ["Backend", "backend_for"]


def backend_for(device: "Device") -> Backend:
    """Build the backend of ``device``; raises :class:`DeviceUnavailableError` when it cannot run."""
    if device.type == "cpu":
        from .cpu import CpuBackend

        return CpuBackend(device)
    if device.type == "cuda":
        from .cuda import CudaBackend

        return CudaBackend(device)
    if device.type == "cuda-sim":
        try:
            from .cuda_sim import CudaSimBackend
        except ImportError as exc:
            raise DeviceUnavailableError(f"cuda-sim: the CPU executor is not available ({exc})") from exc
        return CudaSimBackend(device)
    raise DeviceUnavailableError(f"no backend for device {device}")
