"""The cuda-sim backend: the CUDA backend's own code with the GPU replaced by the CPU.

Everything CudaBackend does above the launch (validation, launch configurations, argument
marshalling, contiguity, workspace sizing) runs unchanged; NumPy arrays stand in for CuPy arrays
and :mod:`axon_core.sim` runs the same CUDA C source, compiled by g++, in place of NVRTC. Data
moved to and from the device is copied into and out of a simulated device memory pool, as it
would be over PCIe, so aliasing bugs show up here too. Needs only NumPy and g++ (no CuPy, no GPU).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import sim
from ..errors import DeviceUnavailableError
from ..sim.pool import SimMemoryPool
from .cuda import CudaBackend
from .protocol import Backend

if TYPE_CHECKING:
    from ..device import Device
    from ..kernels import KernelSource

__all__ = ["CudaSimBackend"]


class CudaSimBackend(CudaBackend):
    name = "cuda-sim"
    xp = np
    host_memory = True

    def __init__(self, device: "Device") -> None:
        # CudaBackend.__init__ imports CuPy and looks for a GPU; cuda-sim needs neither.
        Backend.__init__(self, device)
        compiler = sim.launch_options()["compiler"]
        if shutil.which(compiler) is None:
            raise DeviceUnavailableError(f"{device}: the C++ compiler {compiler!r} is not installed (apt install g++)")
        self.xp = np
        self._sim_pool = SimMemoryPool(str(device))

    def launch(
        self, kernel: "KernelSource", name: str, grid: tuple, block: tuple, args: tuple, shared_mem: int = 0
    ) -> None:
        """Run entry point ``name`` of ``kernel`` on the CPU executor; raises :class:`sim.SimError` on a kernel bug."""
        module = sim.module(kernel.source, kernel.options, name=kernel.family)
        module.get_function(name)(tuple(grid), tuple(block), tuple(args), shared_mem)

    def from_numpy(self, array: np.ndarray) -> np.ndarray:
        host = np.asarray(array)
        result = self._sim_pool.empty(host.shape, host.dtype)
        np.copyto(result, host, casting="no")
        return result

    def to_numpy(self, array: Any) -> np.ndarray:
        return np.array(array, copy=True)

    def synchronize(self) -> None:
        """Launches run to completion before they return: nothing is queued."""

    def memory_stats(self) -> dict[str, int]:
        return self._sim_pool.stats()

    def reset_peak_memory_stats(self) -> None:
        self._sim_pool.reset_peak()

    def set_memory_limit(self, limit_bytes: int | None) -> None:
        self._sim_pool.set_limit(limit_bytes)
