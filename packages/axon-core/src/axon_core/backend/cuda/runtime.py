"""What every CUDA op shares: CuPy and the GPU, memory stats, launching a kernel, launch grids,
streams, events and asynchronous host/device copies.

The ``cuda-sim`` backend subclasses :class:`~axon_core.backend.cuda.CudaBackend` and replaces only
``launch``, device set-up, data movement and the stream methods, so both run the marshalling
code of ``cuda/*.py``.

Streams are for code that overlaps copies with compute (the quantized runtime streams each
layer's weights while the previous layer computes): ``stream()`` makes a non-blocking stream,
``event()`` an event, ``launch(..., stream=s)`` queues a kernel on ``s``,
``copy_to_device_async(dst, src, s)`` queues a host-to-device copy (asynchronous from pinned
memory, made by ``pinned_empty`` and filled by ``write_pinned``), ``copy_to_host`` copies back
and waits. The objects are CuPy's own (``cupy.cuda.Stream``, ``cupy.cuda.Event``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import DeviceError, DeviceUnavailableError, ShapeError
from ...kernels import REGISTRY, KernelSource, kernel_suffix
from ...observe import OBSERVERS, report_kernel

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


def _copy_bytes(op: str, dst: Any, src: Any) -> int:
    """The byte count of a copy between two C-contiguous arrays of equal size (ShapeError if not)."""
    for role, array in (("dst", dst), ("src", src)):
        if not array.flags.c_contiguous:
            raise ShapeError(f"{op}: {role} {list(array.shape)} {array.dtype} is not C-contiguous")
    if dst.nbytes != src.nbytes:
        raise ShapeError(
            f"{op}: dst {list(dst.shape)} {dst.dtype} holds {dst.nbytes} bytes, src {list(src.shape)} "
            f"{src.dtype} {src.nbytes}"
        )
    return int(src.nbytes)


def _byte_view(op: str, role: str, array: np.ndarray, expected: int | None = None) -> np.ndarray:
    """``array`` as flat uint8 (ShapeError unless it is a C-contiguous host array of ``expected`` bytes)."""
    if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
        raise ShapeError(f"{op}: {role} must be a C-contiguous host array, got {type(array).__name__}")
    if expected is not None and array.nbytes != expected:
        raise ShapeError(f"{op}: src holds {array.nbytes} bytes, dst {expected}")
    return array.reshape(-1).view(np.uint8)


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
        self,
        kernel: KernelSource,
        name: str,
        grid: tuple,
        block: tuple,
        args: tuple,
        shared_mem: int = 0,
        stream: Any = None,
    ) -> None:
        """Run entry point ``name`` of ``kernel`` (compiled for this GPU, disk-cached) on ``grid`` x
        ``block``, queued on ``stream`` (a :meth:`stream`; None: CuPy's current stream)."""
        module = self._modules.get(kernel.family)
        if module is None:
            module = self.xp.cuda.function.Module()
            module.load(kernel.compile(self._arch, target="cubin"))
            self._modules[kernel.family] = module
        if OBSERVERS:
            self._observed_launch(module, name, grid, block, args, shared_mem, stream)
            return
        with self._cuda_device:
            module.get_function(name)(tuple(grid), tuple(block), tuple(args), shared_mem=shared_mem, stream=stream)

    def _observed_launch(
        self, module: Any, name: str, grid: tuple, block: tuple, args: tuple, shared_mem: int, stream: Any
    ) -> None:
        """The launch between two timing events on its stream, reported to the observers."""
        with self._cuda_device:
            before, after = self.event(timing=True), self.event(timing=True)
            before.record(stream)
            start = time.perf_counter_ns()
            module.get_function(name)(tuple(grid), tuple(block), tuple(args), shared_mem=shared_mem, stream=stream)
            end = time.perf_counter_ns()
            after.record(stream)

        def device_ms() -> float:
            after.synchronize()
            return self.elapsed_ms(before, after)

        report_kernel(str(self.device), name, tuple(grid), tuple(block), start, end, device_ms)

    # -- streams, events, asynchronous copies ----------------------------------------------------
    def stream(self, name: str = "") -> Any:
        """A new stream with no implicit ordering with the null stream (``non_blocking=True``).
        ``name`` labels it in cuda-sim's race reports; CUDA streams have none."""
        with self._cuda_device:
            return self.xp.cuda.Stream(non_blocking=True)

    def event(self, timing: bool = False) -> Any:
        """A new event; ``timing`` lets :meth:`elapsed_ms` measure between two of them."""
        with self._cuda_device:
            return self.xp.cuda.Event(disable_timing=not timing)

    def elapsed_ms(self, start: Any, end: Any) -> float:
        """Milliseconds of device time between two recorded, completed timing events."""
        return float(self.xp.cuda.get_elapsed_time(start, end))

    def empty(self, shape: Any, dtype: Any) -> Any:
        """An uninitialised device array (from the memory pool)."""
        with self._cuda_device:
            return self.xp.empty(shape, dtype=dtype)

    def pinned_empty(self, shape: Any, dtype: Any) -> np.ndarray:
        """An uninitialised NumPy array in page-locked host memory: the source an asynchronous
        host-to-device copy needs to run while the host goes on."""
        import cupyx

        return cupyx.empty_pinned(shape, dtype=dtype)

    def write_pinned(self, dst: np.ndarray, src: np.ndarray) -> None:
        """Copy the bytes of host array ``src`` into the pinned buffer ``dst``, from the host thread.
        A copy still reading ``dst`` must have been waited for (its event synchronised)."""
        target = _byte_view("write_pinned", "dst", dst)
        np.copyto(target, _byte_view("write_pinned", "src", src, target.size))

    def copy_to_device_async(self, dst: Any, src: np.ndarray, stream: Any) -> None:
        """Queue a copy of host array ``src``'s bytes into device array ``dst`` on ``stream``. From
        pinned memory it returns at once and the copy runs in stream order (``src`` must not be
        written until it is done); from pageable memory CUDA stages ``src`` before returning."""
        if not isinstance(dst, self.xp.ndarray) or not isinstance(src, np.ndarray):
            raise DeviceError(
                f"copy_to_device_async: dst must be a device array and src a host array, "
                f"got {type(dst).__name__} and {type(src).__name__}"
            )
        nbytes = _copy_bytes("copy_to_device_async", dst, src)
        if nbytes:
            runtime = self.xp.cuda.runtime
            with self._cuda_device:
                runtime.memcpyAsync(dst.data.ptr, src.ctypes.data, nbytes, runtime.memcpyHostToDevice, stream.ptr)

    def copy_to_host(self, dst: np.ndarray, src: Any, stream: Any) -> None:
        """Copy device array ``src``'s bytes into host array ``dst`` after the work queued on
        ``stream``, and wait until they are there."""
        if not isinstance(dst, np.ndarray) or not isinstance(src, self.xp.ndarray):
            raise DeviceError(
                f"copy_to_host: dst must be a host array and src a device array, "
                f"got {type(dst).__name__} and {type(src).__name__}"
            )
        nbytes = _copy_bytes("copy_to_host", dst, src)
        if nbytes:
            runtime = self.xp.cuda.runtime
            with self._cuda_device:
                runtime.memcpyAsync(dst.ctypes.data, src.data.ptr, nbytes, runtime.memcpyDeviceToHost, stream.ptr)
        stream.synchronize()

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
