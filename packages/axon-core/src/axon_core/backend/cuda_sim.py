"""The cuda-sim backend: the CUDA backend's own code with the GPU replaced by the CPU.

Everything CudaBackend does above the launch (validation, launch configurations, argument
marshalling, contiguity, workspace sizing) runs unchanged; NumPy arrays stand in for CuPy arrays
and :mod:`axon_core.sim` runs the same CUDA C source, compiled by g++, in place of NVRTC. Data
moved to and from the device is copied into and out of a simulated device memory pool, as it
would be over PCIe, so aliasing bugs show up here too. Needs only NumPy and g++ (no CuPy, no GPU).

Streams and events are :class:`~axon_core.sim.SimStream` / :class:`~axon_core.sim.SimEvent`.
Every launch and copy runs when it is issued, and is first checked by the device's
:attr:`CudaSimBackend.stream_order` against CUDA's ordering rules: an access to device memory or
a pinned buffer that another stream (or the host) last touched, with no event or
synchronisation between, raises :class:`~axon_core.sim.SimRaceError` (see :mod:`axon_core.sim.streams`).
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import sim
from ..errors import DeviceError, DeviceUnavailableError
from ..observe import OBSERVERS, report_kernel
from ..sim.pool import SimMemoryPool
from ..sim.rewrite import pointer_access
from ..sim.streams import HOST, NULL_STREAM, SimEvent, SimStream, StreamOrder
from .cuda import CudaBackend
from .cuda.runtime import _byte_view, _copy_bytes
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
        #: The happens-before checker of this device's streams (see :mod:`axon_core.sim.streams`).
        self.stream_order = StreamOrder()
        self._sim_pool = SimMemoryPool(str(device), self.stream_order)
        self._access: dict[str, dict[str, tuple[str | None, ...]]] = {}

    def launch(
        self,
        kernel: "KernelSource",
        name: str,
        grid: tuple,
        block: tuple,
        args: tuple,
        shared_mem: int = 0,
        stream: SimStream | None = None,
    ) -> None:
        """Run entry point ``name`` of ``kernel`` on the CPU executor, as issued to ``stream`` (None:
        the null stream); raises :class:`sim.SimError` on a kernel bug, :class:`sim.SimRaceError`
        when an argument's memory is not ordered after another stream's access to it."""
        access = self._access.get(kernel.family)
        if access is None:
            access = self._access[kernel.family] = pointer_access(kernel.source)
        kinds = access.get(name, ())
        self.stream_order.issue(
            self._agent(stream),
            f"kernel {name}",
            reads=[a for a, kind in zip(args, kinds) if kind == "r"],
            writes=[a for a, kind in zip(args, kinds) if kind == "w"],
        )
        module = sim.module(kernel.source, kernel.options, name=kernel.family)
        if not OBSERVERS:
            module.get_function(name)(tuple(grid), tuple(block), tuple(args), shared_mem)
            return
        # The executor runs the launch to completion before returning: its clock is the host's.
        start = time.perf_counter_ns()
        module.get_function(name)(tuple(grid), tuple(block), tuple(args), shared_mem)
        end = time.perf_counter_ns()
        report_kernel(str(self.device), name, tuple(grid), tuple(block), start, end, lambda: (end - start) / 1e6)

    def from_numpy(self, array: np.ndarray) -> np.ndarray:
        host = np.asarray(array)
        result = self._sim_pool.empty(host.shape, host.dtype)
        # cupy.asarray's copy lands in null-stream order: other streams must wait for it.
        self.stream_order.issue(NULL_STREAM, "from_numpy (host to device)", writes=[result])
        np.copyto(result, host, casting="no")
        return result

    def to_numpy(self, array: Any) -> np.ndarray:
        self.stream_order.issue(NULL_STREAM, "to_numpy (device to host)", reads=[array])
        self.stream_order.host_wait(self.stream_order.stream_clock(NULL_STREAM))
        return np.array(array, copy=True)

    def synchronize(self) -> None:
        """Launches run to completion before they return; the host is now ordered after every stream."""
        self.stream_order.synchronize_all()

    # -- streams, events, asynchronous copies (CudaRuntime's, checked) ---------------------------
    def _agent(self, stream: SimStream | None) -> int:
        if stream is None:
            return NULL_STREAM
        if not isinstance(stream, SimStream) or stream.order is not self.stream_order:
            raise DeviceError(f"{self.device}: {stream!r} is not a stream of this device")
        return stream.agent

    def stream(self, name: str = "") -> SimStream:
        return SimStream(self.stream_order, name)

    def event(self, timing: bool = False) -> SimEvent:
        return SimEvent(self.stream_order, timing=timing)

    def elapsed_ms(self, start: SimEvent, end: SimEvent) -> float:
        """Host milliseconds between the two records (operations run when issued, so this is how
        long the work issued between them took on the CPU)."""
        for event in (start, end):
            if not event.timing or event.time is None:
                raise DeviceError(f"elapsed_ms: {event!r} is not a recorded timing event (event(timing=True))")
        return (end.time - start.time) * 1e3

    def empty(self, shape: Any, dtype: Any) -> np.ndarray:
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
        return self._sim_pool.empty(shape, np.dtype(dtype))

    def pinned_empty(self, shape: Any, dtype: Any) -> np.ndarray:
        return self.stream_order.pinned_empty(shape, dtype)

    def write_pinned(self, dst: np.ndarray, src: np.ndarray) -> None:
        target = _byte_view("write_pinned", "dst", dst)
        source = _byte_view("write_pinned", "src", src, target.size)
        if not self.stream_order.is_pinned(dst):
            raise DeviceError("write_pinned: dst is not a pinned buffer (pinned_empty)")
        self.stream_order.issue(HOST, "host write to a pinned buffer", writes=[dst])
        np.copyto(target, source)

    def _device_array(self, op: str, array: Any) -> None:
        start = self.stream_order.allocation(array)
        if start is None or self.stream_order.is_pinned(array):
            shape = list(getattr(array, "shape", ()))
            raise DeviceError(f"{op}: {type(array).__name__} {shape} is not {self.device} memory")

    def copy_to_device_async(self, dst: np.ndarray, src: np.ndarray, stream: SimStream) -> None:
        self._device_array("copy_to_device_async: dst", dst)
        nbytes = _copy_bytes("copy_to_device_async", dst, src)
        pinned = self.stream_order.is_pinned(src)
        # From pageable memory CUDA has staged the bytes when the call returns: only a pinned
        # source is read later, in stream order.
        self.stream_order.issue(self._agent(stream), "copy host to device", reads=[src] if pinned else [], writes=[dst])
        if nbytes:
            np.copyto(dst.reshape(-1).view(np.uint8), src.reshape(-1).view(np.uint8))

    def copy_to_host(self, dst: np.ndarray, src: np.ndarray, stream: SimStream) -> None:
        self._device_array("copy_to_host: src", src)
        nbytes = _copy_bytes("copy_to_host", dst, src)
        agent = self._agent(stream)
        pinned = self.stream_order.is_pinned(dst)
        self.stream_order.issue(agent, "copy device to host", reads=[src], writes=[dst] if pinned else [])
        if nbytes:
            np.copyto(dst.reshape(-1).view(np.uint8), src.reshape(-1).view(np.uint8))
        self.stream_order.host_wait(self.stream_order.stream_clock(agent))

    def memory_stats(self) -> dict[str, int]:
        return self._sim_pool.stats()

    def reset_peak_memory_stats(self) -> None:
        self._sim_pool.reset_peak()

    def set_memory_limit(self, limit_bytes: int | None) -> None:
        self._sim_pool.set_limit(limit_bytes)
