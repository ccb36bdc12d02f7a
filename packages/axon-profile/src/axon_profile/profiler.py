"""``profile()``: record every tensor op, autograd backward node and kernel launch in a block.

Used like ``torch.profiler.profile``::

    with axon_profile.profile(record_shapes=True, profile_memory=True) as prof:
        loss = model(x).sum()
        loss.backward()
    print(prof.key_averages().table(sort_by="cpu_time_total"))
    prof.export_chrome_trace("trace.json")

The profile is an observer of :mod:`axon_core.observe`: while it runs, ops go through observed
wrappers; before and after, they are the unprofiled functions themselves. Profiles nest (each
sees every event); ops on every thread are recorded, each thread with its own call stack.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from typing import Any

from axon_core.observe import add_observer, remove_observer
from axon_tensor import Tensor

from .averages import EventList, key_averages
from .chrome_trace import export_chrome_trace
from .events import KernelEvent, MemoryEvent, OpEvent
from .memory import MemoryTimeline

__all__ = ["profile"]

_perf_ns = time.perf_counter_ns
_cpu_ns = time.thread_time_ns


def _is_axon_frame(frame: Any) -> bool:
    module = frame.f_globals.get("__name__", "")
    return module == "axon" or module.startswith(("axon_", "axon.")) or module == __name__


def _call_site() -> str:
    """``file:line in function`` of the nearest caller outside the axon packages."""
    frame = sys._getframe(2)
    while frame is not None and _is_axon_frame(frame):
        frame = frame.f_back
    if frame is None:
        return ""
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _flat(values: Any) -> list:
    out = []
    for v in values:
        if isinstance(v, (tuple, list)) and any(hasattr(x, "shape") for x in v):
            out.extend(v)
        else:
            out.append(v)
    return out


def _tensors(values: Any) -> list[Tensor]:
    """The Tensors in ``values`` (a value, or a tuple/list of them); a Variable stands for its ``.data``."""
    items = values if isinstance(values, (tuple, list)) else (values,)
    found = []
    for item in items:
        if item.__class__ is not Tensor:
            item = getattr(item, "data", None)
        if item.__class__ is Tensor:
            found.append(item)
    return found


class profile:  # noqa: N801 (torch.profiler.profile's name)
    """A profiler; enter it as a context manager (or call :meth:`start` / :meth:`stop`).

    ``record_shapes``: keep each op's input shapes and dtypes. ``profile_memory``: track the
    storage tensors allocate and free (on the CPU this is the storage of the tensors ops return,
    not NumPy's internal temporaries). ``with_stack``: keep each op's Python call site.
    """

    def __init__(self, *, record_shapes: bool = False, profile_memory: bool = False, with_stack: bool = True) -> None:
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.events: list[OpEvent] = []
        self.kernels: list[KernelEvent] = []
        self.memory_events: list[MemoryEvent] = []
        self._pending_device: list[tuple[KernelEvent, Any]] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._live_bytes = 0
        # Tensors seen so far, by id (a weak reference tells a live one from a reused id): inputs
        # that existed before (never counted) and storage the profile saw allocated.
        self._known: dict[int, weakref.ref] = {}
        self._running = False
        self._stopped = False
        self.start_ns = 0
        self.end_ns = 0

    # -- lifetime ------------------------------------------------------------------------------
    def start(self) -> "profile":
        if self._running or self._stopped:
            raise RuntimeError("profile: a profile records once; create a new one to profile again")
        self._running = True
        self.start_ns = _perf_ns()
        add_observer(self)
        return self

    def stop(self) -> None:
        if not self._running:
            raise RuntimeError("profile.stop(): the profile is not running")
        remove_observer(self)
        self.end_ns = _perf_ns()
        self._running = False
        self._stopped = True
        for kernel, device_ms in self._pending_device:
            kernel.device_ns = int(round(device_ms() * 1e6))
        self._pending_device.clear()

    def __enter__(self) -> "profile":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the observer protocol (axon_core.observe) ----------------------------------------------
    def _stack(self) -> list:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def enter(self, kind: str, name: str, fn: Any, args: tuple, kwargs: dict) -> Any:
        stack = self._stack()
        parent = stack[-1] if stack else None
        event = OpEvent(
            index=len(self.events),
            kind=kind,
            name=name,
            thread=threading.get_ident(),
            depth=len(stack),
            parent=parent,
            start_ns=0,
        )
        inputs = _flat(args)
        for value in inputs:
            device = getattr(value, "device", None)
            if device is not None and hasattr(value, "shape"):
                event.device = str(device)
                break
        if self.record_shapes:
            event.input_shapes = [list(v.shape) if hasattr(v, "shape") else [] for v in inputs]
            event.input_dtypes = [getattr(v.dtype, "name", str(v.dtype)) if hasattr(v, "dtype") else "" for v in inputs]
        if self.with_stack:
            event.call_site = _call_site()
        if self.profile_memory:
            for tensor in _tensors(inputs):
                self._know(tensor)
        with self._lock:
            event.index = len(self.events)
            self.events.append(event)
        if parent is not None:
            parent.children.append(event)
        stack.append(event)
        event.cpu_ns = _cpu_ns()
        event.start_ns = _perf_ns()
        return event

    def exit(self, event: OpEvent, result: Any) -> None:
        end = _perf_ns()
        event.cpu_ns = _cpu_ns() - event.cpu_ns
        event.end_ns = end
        if self.profile_memory and result is not None:
            for tensor in _tensors(result):
                if tensor.base is not None or self._is_known(tensor):
                    continue  # a view, an input, or storage an inner op returned first
                nbytes = tensor.nbytes
                self._known[id(tensor)] = weakref.ref(tensor, self._freed_callback(id(tensor), nbytes))
                event.self_bytes_allocated += nbytes
                self._memory(end, nbytes, event)
        stack = self._stack()
        if stack and stack[-1] is event:
            stack.pop()

    def kernel(
        self, device: str, name: str, grid: tuple, block: tuple, start_ns: int, end_ns: int, device_ms: Any
    ) -> None:
        stack = self._stack()
        parent = stack[-1] if stack else None
        event = KernelEvent(name, device, grid, block, threading.get_ident(), start_ns, end_ns, parent)
        with self._lock:
            self.kernels.append(event)
            self._pending_device.append((event, device_ms))
        if parent is not None:
            parent.kernels.append(event)

    # -- memory --------------------------------------------------------------------------------
    def _memory(self, time_ns: int, nbytes: int, op: OpEvent | None) -> None:
        with self._lock:
            self._live_bytes += nbytes
            self.memory_events.append(MemoryEvent(time_ns, nbytes, self._live_bytes, op))

    def _is_known(self, tensor: Tensor) -> bool:
        ref = self._known.get(id(tensor))
        return ref is not None and ref() is tensor

    def _know(self, tensor: Tensor) -> None:
        if not self._is_known(tensor):
            self._known[id(tensor)] = weakref.ref(tensor)

    def _freed_callback(self, key: int, nbytes: int) -> Any:
        def freed(ref: weakref.ref) -> None:
            if self._known.get(key) is ref:
                del self._known[key]
            if not self._running:
                return
            stack = getattr(self._local, "stack", None)
            op = stack[-1] if stack else None
            if op is not None:
                op.self_bytes_freed += nbytes
            self._memory(_perf_ns(), -nbytes, op)

        return freed

    # -- results -------------------------------------------------------------------------------
    def _finished(self, what: str) -> None:
        if not self._stopped:
            raise RuntimeError(f"profile.{what}(): the profile is still running; read it after the with block")

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """Per-name statistics of the recorded ops, like ``torch.profiler``'s ``key_averages``."""
        self._finished("key_averages")
        return key_averages(self.events, group_by_input_shape, self.profile_memory)

    def export_chrome_trace(self, path: str | os.PathLike[str]) -> None:
        """Write a Trace Event Format JSON file (chrome://tracing, Perfetto), atomically."""
        self._finished("export_chrome_trace")
        export_chrome_trace(self, path)

    def memory_timeline(self) -> MemoryTimeline:
        """Live tracked storage over time, its peak, and each op's high-water mark."""
        self._finished("memory_timeline")
        if not self.profile_memory:
            raise RuntimeError("profile.memory_timeline(): this profile ran with profile_memory=False")
        return MemoryTimeline(self.memory_events, self.events, self.start_ns)
