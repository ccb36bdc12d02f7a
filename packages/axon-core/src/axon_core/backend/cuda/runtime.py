"""What every CUDA op shares: CuPy and the GPU, memory stats, launching a kernel, launch grids.

The ``cuda-sim`` backend subclasses :class:`~axon_core.backend.cuda.CudaBackend` and replaces only
``launch``, device set-up and data movement, so both run the marshalling code of ``cuda/*.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import DeviceUnavailableError
from ...kernels import REGISTRY, KernelSource, kernel_suffix

if TYPE_CHECKING:
    from ...device import Device

__all__ = ["CudaRuntime", "MAX_GRID", "THREADS"]

THREADS = 256
MAX_GRID = 65535 * 16


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


class _PeakTracker:
    """CuPy's allocator wrapped to record the pool's high-water mark at every allocation, so
    ``peak`` sees temporaries that are freed before anyone asks for the stats."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.peak = 0

    def malloc(self, size: int) -> Any:
        memory = self.pool.malloc(size)
        used = self.pool.used_bytes()
        if used > self.peak:
            self.peak = used
        return memory


_tracker: _PeakTracker | None = None


def _peak_tracker(cupy: Any) -> _PeakTracker:
    """The process's one tracker (CuPy's allocator is process-wide), installed on first use."""
    global _tracker
    if _tracker is None:
        _tracker = _PeakTracker(cupy.get_default_memory_pool())
        cupy.cuda.set_allocator(_tracker.malloc)
    return _tracker


class CudaRuntime:
    """CuPy arrays on one GPU: set-up, data movement, memory stats, ``launch`` and the launch
    configurations and argument marshalling the family mixins share (a mixin of ``CudaBackend``)."""

    name = "cuda"
    host_memory = False

    def __init__(self, device: "Device") -> None:
        super().__init__(device)  # type: ignore[call-arg]  # Backend's, next in the MRO
        cupy = _import_cupy(device)
        self.xp = cupy
        self._cuda_device = cupy.cuda.Device(device.index or 0)
        self._arch = "sm_" + str(self._cuda_device.compute_capability)
        self._tracker = _peak_tracker(cupy)
        self._pool = self._tracker.pool
        self._modules: dict[str, Any] = {}

    def launch(
        self, kernel: KernelSource, name: str, grid: tuple, block: tuple, args: tuple, shared_mem: int = 0
    ) -> None:
        """Run entry point ``name`` of ``kernel`` (compiled for this GPU, disk-cached) on ``grid`` x ``block``."""
        module = self._modules.get(kernel.family)
        if module is None:
            module = self.xp.cuda.function.Module()
            module.load(kernel.compile(self._arch, target="cubin"))
            self._modules[kernel.family] = module
        with self._cuda_device:
            module.get_function(name)(tuple(grid), tuple(block), tuple(args), shared_mem=shared_mem)

    def from_numpy(self, array: np.ndarray) -> Any:
        with self._cuda_device:
            return self.xp.asarray(array)

    def to_numpy(self, array: Any) -> np.ndarray:
        return self.xp.asnumpy(array)

    def synchronize(self) -> None:
        self._cuda_device.synchronize()

    def memory_stats(self) -> dict[str, int]:
        return {
            "in_use": int(self._pool.used_bytes()),
            "cached": int(self._pool.free_bytes()),
            "peak": int(self._tracker.peak),
            "limit": int(self._pool.get_limit()),
        }

    def reset_peak_memory_stats(self) -> None:
        self._tracker.peak = int(self._pool.used_bytes())

    def set_memory_limit(self, limit_bytes: int | None) -> None:
        self._pool.set_limit(size=limit_bytes or 0)

    def _contiguous(self, array: Any, dtype: Any = None) -> Any:
        array = array if dtype is None else array.astype(dtype, copy=False)
        return self.xp.ascontiguousarray(array)

    @staticmethod
    def _elementwise_grid(count: int) -> tuple[tuple[int], tuple[int]]:
        """Grid and block of a grid-stride loop over ``count`` items."""
        return (max(1, min((count + THREADS - 1) // THREADS, MAX_GRID)),), (THREADS,)

    @staticmethod
    def _row_block(width: int) -> tuple[int]:
        """One block per row: a power of two of at least one warp and at most 1024 threads."""
        threads = 32
        while threads < width and threads < 1024:
            threads *= 2
        return (threads,)

    def _elementwise(self, family: str, name: str, inputs: tuple, outputs: int, out_dtype: Any = None) -> tuple:
        """Launch ``name_S`` over equally-shaped ``inputs``; returns ``outputs`` new arrays."""
        first = inputs[0]
        results = tuple(self.xp.empty(first.shape, dtype=out_dtype or first.dtype) for _ in range(outputs))
        if first.size:
            grid, block = self._elementwise_grid(first.size)
            args = tuple(self._contiguous(a, first.dtype) for a in inputs) + results + (np.int64(first.size),)
            self.launch(REGISTRY[family], f"{name}_{kernel_suffix(first.dtype)}", grid, block, args)
        return results
